import Foundation
import Logging
import Metrics
import MicroHTTPServer
import NIOCore
import Prometheus
import Synchronization

// Prometheus has types of the same names: labgate records through swift-metrics.
typealias Gauge = Metrics.Gauge
typealias Counter = Metrics.Counter
typealias Timer = Metrics.Timer

/// Metrics (Prometheus text through swift-metrics) and the access log: everything labgate records per request.
/// Labels are bounded (route names, known methods, status codes), and nothing recorded ever holds a secret.
public final class RequestObserver: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let accessLog: Logger?
    let inflightGauge: Gauge
    /// Read at scrape time: seconds until each upstream's private token expires.
    let expiryProbes: [String: @Sendable () -> Double?]

    /// - Parameters:
    ///   - accessLog: one line per request goes here; nil turns the access log off.
    ///   - expiryProbes: upstream name → seconds until its private token expires (nil without a token).
    public init(accessLog: Logger?, expiryProbes: [String: @Sendable () -> Double?] = [:]) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        self.factory = factory
        self.accessLog = accessLog
        self.expiryProbes = expiryProbes
        inflightGauge = Gauge(label: "labgate_inflight_requests", factory: factory)
        inflightGauge.record(0)
        for upstream in expiryProbes.keys {
            Gauge(label: "labgate_token_expiry_seconds", dimensions: [("upstream", upstream)], factory: factory)
                .record(0)
        }
    }

    /// Requests in flight that started or ended off the server loops' tallies.
    let inflightCount = ByteCounter()
    /// Each server loop's in-flight count (`RequestTally.inflight`), summed when scraped.
    let loopInflight = Mutex<[ByteCounter]>([])
    /// Finds a server loop's tally (`ServerLoop.attachment(for:)`).
    let tallyKey = ServerLoop.makeAttachmentKey()

    // The gauge is set from the counts when it is scraped (`metricsText`), not on every request: two records a
    // request on a line both loops write (issue 7).
    /// A request to an upstream started: counted on the loop's own tally when there is one.
    func started(on tally: RequestTally? = nil) {
        (tally?.inflight ?? inflightCount).add(1)
    }

    /// A request to an upstream finished: counted on the loop's own tally when there is one.
    func finished(on tally: RequestTally? = nil) {
        (tally?.inflight ?? inflightCount).add(-1)
    }

    /// The tally of `channel`'s server loop when called on that loop's thread (made on first use); nil elsewhere.
    func tally(for channel: HTTPResponseChannel) -> RequestTally? {
        guard channel.isOnLoop else { return nil }
        let loop = channel.loop
        if let tally = loop.attachment(for: tallyKey) { return unsafeDowncast(tally, to: RequestTally.self) }
        let inflight = ByteCounter()
        let tally = RequestTally(observer: self, inflight: inflight, accessLog: accessLog)
        loop.attach(tally, for: tallyKey)
        loop.addFlusher(tally)
        loopInflight.withLock { $0.append(inflight) }
        return tally
    }

    /// Requests in flight, over every loop.
    var inflight: Int {
        loopInflight.withLock { $0.reduce(inflightCount.value) { $0 + $1.value } }
    }

    func upstreamError(route: String, code: String) {
        Counter(
            label: "labgate_upstream_errors_total", dimensions: [("route", route), ("code", code)], factory: factory
        )
        .increment()
    }

    /// For `TokenManager`'s `onExchange`.
    public func tokenRefreshed(upstream: String, result: String) {
        Counter(
            label: "labgate_token_refreshes_total", dimensions: [("upstream", upstream), ("result", result)],
            factory: factory
        ).increment()
    }

    /// Records one finished exchange: the request counter, the latency histogram, the access-log line.
    func completed(_ record: RequestRecord, bytes: Int, failed: Bool = false) {
        completed(
            record, status: record.status, upstreamDuration: record.upstreamDuration, bytes: bytes, failed: failed)
    }

    /// `completed` with the status and upstream time given apart from the record, which then need not be copied.
    /// - Parameter end: when the exchange ended, on the clock `record.started` came from.
    func completed(
        _ record: RequestRecord, status: Int, upstreamDuration: Duration?, bytes: Int, failed: Bool = false,
        at end: ContinuousClock.Instant = .now
    ) {
        let duration = end - record.started
        let metrics = requestMetrics(route: record.route, method: Self.methodLabel(record.method), status: status)
        metrics.counter.increment()
        metrics.timer.recordNanoseconds(duration.nanoseconds)
        guard let accessLog else { return }
        Self.logAccess(
            to: accessLog, record, status: status, upstreamDuration: upstreamDuration, bytes: bytes, failed: failed,
            duration: duration)
    }

    /// The access-log line of one finished exchange.
    static func logAccess(
        to accessLog: Logger, _ record: RequestRecord, status: Int, upstreamDuration: Duration?, bytes: Int,
        failed: Bool, duration: Duration
    ) {
        var metadata: Logger.Metadata = [
            "request_id": .string(record.requestID),
            "route": .string(record.route),
            "method": .string(record.method),
            "path": .string(String(record.path)),
            "status": .stringConvertible(status),
            "bytes": .stringConvertible(bytes),
            "duration_ms": .stringConvertible(duration.milliseconds),
        ]
        if let client = record.client { metadata["client"] = .string(client) }
        if let peer = record.peer { metadata["peer"] = .string(peer.description) }
        if let upstream = upstreamDuration {
            metadata["upstream_ms"] = .stringConvertible(upstream.milliseconds)
        }
        if failed { metadata["aborted"] = .stringConvertible(true) }
        accessLog.info("request", metadata: metadata)
    }

    /// One series of `labgate_requests_total`.
    struct RequestSeries: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    /// A series' counter and its route's latency timer.
    struct RequestMetrics {
        var counter: Counter
        var timer: Timer
    }

    /// The per-request metric objects, made once per series and found with one look-up: looking them up in the
    /// factory for every request (labels built, sanitised, found in the registry) cost more than the rest of the
    /// bookkeeping, and two look-ups (series, then route) a hash and a lock more than one (issue 7).
    let requestMetrics = Mutex<[RequestSeries: RequestMetrics]>([:])

    func requestMetrics(route: String, method: String, status: Int) -> RequestMetrics {
        let series = RequestSeries(route: route, method: method, status: status)
        if let metrics = requestMetrics.withLock({ $0[series] }) { return metrics }
        // The factory hands out the same timer for a route's every series.
        let metrics = RequestMetrics(
            counter: Counter(
                label: "labgate_requests_total",
                dimensions: [("route", route), ("method", method), ("status", "\(status)")],
                factory: factory),
            timer: Timer(label: "labgate_request_duration_seconds", dimensions: [("route", route)], factory: factory))
        requestMetrics.withLock { $0[series] = metrics }
        return metrics
    }

    /// The Prometheus text exposition of every metric.
    public func metricsText() -> ByteBuffer {
        inflightGauge.record(inflight)
        for (upstream, probe) in expiryProbes {
            Gauge(label: "labgate_token_expiry_seconds", dimensions: [("upstream", upstream)], factory: factory)
                .record(probe() ?? 0)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8192)
        registry.emit(into: &bytes)
        return ByteBuffer(bytes: bytes)
    }

    /// Methods are client-chosen strings: only known ones become labels, so the series stay bounded. A switch, not
    /// a Set: the method is nearly always one of these literals, which compare without hashing.
    static func methodLabel(_ method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS": method
        default: "OTHER"
        }
    }
}

extension Duration {
    /// Whole and fractional milliseconds, rounded to microseconds for the log.
    var milliseconds: Double {
        Double(nanoseconds / 1000) / 1000
    }
}
