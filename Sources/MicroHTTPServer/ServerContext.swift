import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What every callback needs, reached through the `cls` pointer MHD hands back. Immutable apart from atomics and
/// the registry's mutex.
final class ServerContext: Sendable {
    let responder: any HTTPResponder
    let configuration: HTTPServer.Configuration
    let logger: Logger
    let registry = ExchangeRegistry()
    /// Set when shutdown begins: responses then carry `Connection: close`.
    let stopping = Atomic(false)
    /// Set when the drain time is over: requests that still arrive are refused with 503.
    let closed = Atomic(false)
    /// The event loop's eventfd (-1 until it runs): writing to it makes the loop call MHD_run.
    let wakeup = Atomic<Int32>(-1)

    init(responder: any HTTPResponder, configuration: HTTPServer.Configuration, logger: Logger) {
        self.responder = responder
        self.configuration = configuration
        self.logger = logger
    }
}

extension ServerContext {
    func wakeLoop() {
        let fd = wakeup.load(ordering: .relaxed)
        guard fd >= 0 else { return }
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }
}

/// The exchanges whose handler has started and that MHD has not completed yet.
final class ExchangeRegistry: Sendable {
    private let exchanges = Mutex([ObjectIdentifier: Exchange]())

    func insert(_ exchange: Exchange) {
        exchanges.withLock { $0[ObjectIdentifier(exchange)] = exchange }
    }

    func remove(_ exchange: Exchange) {
        _ = exchanges.withLock { $0.removeValue(forKey: ObjectIdentifier(exchange)) }
    }

    var count: Int { exchanges.withLock { $0.count } }

    var all: [Exchange] { exchanges.withLock { Array($0.values) } }
}
