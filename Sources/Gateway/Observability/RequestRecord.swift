import MicroHTTPServer
import Synchronization

/// What the access log and the request metrics need to know about one exchange.
public struct RequestRecord: Sendable {
    public var requestID: String
    public var route: String
    public var method: String
    /// The request target as received; only its path is ever logged.
    public var target: String
    public var status: Int
    public var peer: PeerAddress?
    /// Who made the request, when client keys are on.
    public var client: String?
    public var started: ContinuousClock.Instant
    public var upstreamDuration: Duration?
}

extension RequestRecord {
    /// The path without the query string (queries may carry anything). Cut only when a log line is written: a new
    /// String per request for a log that is off showed in callgrind (issue 7).
    public var path: Substring {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target[...] }
        return target[..<mark]
    }
}

/// Counts a streamed body's bytes as they pass.
final class ByteCounter: Sendable {
    private let count = Atomic(0)
    func add(_ n: Int) { count.add(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
