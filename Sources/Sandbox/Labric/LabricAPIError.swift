import MicroHTTPServer

/// An error answer of the Labric simulator, carrying its HTTP status. Bodies have the shapes the SDK parses into
/// typed errors: `{"detail": "..."}` (ErrorSchema), Django Ninja's 422 `{"detail": [{type, loc, msg}]}`, and the
/// data-write 400 `{"errors": [{path, message}]}`. Anything else would surface in the SDK as a ParsingError.
struct LabricAPIError: Error, Sendable {
    var status: Int
    var body: JSONValue
    var headers: HTTPHeaders = [:]

    init(_ status: Int, _ detail: String, headers: HTTPHeaders = [:]) {
        self.status = status
        self.body = ["detail": .string(detail)]
        self.headers = headers
    }

    init(status: Int, body: JSONValue) {
        self.status = status
        self.body = body
    }

    var response: HTTPServerResponse { .json(body, status: status, headers: headers) }

    static func badRequest(_ detail: String) -> Self { Self(400, detail) }
    static func notFound(_ detail: String) -> Self { Self(404, detail) }
    static func conflict(_ detail: String) -> Self { Self(409, detail) }

    /// Ninja's 422 for request validation, one entry per problem.
    static func validation(_ issues: [LabricIssue]) -> Self {
        Self(status: 422, body: ["detail": .array(issues.map(\.json))])
    }

    /// The data-write 400 (WriteDataErrorResponse): every problem with its place in the request.
    static func writeProblems(_ problems: [LabricWriteProblem]) -> Self {
        Self(status: 400, body: ["errors": .array(problems.map(\.json))])
    }
}

/// One entry of a 422 `detail` list, as pydantic 2 words it under Django Ninja.
struct LabricIssue: Sendable, Equatable {
    var type: String
    /// Names, and list indexes as numbers, as pydantic reports them.
    var loc: [JSONValue]
    var msg: String

    var json: JSONValue { ["type": .string(type), "loc": .array(loc), "msg": .string(msg)] }

    static func missing(_ loc: [JSONValue]) -> Self { Self(type: "missing", loc: loc, msg: "Field required") }
}

/// One entry of a data-write 400: `path` like `tables[1].rows[0].sample`, or nil for the request as a whole.
struct LabricWriteProblem: Sendable, Equatable {
    var path: String?
    var message: String

    init(_ path: String?, _ message: String) {
        self.path = path
        self.message = message
    }

    var json: JSONValue { ["path": path.map { .string($0) } ?? .null, "message": .string(message)] }
}
