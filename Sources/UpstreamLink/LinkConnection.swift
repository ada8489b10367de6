import MicroHTTPServer
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// One keep-alive TCP connection to an upstream, driven by the server's loop: a non-blocking socket, the request
/// written with `send`, the response read and parsed as it arrives. Loop thread only.
///
/// `@unchecked Sendable` holds because it is touched on the loop thread only (it is captured by the loop's queued
/// work, which runs there).
final class LinkConnection: ServerLoopWatcher, ServerLoopRoundEnd, @unchecked Sendable {
    enum Phase {
        case connecting
        /// In the pool, waiting for a request; a readable socket now means the upstream closed it.
        case idle
        case sending
        case receiving
        case closed
    }

    let fd: Int32
    let pool: LinkPool
    private(set) var phase = Phase.connecting
    /// When the connection must have made progress (connect, or the next upstream byte), else it fails.
    private(set) var deadline: ContinuousClock.Instant
    private(set) var idleSince: ContinuousClock.Instant
    /// It served a request before: a failure before any byte of the answer may just be the upstream's idle close.
    private(set) var isReused = false
    /// Its place in the pool's busy list, -1 when not busy (`LinkPool`).
    var busySlot = -1

    private var exchange: LinkExchange?
    private var outbound = ByteBuffer()
    private var inbound = ByteBuffer()
    private var parser: HTTP1ResponseParser
    private var receivedAny = false
    private var paused = false
    private var keepAlive = false
    /// How the exchange's body follows its head (`LinkExchange.writeHead`), and whether more of it is still coming
    /// (`sendBody`).
    private var body = LinkExchange.Body.empty
    private var bodyOpen = false
    /// The body's producer was told to wait (`sendBody` took nothing): `linkBodyWritable` once there is room.
    private var bodyRefused = false
    /// The upstream answered before the whole body went: the rest is dropped, and the connection is not reused.
    private var answeredEarly = false
    /// A send is queued for the round's end (`ServerLoop.atRoundEnd`).
    private var sendQueued = false
    /// What the loop watches for now (readable, writable): changed only when it differs, one system call saved
    /// twice per request.
    private var interest = (readable: false, writable: true)

    private init(fd: Int32, pool: LinkPool, deadline: ContinuousClock.Instant) {
        self.fd = fd
        self.pool = pool
        self.deadline = deadline
        idleSince = pool.loop.now
        parser = HTTP1ResponseParser()
    }

    /// How long the upstream may stay silent from this round on.
    private var idleDeadline: ContinuousClock.Instant { pool.loop.now + pool.configuration.idleTimeout }

    /// Opens a non-blocking connection; the request is sent once it is established.
    static func open(to address: LinkAddress, pool: LinkPool) -> LinkConnection? {
        let fd = socket(
            address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = address.withSockaddr { connect(fd, $0, $1) }
        guard result == 0 || errno == EINPROGRESS else {
            close(fd)
            return nil
        }
        let connection = LinkConnection(fd: fd, pool: pool, deadline: pool.loop.now + pool.configuration.connectTimeout)
        guard pool.loop.watch(fd, readable: false, writable: true, connection) else {
            close(fd)
            return nil
        }
        return connection
    }

    /// Takes `exchange`, its head written into this connection's own buffer (reused: no allocation); false, and
    /// nothing changed, when the head cannot be written. Sends it with the round's others, or once connected.
    func start(_ exchange: LinkExchange) -> Bool {
        if outbound.capacity > Self.keptOutboundBytes { outbound = ByteBuffer() }  // a streamed body grew it
        outbound.clear()  // `inbound` is empty here (`complete` pools only a drained connection)
        guard let body = exchange.writeHead(into: &outbound) else {
            outbound.clear()
            return false
        }
        begin(exchange, body: body)
        return true
    }

    /// Takes `exchange` with its head written already (`LinkPool.restart`: before a connection was opened for it).
    func start(_ exchange: LinkExchange, head: ByteBuffer, body: LinkExchange.Body) {
        outbound = head
        begin(exchange, body: body)
    }

    private func begin(_ exchange: LinkExchange, body: LinkExchange.Body) {
        self.exchange = exchange
        exchange.connection = self
        exchange.attempts += 1
        parser.expectResponse(isHead: exchange.isHead)
        receivedAny = false
        paused = false
        self.body = body
        bodyOpen = body != .empty
        bodyRefused = false
        answeredEarly = false
        if phase == .idle {
            phase = .sending
            queueSend()  // sent with the round's other requests (`ServerLoop.atRoundEnd`)
        }
    }

    /// The outbound buffer a pooled connection keeps between requests, at most: room for any head, not for the
    /// high-water mark of a streamed body.
    static let keptOutboundBytes = 16 << 10

    func roundEnded() {
        sendQueued = false
        if phase == .sending { send() }
    }

    private func queueSend() {
        guard !sendQueued else { return }
        sendQueued = true
        pool.loop.atRoundEnd(self)
    }

    // MARK: A streamed request body

    /// Unsent bytes held at most before the producer is told to wait; it goes on below half of it.
    static let bodyHighWater = 64 << 10

    /// `LinkExchange.sendBody`: queues the bytes (as a chunk when chunked) for the round's end.
    func sendBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bodyOpen, phase == .connecting || phase == .sending else { return bytes.count }
        guard !bytes.isEmpty else { return 0 }
        guard outbound.readableBytes < Self.bodyHighWater else {
            bodyRefused = true
            return 0
        }
        exchange?.bodyStarted = true
        if body == .chunked {
            outbound.writeString(String(bytes.count, radix: 16))
            outbound.writeStaticString("\r\n")
            outbound.writeBytes(bytes)
            outbound.writeStaticString("\r\n")
        } else {
            outbound.writeBytes(bytes)
        }
        if phase == .sending { queueSend() }
        return bytes.count
    }

    /// `LinkExchange.endBody`: the last chunk when chunked; once all is sent, the answer is awaited.
    func endBody() {
        guard bodyOpen else { return }
        bodyOpen = false
        exchange?.bodyStarted = true  // an empty chunked body ended: a retry would wait for it again
        if body == .chunked { outbound.writeStaticString("0\r\n\r\n") }
        if phase == .sending { queueSend() }
    }

    // MARK: Loop events

    func ready(readable: Bool, writable: Bool, hangUp: Bool) {
        switch phase {
        case .connecting:
            guard writable || hangUp else { return }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0, !hangUp || writable else {
                fail(LinkError(.unreachable, "The upstream could not be reached."), retry: false)
                return
            }
            phase = .sending
            send()
        case .idle:
            // An idle connection has nothing to read: the upstream closed it (or misbehaves). Either way, drop it.
            pool.discard(self)
            shut()
        case .sending:
            // While a body streams, the socket is watched for reading too: the upstream may answer (and close)
            // before it has all of it, e.g. a 413.
            if readable && body != .empty && !skipInterim() {
                answerEarly()
            } else if writable || hangUp {
                send()
            }
        case .receiving:
            if readable || hangUp { receive() }
        case .closed:
            break
        }
    }

    /// The loop's ticker: fail when the connection made no progress in time.
    func checkDeadline(_ now: ContinuousClock.Instant) {
        // A paused connection waits for the client, not for the upstream: no timeout then; nor while the client's
        // body is awaited with nothing left to send (libmicrohttpd times out a silent client).
        let awaitingBody = phase == .sending && bodyOpen && outbound.readableBytes == 0
        guard phase == .connecting || (phase == .sending && !awaitingBody) || (phase == .receiving && !paused),
            now >= deadline
        else {
            return
        }
        if phase == .connecting {
            fail(LinkError(.unreachable, "The upstream did not accept the connection in time."), retry: false)
        } else {
            fail(LinkError(.timeout, "The upstream did not answer in time."), retry: false)
        }
    }

    // MARK: Writing

    private func send() {
        var progressed = false
        defer {
            // A long body takes as long as it takes, while it moves.
            if progressed { deadline = idleDeadline }
        }
        while outbound.readableBytes > 0 {
            let sent = outbound.withUnsafeReadableBytes { bytes in
                Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                outbound.moveReaderIndex(forwardBy: sent)
                progressed = true
                continue
            }
            if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                setInterest(readable: true, writable: true)
                bodyMayGoOn()
                return
            }
            if sent < 0 && errno == EINTR { continue }
            fail(LinkError(.broken, "The upstream connection broke."), retry: isReused)
            return
        }
        if bodyOpen {
            // All sent so far; the rest of the body comes from the client.
            outbound.clear()
            setInterest(readable: true, writable: false)
            bodyMayGoOn()
            return
        }
        phase = .receiving
        progressed = true  // the answer's wait starts now
        setInterest(readable: !paused, writable: false)
    }

    /// Tells a waiting body producer to go on once less than half the high-water mark is left unsent.
    private func bodyMayGoOn() {
        guard bodyRefused, outbound.readableBytes < Self.bodyHighWater / 2 else { return }
        bodyRefused = false
        exchange?.linkBodyWritable()
    }

    /// Whether what the upstream sent while the body goes is a 1xx interim answer (100 Continue, 103 Early Hints,
    /// which a server may send unasked): it is read and dropped, whole, and the body goes on. Looked at with
    /// `MSG_PEEK`, so that a final answer is left for the parser. Rare: the look allocates.
    private func skipInterim() -> Bool {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &bytes, bytes.count, Int32(MSG_PEEK))
        guard count > 0 else { return false }
        // "HTTP/1.x 1": a prefix of it may be all that came yet.
        let interim = Array("HTTP/1.x 1".utf8)
        for index in 0..<min(count, interim.count) where index != 7 && bytes[index] != interim[index] { return false }
        guard count >= interim.count else { return true }
        if count >= 12 && bytes[10] == UInt8(ascii: "0") && bytes[11] == UInt8(ascii: "1") { return false }  // 101
        let scan = bytes.withUnsafeBytes {
            HTTP1ResponseParser.scanHead(UnsafeRawBufferPointer(rebasing: $0[0..<count]), from: 0, limit: $0.count)
        }
        switch scan {
        case .complete(let length):
            _ = recv(fd, &bytes, length, 0)
            return true
        case .incomplete: return true
        case .tooLarge: return false  // the parser says what is wrong with it
        }
    }

    /// The upstream sent something while the body was still going: stop sending it and read the answer.
    private func answerEarly() {
        answeredEarly = true
        bodyOpen = false
        bodyRefused = false
        outbound.clear()
        phase = .receiving
        deadline = idleDeadline
        setInterest(readable: !paused, writable: false)
        receive()
    }

    // MARK: Reading

    private func receive() {
        // Reads until the socket is drained or the exchange asks for a pause; a large body goes on in later rounds.
        for _ in 0..<4 {
            guard phase == .receiving, !paused else { return }
            if inbound.readableBytes == 0 {
                // The same storage again when nothing else holds it (the last answer went to the client already),
                // else a new one: the exchange may still hold slices of the last read (queued for the client).
                inbound.clear(minimumCapacity: receivedAny ? 64 << 10 : 4 << 10)
            } else if inbound.writableBytes < 2048 {
                inbound.reserveCapacity(minimumWritableBytes: 16 << 10)
            }
            var result = 0
            var readError: Int32 = 0
            inbound.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
                // recv, not read: read on a socket takes the VFS path first (perf: vfs_read, sock_read_iter).
                result = recv(fd, space.baseAddress, space.count, 0)
                readError = errno
                return max(result, 0)
            }
            if result < 0 {
                if readError == EINTR { continue }
                if readError == EAGAIN || readError == EWOULDBLOCK {
                    exchange?.linkReadEnded()
                    return
                }
                fail(
                    LinkError(.broken, "The upstream connection broke."),
                    retry: isReused && !receivedAny && (exchange?.mayRetry ?? false))
                return
            }
            if result == 0 {
                endOfStream()
                return
            }
            receivedAny = true
            deadline = idleDeadline
            parse()
            guard phase == .receiving else { return }
            exchange?.linkReadEnded()
            if inbound.writableBytes > 0 { return }  // the read did not fill the buffer: the socket is drained
        }
    }

    private func parse() {
        guard let exchange else { return }
        var ended = false
        do {
            try parser.parse(&inbound) { event in
                switch consume event {
                case .head(let head):
                    keepAlive = head.keepAlive
                    exchange.linkReceived(head: consume head)
                case .body(let chunk):
                    if !exchange.linkReceived(body: chunk) { pause() }
                case .end:
                    ended = true
                }
            }
        } catch {
            fail(LinkError(.broken, "The upstream's answer was not valid HTTP/1.1 (\(error))."), retry: false)
            return
        }
        if ended { complete() }
    }

    private func endOfStream() {
        guard let exchange else { return }
        if !receivedAny {
            fail(LinkError(.broken, "The upstream closed the connection."), retry: isReused && exchange.mayRetry)
            return
        }
        var ended = false
        do {
            try parser.parseEOF { event in if case .end = event { ended = true } }
        } catch {
            fail(LinkError(.broken, "The upstream closed the connection before the end of its answer."), retry: false)
            return
        }
        keepAlive = false
        if ended { complete() } else { fail(LinkError(.broken, "The upstream closed the connection."), retry: false) }
    }

    private func complete() {
        guard let exchange else { return }
        self.exchange = nil
        exchange.connection = nil
        exchange.isOver = true
        // Bytes after the answer were never asked for: the connection cannot be trusted with another request.
        if keepAlive && !answeredEarly && inbound.readableBytes == 0 {
            phase = .idle
            isReused = true
            idleSince = pool.loop.now
            setInterest(readable: true, writable: false)
            pool.release(self)
        } else {
            pool.discard(self)
            shut()
        }
        exchange.linkEnded()
        exchange.linkReadEnded()
    }

    private func fail(_ error: LinkError, retry: Bool) {
        let exchange = self.exchange
        self.exchange = nil
        pool.discard(self)
        shut()
        guard let exchange, !exchange.isOver else { return }
        exchange.connection = nil
        if retry && exchange.attempts < 2 && !exchange.bodyStarted && pool.restart(exchange) { return }
        exchange.isOver = true
        exchange.linkFailed(error)
    }

    // MARK: Backpressure and ending

    private func pause() {
        paused = true
        if phase == .receiving { setInterest(readable: false, writable: false) }
    }

    func resumeReading() {
        guard paused else { return }
        paused = false
        guard phase == .receiving else { return }
        setInterest(readable: true, writable: false)
        deadline = idleDeadline
    }

    /// The exchange was cancelled: the connection is mid-answer and cannot be reused.
    func abandon() {
        exchange = nil
        pool.discard(self)
        shut()
    }

    /// Closes the socket (also when the loop ends).
    func shut() {
        guard phase != .closed else { return }
        phase = .closed
        pool.loop.unwatch(fd)
        close(fd)
    }

    private func setInterest(readable: Bool, writable: Bool) {
        guard interest != (readable, writable) else { return }
        interest = (readable, writable)
        pool.loop.change(fd, readable: readable, writable: writable)
    }
}
