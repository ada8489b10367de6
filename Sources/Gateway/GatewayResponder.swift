import Logging
import MicroHTTPServer
import NIOCore

/// labgate's front door: validates and routes every request, answers its own routes, forwards the rest.
public final class GatewayResponder: HTTPResponder {
    public struct Upstreams: Sendable {
        public var labric: Upstream?
        public var genie: Upstream?
        /// Present when Genie is configured: it keeps the private token.
        public var genieTokens: TokenManager?

        public init(labric: Upstream? = nil, genie: Upstream? = nil, genieTokens: TokenManager? = nil) {
            self.labric = labric
            self.genie = genie
            self.genieTokens = genieTokens
        }
    }

    let router: Router
    let upstreams: Upstreams
    let forwarder: Forwarder
    let observer: RequestObserver
    let readiness: Readiness
    let loginBodyLimit: Int
    /// Who may use which route (client keys); `.off` allows everything.
    let clients: ClientAuthenticator
    /// Per-client limits on forwarded requests; nil: none.
    let rateLimiter: RateLimiter?
    /// Find each server loop's `LoopRoute` to an upstream (`ServerLoop.attachment(for:)`).
    let loopRouteKeys = (labric: ServerLoop.makeAttachmentKey(), genie: ServerLoop.makeAttachmentKey())

    public init(
        upstreams: Upstreams,
        forwarder: Forwarder,
        observer: RequestObserver,
        readiness: Readiness,
        loginBodyLimit: Int = 64 << 10,
        clients: ClientAuthenticator = .off,
        rateLimiter: RateLimiter? = nil
    ) {
        self.clients = clients
        self.rateLimiter = rateLimiter
        self.upstreams = upstreams
        self.forwarder = forwarder
        self.observer = observer
        self.readiness = readiness
        self.loginBodyLimit = loginBodyLimit
        router = Router(
            .init(
                geniePublicPath: upstreams.genie.map { Self.publicPath($0) } ?? "/public/v1",
                labricBasePath: upstreams.labric?.origin.basePath ?? ""
            )
        )
    }

    /// The path of GENIE_API_URL (e.g. `/public/v1`): requests under it carry the public token.
    static func publicPath(_ genie: Upstream) -> String {
        genie.origin.basePath.isEmpty ? "/public/v1" : genie.origin.basePath
    }

    // MARK: Immediate answers (on the server thread, no task)

    public func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? {
        // A request for a configured upstream is forwarded whatever else it is: leave all the work to `respond`,
        // so that it is done once.
        if upstreams.labric != nil, Self.target(request.target, startsWith: "/labric/") { return nil }
        if upstreams.genie != nil, Self.target(request.target, startsWith: "/genie/") { return nil }
        let admitted: Admitted
        switch admit(request) {
        case .refused(let response): return response
        case .admitted(let value): admitted = value
        }
        guard let local = localAnswer(admitted.route, request, admitted.requestID) else { return nil }
        return observed(
            local, request, admitted.route.name, admitted.requestID, admitted.started, client: admitted.client)
    }

    /// Whether the target's bytes begin with `prefix`'s (`begins(with:)`, not `String.hasPrefix`).
    static func target(_ target: String, startsWith prefix: StaticString) -> Bool {
        target.utf8.withContiguousStorageIfAvailable { $0.begins(with: prefix) } ?? target.hasPrefix(prefix.description)
    }

    /// A login body declared larger than the login limit gets its 413 before any of it is read (the connection is
    /// then closed): waiting for megabytes only to refuse them would be a gift to an attacker.
    public func refuseBody(of request: HTTPServerRequest) -> HTTPServerResponse? {
        guard let declared = request.body.declaredLength, declared > loginBodyLimit, upstreams.genie != nil,
            (try? router.route(method: request.method, target: request.target)) == .genieLogin
        else { return nil }
        let started = ContinuousClock.now
        let requestID = HeaderFilter.requestID(from: request.headers)
        let error = GatewayError(.bodyTooLarge, "The login body is larger than \(loginBodyLimit) bytes.")
        return observed(error.response(requestID: requestID), request, Route.genieLogin.name, requestID, started)
    }

    /// A routed request whose client may go on.
    struct Admitted {
        var route: Route
        var requestID: String
        var started: ContinuousClock.Instant
        var client: String?
    }

    enum Admission {
        case admitted(Admitted)
        /// Refused before going anywhere: a bad target, or client keys and rate limits said no.
        case refused(HTTPServerResponse)
    }

    /// Routing, then client keys and rate limits: the probes stay open, login checks its body instead.
    /// - Parameters:
    ///   - started: when the request arrived (the server loop's round clock when on the loop).
    ///   - ids: the server loop's request IDs, when on the loop.
    func admit(
        _ request: HTTPServerRequest, at started: ContinuousClock.Instant = .now, ids: RequestID.Source? = nil
    ) -> Admission {
        let requestID = HeaderFilter.requestID(from: request.headers, source: ids)
        let route: Route
        do {
            route = try router.route(method: request.method, target: request.target)
        } catch {
            return .refused(observed(error.response(requestID: requestID), request, "no_route", requestID, started))
        }
        let access = clients.decide(route: route, method: request.method, headers: request.headers)
        if let refusal = access.refusal {
            return .refused(
                observed(
                    refusal.response(requestID: requestID), request, route.name, requestID, started,
                    client: access.client))
        }
        return .admitted(Admitted(route: route, requestID: requestID, started: started, client: access.client))
    }

    /// The answers that need neither an upstream nor the body: probes, metrics, unknown routes, unconfigured upstreams.
    private func localAnswer(_ route: Route, _ request: HTTPServerRequest, _ requestID: String) -> HTTPServerResponse? {
        switch route {
        case .healthz:
            return .json(#"{"status":"ok"}"#, requestID: requestID)
        case .readyz:
            return readiness.response(requestID: requestID)
        case .metrics:
            return HTTPServerResponse(
                status: 200,
                headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8", "X-Request-Id": requestID],
                body: .bytes(observer.metricsText())
            )
        case .noRoute:
            return GatewayError(.noRoute, "No route for \(request.method) on this path.").response(requestID: requestID)
        case .labric where upstreams.labric == nil, .geniePublic where upstreams.genie == nil,
            .geniePrivate where upstreams.genie == nil, .genieLogin where upstreams.genie == nil:
            return notConfigured(route, requestID)
        default:
            return nil
        }
    }

    // MARK: Forwarded and other asynchronous answers

    public func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let admitted: Admitted
        switch admit(request) {
        case .refused(let response): return response
        case .admitted(let value): admitted = value
        }
        let (route, requestID, started) = (admitted.route, admitted.requestID, admitted.started)
        var client = admitted.client
        if let local = localAnswer(route, request, requestID) {
            return observed(local, request, route.name, requestID, started, client: client)
        }
        do {
            if route.upstream != nil { try rateLimiter?.admit(client: client) }
        } catch {
            return observed(
                error.response(requestID: requestID), request, route.name, requestID, started, client: client)
        }
        observer.started()
        defer { observer.finished() }
        var upstreamDuration: Duration?
        let response: HTTPServerResponse
        do {
            switch route {
            case .genieLogin:
                (response, client) = try await login(request, requestID: requestID)
            case .labric(let target):
                let labric = upstreams.labric!
                let outcome = try await forwarder.forward(
                    request, target: target, to: labric, credential: .bearer(labric.credential), requestID: requestID)
                (response, upstreamDuration) = (outcome.response, outcome.upstreamDuration)
            case .geniePublic(let target):
                let genie = upstreams.genie!
                let outcome = try await forwarder.forward(
                    request, target: target, to: genie, credential: .bearer(genie.credential), requestID: requestID)
                (response, upstreamDuration) = (outcome.response, outcome.upstreamDuration)
            case .geniePrivate(let target):
                let outcome = try await forwarder.forward(
                    request, target: target, to: upstreams.genie!, credential: .privateToken(upstreams.genieTokens!),
                    requestID: requestID)
                (response, upstreamDuration) = (outcome.response, outcome.upstreamDuration)
            default:
                response = GatewayError(.noRoute, "No route.").response(requestID: requestID)
            }
        } catch let error as GatewayError {
            if route.upstream != nil { observer.upstreamError(route: route.name, code: error.code.rawValue) }
            response = error.response(requestID: requestID)
        }
        return observed(response, request, route.name, requestID, started, client: client, upstream: upstreamDuration)
    }

    private func notConfigured(_ route: Route, _ requestID: String) -> HTTPServerResponse {
        let name = route.upstream == .genie ? "Genie" : "Labric"
        return GatewayError(.upstreamNotConfigured, "\(name) is not configured on this gateway.").response(
            requestID: requestID)
    }

    /// Counts the response and logs it once its body has been sent.
    func observed(
        _ response: HTTPServerResponse,
        _ request: HTTPServerRequest,
        _ route: String,
        _ requestID: String,
        _ started: ContinuousClock.Instant,
        client: String? = nil,
        upstream: Duration? = nil
    ) -> HTTPServerResponse {
        let record = RequestRecord(
            requestID: requestID, route: route, method: request.method, target: request.target,
            status: response.status, peer: request.peer, client: client, started: started,
            upstreamDuration: upstream)
        return observed(response, record)
    }

    /// `observed` for a request known by its record (`status` is taken from the response).
    func observed(_ response: HTTPServerResponse, _ record: RequestRecord) -> HTTPServerResponse {
        var record = record
        record.status = response.status
        switch response.body {
        case .empty:
            observer.completed(record, bytes: 0)
            return response
        case .bytes(let buffer):
            observer.completed(record, bytes: buffer.readableBytes)
            return response
        case .stream(let length, let write):
            let observer = self.observer
            var wrapped = response
            wrapped.body = .stream(length: length) { [record] writer in
                let counter = ByteCounter()
                do {
                    try await write(
                        ResponseBodyWriter { chunk in
                            counter.add(chunk.readableBytes)
                            try await writer.write(chunk)
                        })
                } catch {
                    observer.completed(record, bytes: counter.value, failed: true)
                    throw error
                }
                observer.completed(record, bytes: counter.value)
            }
            return wrapped
        }
    }
}

extension HTTPServerResponse {
    static func json(_ text: String, status: Int = 200, requestID: String) -> HTTPServerResponse {
        HTTPServerResponse(
            status: status,
            headers: ["Content-Type": "application/json", "X-Request-Id": requestID],
            body: .string(text)
        )
    }
}
