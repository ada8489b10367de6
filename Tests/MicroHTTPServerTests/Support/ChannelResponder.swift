import LabgateTestSupport
import MicroHTTPServer

/// Answers through `HTTPResponseChannel` (the callback path of `HTTPResponder`) as `answer` says, or declines when
/// `answer` returns false; declined requests get "from the task".
struct ChannelResponder: HTTPResponder {
    let answer: @Sendable (HTTPServerRequest, HTTPResponseChannel) -> Bool

    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        HTTPServerResponse(status: 200, body: .string("from the task"))
    }

    func respond(to request: HTTPServerRequest, through channel: HTTPResponseChannel) -> Bool {
        answer(request, channel)
    }
}

/// A test server whose answers come through `HTTPResponseChannel` as `answer` says (`ChannelResponder`).
func withChannelServer<T>(
    _ answer: @escaping @Sendable (HTTPServerRequest, HTTPResponseChannel) -> Bool,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    try await withServer(responder: ChannelResponder(answer: answer), body)
}
