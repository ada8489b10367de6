import Foundation
import MicroHTTPServer
import NIOCore

/// The data-analysis agent. No model runs in the sandbox: the agent looks at the schema (one tool call) and answers
/// from it, deterministically. With `stream: true` the run is sent as server-sent events, one event per chunk, ending
/// with a `result` event that carries the same summary as the plain answer.
extension LabricSimulator {
    static let agentModel = "labric-sandbox-agent"

    func runAgent(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let prompt = payload.string("prompt", required: true)
        let model = payload.string("model") ?? Self.agentModel
        let requestedChat = payload.string("chat_id")
        let save = payload.bool("save") ?? false
        let stream = payload.bool("stream") ?? false
        try payload.validate()
        guard let prompt else { throw LabricAPIError.badRequest("prompt is required") }
        let (tables, chatID): ([String], String?) = try store.state.withLock { state in
            var chatID = requestedChat
            if let requestedChat {
                guard state.chats.contains(requestedChat) else { throw LabricAPIError.notFound("Chat not found") }
            } else if save {
                let id = LabricIDs.uuid()
                state.chats.insert(id)
                chatID = id
            }
            return (state.database.orderedTables.map(\.name), chatID)
        }

        let names = tables.isEmpty ? "no tables yet" : "\(tables.count) table(s): " + tables.joined(separator: ", ")
        let output =
            "This is the Labric sandbox agent, so no model ran. The organization has \(names). You asked: \(prompt)"
        let toolCall: JSONValue = [
            "tool_call_id": "call_1", "tool_name": "get_schema", "input": [:],
            "output": .array(tables.map { .string($0) }),
        ]
        let inputTokens = max(1, prompt.utf8.count / 4)
        let outputTokens = max(1, output.utf8.count / 4)
        let result: JSONValue = [
            "output": .string(output),
            "model": .string(model),
            "tool_calls": [toolCall],
            "usage": [
                "input_tokens": .number(Double(inputTokens)), "output_tokens": .number(Double(outputTokens)),
                "total_tokens": .number(Double(inputTokens + outputTokens)),
            ],
            "chat_id": chatID.labricJSON,
        ]
        guard stream else { return ok(result) }

        var events: [JSONValue] = [
            ["type": "tool_call", "tool_call_id": "call_1", "tool_name": "get_schema", "input": [:]],
            [
                "type": "tool_result", "tool_call_id": "call_1", "tool_name": "get_schema",
                "output": toolCall["output"] ?? .null,
            ],
        ]
        events += Self.chunks(output, words: 4).map { ["type": "text_delta", "delta": .string($0)] }
        events.append(["type": "result", "result": result])
        let interval = configuration.agentEventInterval
        let frames = events.map { "data: \($0.jsonText)\n\n" }
        return HTTPServerResponse(
            status: 200,
            headers: ["Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"],
            body: .stream(length: nil) { writer in
                for (index, frame) in frames.enumerated() {
                    if index > 0, interval > .zero { try await Task.sleep(for: interval) }
                    try await writer.write(frame)
                }
            }
        )
    }

    /// The text in pieces of about `words` words, spaces kept, so that the pieces concatenate to the text.
    static func chunks(_ text: String, words: Int) -> [String] {
        var pieces: [String] = []
        var current = ""
        var count = 0
        for character in text {
            current.append(character)
            if character == " " {
                count += 1
                if count == words {
                    pieces.append(current)
                    current = ""
                    count = 0
                }
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}
