import MicroHTTPServer

/// An upstream's connections on one server loop: busy ones and a stack of idle keep-alive ones (the most recently
/// used first, so that a few stay warm and the rest age out). Loop thread only.
///
/// `@unchecked Sendable` holds because it is touched on the loop thread only.
final class LinkPool: @unchecked Sendable {
    let loop: ServerLoop
    let address: LinkAddress
    let configuration: LinkClient.Configuration
    private var idle: [LinkConnection] = []
    private var busy: [ObjectIdentifier: LinkConnection] = [:]

    init(loop: ServerLoop, address: LinkAddress, configuration: LinkClient.Configuration) {
        self.loop = loop
        self.address = address
        self.configuration = configuration
    }

    /// Sends `exchange` on an idle connection, or on a new one; tells its handler when no connection can be made.
    func start(_ exchange: LinkExchange) {
        while let connection = idle.popLast() {
            guard connection.phase == .idle else { continue }
            busy[ObjectIdentifier(connection)] = connection
            connection.start(exchange)
            return
        }
        if !restart(exchange) {
            exchange.isOver = true
            exchange.handler.linkFailed(LinkError(.unreachable, "The upstream could not be reached."))
        }
    }

    /// Sends `exchange` on a new connection; false when none could be opened.
    func restart(_ exchange: LinkExchange) -> Bool {
        guard let connection = LinkConnection.open(to: address, pool: self) else { return false }
        busy[ObjectIdentifier(connection)] = connection
        connection.start(exchange)
        return true
    }

    /// The connection finished an exchange and may carry another.
    func release(_ connection: LinkConnection) {
        busy[ObjectIdentifier(connection)] = nil
        if idle.count < configuration.maxIdleConnections {
            idle.append(connection)
        } else {
            connection.shut()
        }
    }

    /// The connection is closing: forget it.
    func discard(_ connection: LinkConnection) {
        if busy.removeValue(forKey: ObjectIdentifier(connection)) == nil,
            let index = idle.firstIndex(where: { $0 === connection })
        {
            idle.remove(at: index)
        }
    }

    /// Fails connections that made no progress in time and closes those idle for longer than the idle timeout.
    func tick(_ now: ContinuousClock.Instant) {
        for connection in Array(busy.values) { connection.checkDeadline(now) }
        let stale = idle.prefix { now - $0.idleSince >= configuration.idleTimeout }
        guard !stale.isEmpty else { return }
        for connection in stale { connection.shut() }
        idle.removeFirst(stale.count)
    }

    /// The loop ended: close everything.
    func closeAll() {
        for connection in Array(busy.values) + idle { connection.shut() }
        busy.removeAll()
        idle.removeAll()
    }

    var idleCount: Int { idle.count }
    var busyCount: Int { busy.count }
}
