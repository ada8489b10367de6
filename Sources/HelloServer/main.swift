import Glibc
import Logging
import MicroHTTPServer

// `make bench`'s Swift side: the same bytes as bench/hello.c, served through MicroHTTPServer.
var port = 0
if let index = CommandLine.arguments.firstIndex(of: "--port"), index + 1 < CommandLine.arguments.count {
    port = Int(CommandLine.arguments[index + 1]) ?? 0
}
let hello = HTTPServerResponse(
    status: 200,
    headers: ["Content-Type": "application/json"],
    body: .string("{\"hello\":\"world\"}")
)
let server = HTTPServer(
    configuration: .init(host: "127.0.0.1", port: port),
    responder: HelloResponder(hello: hello, immediate: !CommandLine.arguments.contains("--async")),
    logger: Logger(label: "hello")
)
try server.start()
// stdout is a pipe in `make bench`: write the port line straight away.
say("port=\(server.port)")
while true { try await Task.sleep(for: .seconds(3600)) }

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

/// Answers `hello`; with `--async` only through the task path, to measure both paths of the server.
struct HelloResponder: HTTPResponder {
    let hello: HTTPServerResponse
    let immediate: Bool

    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse { hello }

    func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? { immediate ? hello : nil }
}
