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
    /// Requests begun on this loop (`IdleTrim`).
    let requests = Atomic(0)
    /// How often a connection was suspended (`HTTPServer.suspensionCount`).
    let suspensions = Atomic(0)
    /// The loop thread that runs MHD, open to other descriptors.
    let loop = ServerLoop()

    init(responder: any HTTPResponder, configuration: HTTPServer.Configuration, logger: Logger) {
        self.responder = responder
        self.configuration = configuration
        self.logger = logger
    }
}

extension ServerContext {
    /// Makes the loop call MHD_run soon (it does anyway when this runs on the loop thread).
    func wakeLoop() {
        loop.wake()
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
