import AsyncHTTPClient
import Logging
import MicroHTTPServer
import NIOCore
import UpstreamLink

/// Forwards one request to its upstream with the right credential and streams the answer back.
///
/// Never retries a request that may have reached the upstream, except once after a 401 to the Genie private token,
/// when the body was small enough to keep (DESIGN.md, "Routes").
public struct Forwarder: Sendable {
    let client: UpstreamClient
    /// Bodies up to this size are kept so that the 401 replay can send them again.
    let replayLimit: Int

    public init(client: UpstreamClient, replayLimit: Int = 1 << 20) {
        self.client = client
        self.replayLimit = replayLimit
    }

    /// How the credential for one request is obtained.
    public enum Credential: Sendable {
        /// A fixed bearer credential (Labric key, Genie public token).
        case bearer(SecretValue)
        /// The Genie private token, refreshed and replayed once on a 401.
        case privateToken(TokenManager)
    }

    /// What happened upstream, for the access log and metrics.
    public struct Outcome: Sendable {
        public var response: HTTPServerResponse
        /// Time to the upstream's response head.
        public var upstreamDuration: Duration
    }

    public func forward(
        _ request: HTTPServerRequest,
        target: String,
        to upstream: Upstream,
        credential: Credential,
        requestID: String
    ) async throws -> Outcome {
        let forwarded = try upstream.filter.request(request.headers, requestID: requestID)
        let url = upstream.url(for: target)
        let started = ContinuousClock.now
        switch credential {
        case .bearer(let secret):
            var headers = forwarded.headers
            headers.add("Authorization", secret.bearer)
            let body = streamedBody(request, forwarded)
            let response = try await client.send(method: request.method, url: url, headers: headers, body: body)
            return Outcome(
                response: relay(response, method: request.method, upstream: upstream, requestID: requestID),
                upstreamDuration: .now - started
            )
        case .privateToken(let tokens):
            let body = try await replayableBody(request, forwarded)
            var token = try await tokens.token()
            var response = try await send(request.method, url, forwarded.headers, token, body)
            if response.status.code == 401, body.isReplayable {
                // The token was refused (revoked, or expired early): drop it, fetch a fresh one, try once more.
                try? await drain(response)
                tokens.invalidate(token)
                token = try await tokens.token()
                response = try await send(request.method, url, forwarded.headers, token, body)
            }
            return Outcome(
                response: relay(response, method: request.method, upstream: upstream, requestID: requestID),
                upstreamDuration: .now - started
            )
        }
    }

    /// Forwards a request without a body with the upstream's fixed credential, relaying the answer to the report's
    /// channel from the server's loop (`LinkRelay`, plain http) or AsyncHTTPClient's event loop (`UpstreamRelay`);
    /// returns at once.
    /// - Parameters:
    ///   - report: the request's upstream (`report.route`), record and channel; told how the request ended.
    func forward(_ request: HTTPServerRequest, target: String, report: consuming RelayReport) {
        if report.channel.isOnLoop, report.route.hasLink {
            client.send(request.headers, target: target, withBody: false, report: report)
            return
        }
        let upstream = report.route.upstream
        var headers: HTTPHeaders
        do {
            headers = try upstream.filter.request(request.headers, requestID: report.record.requestID).headers
        } catch {
            report.relayFailed(error)
            return
        }
        // Added to the only copy of the list, in the room the filter left: a second holder would make it a copy.
        headers.add("Authorization", upstream.credential.bearer)
        client.send(upstream: upstream, target: target, headers: headers, report: report)
    }

    /// Forwards a request with a body through the server loop's client (the report's route must have one), and
    /// returns the relay its body goes to; nil when it was refused or failed (answered already).
    func forwardStreaming(_ request: HTTPServerRequest, target: String, report: consuming RelayReport) -> LinkRelay? {
        let relay = client.send(request.headers, target: target, withBody: true, report: report)
        return relay.hasEnded ? nil : relay
    }

    private func send(
        _ method: String,
        _ url: String,
        _ headers: HTTPHeaders,
        _ token: String,
        _ body: UpstreamClient.Body
    ) async throws -> HTTPClientResponse {
        var headers = headers
        headers.add("Authorization", "Bearer \(token)")
        return try await client.send(method: method, url: url, headers: headers, body: body)
    }

    private func streamedBody(_ request: HTTPServerRequest, _ forwarded: HeaderFilter.ForwardedRequest)
        -> UpstreamClient.Body
    {
        if forwarded.isChunked { return .stream(request.body, length: nil) }
        guard let length = forwarded.contentLength, length > 0 else { return .none }
        return .stream(request.body, length: length)
    }

    /// The body kept in memory when it is small enough to send twice; otherwise streamed (and then not replayed).
    private func replayableBody(_ request: HTTPServerRequest, _ forwarded: HeaderFilter.ForwardedRequest)
        async throws -> UpstreamClient.Body
    {
        let streamed = streamedBody(request, forwarded)
        guard case .stream(let body, let length) = streamed, let length, length <= replayLimit else { return streamed }
        return .bytes(try await body.collect(upTo: length))
    }

    private func drain(_ response: HTTPClientResponse) async throws {
        for try await _ in response.body {}
    }

    /// The client's response: status as is, headers filtered, body streamed chunk by chunk as it arrives.
    private func relay(_ response: HTTPClientResponse, method: String, upstream: Upstream, requestID: String)
        -> HTTPServerResponse
    {
        let body = response.body
        return upstream.filter.clientResponse(
            status: response.status.code, headers: response.headers, method: method, requestID: requestID
        ) { writer in
            do {
                for try await chunk in body { try await writer.write(chunk) }
            } catch let error as HTTPServerError {
                throw error
            } catch {
                // The head is gone already: all that is left is to cut the body short, so the client sees it.
                throw UpstreamClient.gatewayError(for: error)
            }
        }
    }
}
