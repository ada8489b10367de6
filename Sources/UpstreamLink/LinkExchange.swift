import MicroHTTPServer
import NIOCore

/// Receives one upstream response on the server's loop thread, in this order: `linkReceived(head:)`, body parts,
/// then `linkEnded` or `linkFailed`; `linkReadEnded` after each socket read's worth of events.
public protocol LinkResponseHandler: AnyObject {
    func linkReceived(head: HTTP1ResponseParser.Head)
    /// - Returns: false to stop reading from the upstream until `LinkExchange.resumeReading()`.
    func linkReceived(body: ByteBuffer) -> Bool
    func linkReadEnded()
    func linkEnded()
    /// The exchange failed: before the head (answer the client with an error) or after it (cut the body short).
    func linkFailed(_ error: LinkError)
}

/// One request in flight on an upstream connection of the server's loop: the handle to cancel it or to go on
/// reading after backpressure.
///
/// `@unchecked Sendable` holds because every mutable field is touched on the loop thread only; `cancel` and
/// `resumeReading` hop there when called elsewhere.
public final class LinkExchange: @unchecked Sendable {
    let request: ByteBuffer
    let isHead: Bool
    /// The request may be sent again on a new connection when a reused one turned out closed (no byte came back).
    let mayRetry: Bool
    let loop: ServerLoop
    let handler: any LinkResponseHandler

    // Loop thread only.
    var connection: LinkConnection?
    var attempts = 0
    var isOver = false

    init(request: ByteBuffer, isHead: Bool, mayRetry: Bool, loop: ServerLoop, handler: any LinkResponseHandler) {
        self.request = request
        self.isHead = isHead
        self.mayRetry = mayRetry
        self.loop = loop
        self.handler = handler
    }

    /// Stops the exchange (the client left): its connection is closed, the handler hears nothing more.
    public func cancel() {
        onLoop { exchange in
            guard !exchange.isOver else { return }
            exchange.isOver = true
            exchange.connection?.abandon()
            exchange.connection = nil
        }
    }

    /// Goes on reading after `linkReceived(body:)` returned false.
    public func resumeReading() {
        onLoop { exchange in
            guard !exchange.isOver else { return }
            exchange.connection?.resumeReading()
        }
    }

    private func onLoop(_ work: @escaping @Sendable (LinkExchange) -> Void) {
        if loop.isCurrent {
            work(self)
        } else {
            loop.execute { work(self) }
        }
    }

    /// HTTP/1.1 request bytes for a body-less request; nil when the target or a header holds a control character.
    static func requestBytes(method: String, target: String, headers: HTTPHeaders) -> ByteBuffer? {
        guard isToken(method), target.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return nil }
        var size = method.utf8.count + target.utf8.count + 14
        for field in headers {
            guard isToken(field.name), isFieldValue(field.value) else { return nil }
            size += field.name.utf8.count + field.value.utf8.count + 4
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        // Raw UTF-8 copies: `writeString` costs several times more per piece (callgrind, issue 7).
        func append(_ text: String) {
            var text = text
            _ = text.withUTF8 { buffer.writeBytes(UnsafeRawBufferPointer($0)) }
        }
        append(method)
        buffer.writeInteger(UInt8(ascii: " "))
        append(target)
        buffer.writeStaticString(" HTTP/1.1\r\n")
        for field in headers {
            append(field.name)
            buffer.writeStaticString(": ")
            append(field.value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
    }

    private static func isFieldValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 != 0x0D && $0 != 0x0A && $0 != 0 }
    }
}
