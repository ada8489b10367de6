import AsyncHTTPClient
import MicroHTTPServer
import NIOCore
import NIOHTTP1
import NIOPosix
import UpstreamLink

/// AsyncHTTPClient set up as a pass-through proxy needs it: a pool per upstream, no redirects followed, no
/// decompression, connect and idle (read) timeouts, and transport failures turned into labgate's 502/504.
public final class UpstreamClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: Duration = .seconds(5)
        /// The longest silence allowed while waiting for the upstream's bytes.
        public var idleTimeout: Duration = .seconds(60)
        /// The whole exchange, body included, must end within this.
        public var requestTimeout: Duration = .seconds(600)
        /// Pooled keep-alive connections per upstream host.
        public var connectionsPerHost: Int = 1024
        /// Requests with a fixed credential to a plain-http upstream go through `LinkClient` on the
        /// server's own loop thread instead of AsyncHTTPClient (issue 7). Off: every request takes AsyncHTTPClient.
        public var plainHTTPOnServerLoop = true
        public init() {}
    }

    /// A request body as it goes upstream.
    public enum Body: Sendable {
        case none
        /// Kept in memory: it can be sent again (the 401 replay).
        case bytes(ByteBuffer)
        /// Streamed from the client as it arrives; `length` nil sends it chunked.
        case stream(RequestBody, length: Int?)

        var isReplayable: Bool {
            if case .stream = self { return false }
            return true
        }
    }

    let http: HTTPClient
    let configuration: Configuration

    /// The upstream connections' event loop: one thread (beside the server's own, one per core on the 2-core
    /// machines labgate is measured on; every forwarded request stays on one loop), shared by every client in the
    /// process and never shut down, like NIO's singletons. A client that is shut down while the token manager
    /// still asks it for an exchange then fails that request instead of scheduling work on a stopped loop (which
    /// crashed `labgate sandbox` when its port was taken).
    static let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        var settings = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .nanoseconds(configuration.connectTimeout.nanoseconds),
                read: .nanoseconds(configuration.idleTimeout.nanoseconds)
            ),
            decompression: .disabled
        )
        settings.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.connectionsPerHost
        settings.httpVersion = .http1Only
        // No distributed tracing in labgate: without this, every request builds a span for the no-op tracer
        // (measured with callgrind: about 6% of a proxied request's instructions, issue 7).
        settings.tracing.tracer = nil
        http = HTTPClient(eventLoopGroupProvider: .shared(Self.eventLoops), configuration: settings)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    /// Sends one request and returns once the response head has arrived; the body streams on from there.
    /// - Throws: `GatewayError` `.upstreamUnreachable` (502) or `.upstreamTimeout` (504); `CancellationError`
    ///   when the client went away.
    public func send(method: String, url: String, headers: MicroHTTPServer.HTTPHeaders, body: Body) async throws
        -> HTTPClientResponse
    {
        var request = HTTPClientRequest(url: url)
        request.method = NIOHTTP1.HTTPMethod(rawValue: method)
        request.headers = Self.clientHeaders(headers)
        switch body {
        case .none:
            request.body = nil
        case .bytes(let buffer):
            request.body = .bytes(buffer)
        case .stream(let stream, let length):
            request.body = .stream(
                PacedRequestBody(stream, loops: http.eventLoopGroup),
                length: length.map { .known(Int64($0)) } ?? .unknown)
        }
        do {
            return try await http.execute(request, timeout: .nanoseconds(configuration.requestTimeout.nanoseconds))
        } catch {
            throw Self.gatewayError(for: error)
        }
    }

    /// `send` of a request for a plain-http upstream on the server's loop thread: `LinkClient` sends it, its head
    /// written by the relay straight into the upstream connection's buffer (`LoopRoute.writeHead`), and the relay
    /// relays the answer, no task and no thread in between. Call it on the loop of the report's channel. A refused
    /// request and transport failures reach `report.relayFailed` (labgate's 400, 502, 504), maybe before this returns.
    @discardableResult
    func send(
        _ headers: MicroHTTPServer.HTTPHeaders, target: String, withBody: Bool, report: consuming RelayReport
    ) -> LinkRelay {
        let relay = LinkRelay(headers: headers, target: target, withBody: withBody, report: report)
        // Not retained (`LoopRoute.withLink`): a retain and a release of an object both loops share (issue 7).
        relay.report.route.withLink { $0.start(relay) }
        relay.channel.onCancel { [relay] in relay.cancel() }
        return relay
    }

    /// Starts a request without a body whose answer goes to the report's channel, no task, through AsyncHTTPClient
    /// (https, or a request off the server's loop): its delegate runs on one event loop, which the pool prefers for
    /// the connection too. Not `.delegateAndChannel`: the pool closes such loop-bound connections as soon as they are
    /// idle (measured: one upstream connection per request). Transport failures reach `report.relayFailed` as
    /// labgate's 502/504.
    func send(upstream: Upstream, target: String, headers: MicroHTTPServer.HTTPHeaders, report: consuming RelayReport) {
        let url = upstream.url(for: target)
        let filter = upstream.filter
        let channel = report.channel
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(
                url: url, method: NIOHTTP1.HTTPMethod(rawValue: report.record.method),
                headers: Self.clientHeaders(headers))
        } catch {
            report.relayFailed(Self.gatewayError(for: error))
            return
        }
        let eventLoop = http.eventLoopGroup.next()
        let relay = UpstreamRelay(filter: filter, eventLoop: eventLoop, report: report)
        // No deadline timer: the server ends exchanges past the same request deadline (HTTPServer's sweeper), and
        // that cancels this request (`onCancel`); the idle (read) timeout still gives a 504.
        let task = http.execute(request: request, delegate: relay, eventLoop: .delegate(on: eventLoop), logger: nil)
        channel.onCancel { task.cancel() }
    }

    /// A server-loop client for a plain-http origin, with this client's timeouts; nil for https, when off, or when
    /// the host does not resolve. It resolves the host now: call it while setting up, never on the server's loop.
    public func makeLink(for origin: UpstreamOrigin) -> LinkClient? {
        guard configuration.plainHTTPOnServerLoop, origin.scheme == "http" else { return nil }
        var settings = LinkClient.Configuration()
        settings.connectTimeout = configuration.connectTimeout
        settings.idleTimeout = configuration.idleTimeout
        return LinkClient(host: origin.host, port: origin.effectivePort, configuration: settings)
    }

    static func clientHeaders(_ headers: MicroHTTPServer.HTTPHeaders) -> NIOHTTP1.HTTPHeaders {
        var converted = NIOHTTP1.HTTPHeaders()
        converted.reserveCapacity(headers.count)
        for field in headers { converted.add(name: field.name, value: field.value) }
        return converted
    }

    /// labgate's error for a transport failure; a cancellation stays a cancellation.
    static func gatewayError(for error: any Error) -> any Error {
        if error is CancellationError || error is GatewayError { return error }
        if let httpError = error as? HTTPClientError {
            switch httpError {
            case .readTimeout, .deadlineExceeded, .writeTimeout:
                return GatewayError(.upstreamTimeout, "The upstream did not answer in time.")
            case .cancelled:
                return CancellationError()
            default:
                break
            }
        }
        if error is HTTPServerError { return error }
        return GatewayError(.upstreamUnreachable, "The upstream could not be reached.")
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
