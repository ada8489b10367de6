import MicroHTTPServer
import NIOCore

/// A lean HTTP/1.1 client for one plain-http upstream that does its socket work on the server's own loop thread
/// (`ServerLoop`): a proxied request is read, forwarded and answered without changing threads, as nginx
/// does it (issue 7). Pooled keep-alive connections per loop, connect and idle timeouts, one retry on a fresh
/// connection when a reused one turned out closed (not for POST, PATCH and LOCK, like nginx, nor once body bytes went).
///
/// Request bodies stream as the client sends them (`LinkExchange.sendBody`), with backpressure both ways.
///
/// What it does not do, and what AsyncHTTPClient does for labgate instead: TLS, redirects, bodies kept for a replay.
public final class LinkClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: Duration = .seconds(5)
        /// The longest silence allowed while waiting for the upstream's bytes; also how long an idle pooled
        /// connection is kept.
        public var idleTimeout: Duration = .seconds(60)
        /// Idle keep-alive connections kept per loop; more are closed when they finish.
        public var maxIdleConnections = 256
        public init() {}
    }

    let address: LinkAddress
    let configuration: Configuration
    /// This client's pools are attached to the loops under this key (`ServerLoop.attachment(for:)`).
    private let poolKey = ServerLoop.makeAttachmentKey()

    /// Resolves the upstream now (the loop thread never waits on DNS); nil when `host` does not resolve.
    public init?(host: String, port: Int, configuration: Configuration = .init()) {
        guard let address = LinkAddress(host: host, port: port) else { return nil }
        self.address = address
        self.configuration = configuration
    }

    /// Sends `exchange`'s request on its loop, which must be the calling thread's; the answer goes to the exchange's
    /// `link…` methods, on the loop thread (a failure to connect may be reported before this returns).
    public func start(_ exchange: LinkExchange) {
        pool(on: exchange.loop).start(exchange)
    }

    /// Counts on `loop`'s pool, for tests; read them on the loop thread.
    public func connectionCounts(on loop: ServerLoop) -> (idle: Int, busy: Int) {
        let pool = loop.attachment(for: poolKey).map { unsafeDowncast($0, to: LinkPool.self) }
        return (pool?.idleCount ?? 0, pool?.busyCount ?? 0)
    }

    /// The pool of `loop`, made on first use. Attached to the loop rather than kept in a locked dictionary, which
    /// cost a lock and a hash on every request; and with nothing referring back to this client weakly, whose side
    /// table made every retain of the client take the slow path (issue 7).
    private func pool(on loop: ServerLoop) -> LinkPool {
        if let pool = loop.attachment(for: poolKey) { return unsafeDowncast(pool, to: LinkPool.self) }
        let pool = LinkPool(loop: loop, address: address, configuration: configuration)
        loop.attach(pool, for: poolKey)
        loop.addTicker { pool.tick(.now) }
        loop.whenEnded { pool.closeAll() }
        return pool
    }
}
