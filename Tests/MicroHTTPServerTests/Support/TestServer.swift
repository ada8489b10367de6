import Foundation
import Logging
import MicroHTTPServer
import Synchronization

/// A shared count for handlers to report through; a class so that `#expect` can read it.
final class Counter: Sendable {
    private let atomic = Atomic(0)
    func add(_ n: Int) { atomic.add(n, ordering: .relaxed) }
    func store(_ n: Int) { atomic.store(n, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}

/// A shared flag for handlers to report through.
final class Flag: Sendable {
    private let atomic = Atomic(false)
    func set() { atomic.store(true, ordering: .relaxed) }
    var value: Bool { atomic.load(ordering: .relaxed) }
}
