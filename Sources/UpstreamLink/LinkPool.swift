import MicroHTTPServer
import NIOCore

/// An upstream's connections on one server loop: busy ones and a stack of idle keep-alive ones (the most recently
/// used first, so that a few stay warm and the rest age out). Loop thread only.
///
/// `@unchecked Sendable` holds because it is touched on the loop thread only.
final class LinkPool: @unchecked Sendable {
    let loop: ServerLoop
    let address: LinkAddress
    let configuration: LinkClient.Configuration
    private var idle: [LinkConnection] = []
    /// Each knows its place here (`LinkConnection.busySlot`): a dictionary hashed the connection in and out on every
    /// request (issue 7).
    private var busy: [LinkConnection] = []

    init(loop: ServerLoop, address: LinkAddress, configuration: LinkClient.Configuration) {
        self.loop = loop
        self.address = address
        self.configuration = configuration
    }

    /// Sends `exchange` on an idle connection, or on a new one; tells it (`linkFailed`) when its head cannot be
    /// written or no connection can be made.
    func start(_ exchange: LinkExchange) {
        while let connection = idle.popLast() {
            guard connection.phase == .idle else { continue }
            guard connection.start(exchange) else {
                idle.append(connection)  // nothing was sent on it
                refuse(exchange)
                return
            }
            markBusy(connection)
            return
        }
        if !restart(exchange) {
            exchange.isOver = true
            exchange.linkFailed(LinkError(.unreachable, "The upstream could not be reached."))
        }
    }

    /// Sends `exchange` on a new connection; false when none could be opened. Its head is written first, so that a
    /// request that cannot be sent opens no connection: it is refused (`linkFailed`), and that returns true too.
    func restart(_ exchange: LinkExchange) -> Bool {
        var head = ByteBuffer()
        guard let body = exchange.writeHead(into: &head) else {
            refuse(exchange)
            return true
        }
        guard let connection = LinkConnection.open(to: address, pool: self) else { return false }
        markBusy(connection)
        connection.start(exchange, head: head, body: body)
        return true
    }

    private func refuse(_ exchange: LinkExchange) {
        exchange.isOver = true
        exchange.linkFailed(LinkError(.badRequest, "The request cannot be sent as HTTP/1.1."))
    }

    /// The connection finished an exchange and may carry another.
    func release(_ connection: LinkConnection) {
        unmarkBusy(connection)
        if idle.count < configuration.maxIdleConnections {
            idle.append(connection)
        } else {
            connection.shut()
        }
    }

    /// The connection is closing: forget it.
    func discard(_ connection: LinkConnection) {
        if !unmarkBusy(connection), let index = idle.firstIndex(where: { $0 === connection }) {
            idle.remove(at: index)
        }
    }

    /// Fails connections that made no progress in time and closes those idle for longer than the idle timeout.
    func tick(_ now: ContinuousClock.Instant) {
        for connection in busy { connection.checkDeadline(now) }  // a copy: a failure takes itself out
        let stale = idle.prefix { now - $0.idleSince >= configuration.idleTimeout }
        guard !stale.isEmpty else { return }
        for connection in stale { connection.shut() }
        idle.removeFirst(stale.count)
    }

    /// The loop ended: close everything.
    func closeAll() {
        for connection in busy + idle { connection.shut() }
        busy.removeAll()
        idle.removeAll()
    }

    var idleCount: Int { idle.count }
    var busyCount: Int { busy.count }

    private func markBusy(_ connection: LinkConnection) {
        connection.busySlot = busy.count
        busy.append(connection)
    }

    /// Takes `connection` out of the busy list, the last one moving into its place; false when it was not in it.
    @discardableResult
    private func unmarkBusy(_ connection: LinkConnection) -> Bool {
        let slot = connection.busySlot
        guard slot >= 0, slot < busy.count, busy[slot] === connection else { return false }
        let last = busy.removeLast()
        if slot < busy.count {
            busy[slot] = last
            last.busySlot = slot
        }
        connection.busySlot = -1
        return true
    }
}
