import CMicroHTTPD
import NIOCore

/// The fields of a response, handed to libmicrohttpd's response object one by one as they are given
/// (`HTTPResponseChannel.send(status:body:_:)`), with no list made of them. A relayed answer's fields went from the
/// upstream's bytes into a list, the list into an `HTTPServerResponse`, and then one by one to libmicrohttpd: about
/// 3,000 instructions a request (callgrind, issue 7).
public struct ResponseFields: ~Copyable {
    let response: OpaquePointer
    /// The fields' share of the response head: their names' and values' bytes, and 4 for each (`ConnectionMemory`).
    private(set) var fieldBytes = 0

    init(response: OpaquePointer) {
        self.response = response
    }

    /// Adds a field. One libmicrohttpd cannot send as given is left out, as an `HTTPServerResponse`'s is: an empty
    /// value, a value with CR, LF or NUL, a name with a space, a control or a colon, and the framing fields the server
    /// sets itself (MHD.md §3).
    public mutating func add(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        hand(name, value, checked: false)
    }

    /// `add` of a field its caller has checked already: the name a token, the value without CR, LF or NUL, and not a
    /// framing field (the gateway's header rules drop those). The relay's fields were checked by the upstream's
    /// parser and the rules; checking each again cost about 120 instructions a field (callgrind, issue 7). An empty
    /// value is still left out: libmicrohttpd refuses it.
    public mutating func add(checked name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        hand(name, value, checked: true)
    }

    private mutating func hand(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, checked: Bool) {
        // libmicrohttpd takes C strings, and copies them: the two are written with their NULs into scratch space, on
        // the stack for any ordinary field.
        let response = response
        let added = withUnsafeTemporaryAllocation(byteCount: name.count + value.count + 2, alignment: 1) { space in
            let cName = space.baseAddress!
            let cValue = cName + name.count + 1
            if let base = name.baseAddress { cName.copyMemory(from: base, byteCount: name.count) }
            if let base = value.baseAddress { cValue.copyMemory(from: base, byteCount: value.count) }
            cName.storeBytes(of: 0, toByteOffset: name.count, as: UInt8.self)
            cValue.storeBytes(of: 0, toByteOffset: value.count, as: UInt8.self)
            let (nameText, valueText) = (
                cName.assumingMemoryBound(to: CChar.self), cValue.assumingMemoryBound(to: CChar.self)
            )
            if checked { return MHD_add_response_header(response, nameText, valueText) == .YES }
            return ConnectionBridge.add(nameText, name.count, valueText, value.count, to: response)
        }
        if added { fieldBytes += name.count + value.count + 4 }
    }

    /// `add` of a field whose name and value are followed by a NUL in memory (an `HTTPHeaders` list's): handed over
    /// in place, without the copy.
    mutating func add(terminated name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        let (cName, cValue) = (
            name.baseAddress!.assumingMemoryBound(to: CChar.self),
            value.baseAddress!.assumingMemoryBound(to: CChar.self)
        )
        if ConnectionBridge.add(cName, name.count, cValue, value.count, to: response) {
            fieldBytes += name.count + value.count + 4
        }
    }

    /// `add` of Strings.
    public mutating func add(_ name: String, _ value: String) {
        var (name, value) = (name, value)
        name.withUTF8 { name in
            value.withUTF8 { value in add(UnsafeRawBufferPointer(name), UnsafeRawBufferPointer(value)) }
        }
    }
}

/// A response libmicrohttpd holds already, made where the answer came (`HTTPResponseChannel.send(status:body:_:)`),
/// waiting for its exchange to queue it (`Exchange.finishUploadAndRespond`). Whoever takes it queues or destroys it.
///
/// `@unchecked Sendable`: libmicrohttpd's response is complete once made, and it guards its own reference count with
/// a lock, so the thread that made it may hand it to the MHD thread, which queues it.
struct PreparedResponse: @unchecked Sendable {
    let response: OpaquePointer
    let status: Int
    /// The fields' share of the response head (`ResponseFields.fieldBytes`).
    let fieldBytes: Int
    /// Its body is the exchange's stream (`Exchange.read`): the response holds the exchange until destroyed.
    let isStream: Bool

    /// A response of `body`'s bytes (none when nil), copied by libmicrohttpd; nil when it could not make one.
    static func whole(status: Int, body: ByteBuffer?, _ fields: (inout ResponseFields) -> Void) -> PreparedResponse? {
        let made: OpaquePointer?
        if let body {
            made = body.withUnsafeReadableBytes { bytes in
                MHD_create_response_from_buffer(
                    bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
            }
        } else {
            made = MHD_create_response_from_buffer(0, nil, .RESPMEM_PERSISTENT)
        }
        guard let made else { return nil }
        return prepared(made, status: status, isStream: false, fields)
    }

    /// The response for `response`, its fields handed over in place; nil when libmicrohttpd could not make one, or
    /// when the body is a stream and there is no `exchange` to feed it.
    static func of(_ response: borrowing HTTPServerResponse, streamFrom exchange: Exchange?) -> PreparedResponse? {
        let headers = response.headers
        func fields(_ fields: inout ResponseFields) {
            headers.forEachField { name, value in fields.add(terminated: name, value) }
        }
        switch response.body {
        case .empty:
            return whole(status: response.status, body: nil, fields)
        case .bytes(let buffer):
            return whole(status: response.status, body: buffer, fields)
        case .stream(let length, _):
            guard let exchange else { return nil }
            return stream(status: response.status, length: length, from: exchange, fields)
        }
    }

    /// A response whose body `exchange` streams (`Exchange.read`); nil when libmicrohttpd could not make one.
    static func stream(
        status: Int, length: Int?, from exchange: Exchange, _ fields: (inout ResponseFields) -> Void
    ) -> PreparedResponse? {
        guard let made = ConnectionBridge.streamResponse(length: length, from: exchange) else { return nil }
        return prepared(made, status: status, isStream: true, fields)
    }

    private static func prepared(
        _ response: OpaquePointer, status: Int, isStream: Bool, _ fields: (inout ResponseFields) -> Void
    ) -> PreparedResponse {
        var added = ResponseFields(response: response)
        fields(&added)
        return PreparedResponse(response: response, status: status, fieldBytes: added.fieldBytes, isStream: isStream)
    }

    /// Queues it on `connection` (with `Connection: close` when `closing`) and lets go of it.
    func queue(on connection: OpaquePointer, closing: Bool) -> MHD_Result {
        defer { MHD_destroy_response(response) }
        if closing { _ = MHD_add_response_header(response, "Connection", "close") }
        return MHD_queue_response(connection, UInt32(clamping: status), response)
    }

    /// Lets go of it unsent (the exchange ended first); a stream's hold on its exchange goes with it.
    func destroy() {
        MHD_destroy_response(response)
    }

    /// Its `X-Request-Id`, for an error answered in its place.
    var requestID: String? {
        MHD_get_response_header(response, "X-Request-Id").map { String(cString: $0) }
    }
}
