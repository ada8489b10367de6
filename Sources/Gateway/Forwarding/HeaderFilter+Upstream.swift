import MicroHTTPServer
import NIOHTTP1

extension HeaderFilter {
    /// The client's response for an upstream's response head, for every forwarding path (the task's `Forwarder`,
    /// AsyncHTTPClient's `UpstreamRelay` and the server loop's `LinkRelay`): the status as is, the headers filtered,
    /// and the body as status and method allow: none for 1xx, 204 and 304; for HEAD none, but with the length the
    /// upstream announced (MHD sends it as Content-Length); otherwise `write`, with the upstream's length when it
    /// gave one (`length`, from the upstream's framing). `connectionNamesFields` as in `response`.
    func clientResponse(
        status: Int,
        headers upstreamHeaders: consuming MicroHTTPServer.HTTPHeaders,
        length: Int?,
        method: String,
        requestID: String,
        connectionNamesFields: Bool = true,
        write: @escaping @Sendable (ResponseBodyWriter) async throws -> Void
    ) -> HTTPServerResponse {
        let headers = response(upstreamHeaders, requestID: requestID, connectionNamesFields: connectionNamesFields)
        if status == 204 || status == 304 || (100..<200).contains(status) {
            return HTTPServerResponse(status: status, headers: headers, body: .empty)
        }
        if method == "HEAD" {
            return HTTPServerResponse(status: status, headers: headers, body: .stream(length: length ?? 0) { _ in })
        }
        return HTTPServerResponse(status: status, headers: headers, body: .stream(length: length, write: write))
    }

    /// The same for a head from AsyncHTTPClient.
    func clientResponse(
        status: UInt,
        headers upstreamHeaders: NIOHTTP1.HTTPHeaders,
        method: String,
        requestID: String,
        write: @escaping @Sendable (ResponseBodyWriter) async throws -> Void
    ) -> HTTPServerResponse {
        var converted = MicroHTTPServer.HTTPHeaders()
        converted.reserveCapacity(upstreamHeaders.count)
        for field in upstreamHeaders { converted.add(field.name, field.value) }
        let length = upstreamHeaders.first(name: "Content-Length").flatMap(Self.parseContentLength)
        return clientResponse(
            status: Int(status), headers: converted, length: length, method: method, requestID: requestID,
            write: write)
    }
}
