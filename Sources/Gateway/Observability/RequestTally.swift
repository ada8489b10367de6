import Logging
import MicroHTTPServer

/// One server loop's share of the request metrics: the requests relayed on that loop are counted here, on the loop,
/// and handed to the shared Prometheus metrics once a round (`ServerLoop.addFlusher`): before libmicrohttpd sends
/// the round's answers, and again at the round's end.
///
/// Why: both loops wrote the same few cache lines for every request (the series table's lock, the counter, the
/// histogram's lock, the in-flight count), and each such write waits for the other core's copy of the line. Without
/// those writes a proxied request took 0.7 µs less user time, about a sixth (bench/cpu.sh, issue 7).
///
/// `@unchecked Sendable` holds because everything but `inflight` is touched on its loop's thread only; `inflight`
/// is an atomic count that only that thread changes, read by scrapes from anywhere.
final class RequestTally: ServerLoopFlusher, @unchecked Sendable {
    private struct Series {
        let route: String
        let method: String
        let status: Int
        let metrics: RequestObserver.RequestMetrics
        /// The durations, in nanoseconds, of the requests counted since the last flush: the first `count`. A flush
        /// sets `count` to zero and keeps the values, where emptying the array took a call of about 80 instructions
        /// (callgrind, issue 7).
        var durations: [Int64] = []
        var count = 0

        mutating func append(_ nanoseconds: Int64) {
            if count < durations.count { durations[count] = nanoseconds } else { durations.append(nanoseconds) }
            count += 1
        }
    }

    private let observer: RequestObserver
    /// A handful of series in practice: a scan compares an Int and two short Strings, where a dictionary hashed them.
    private var series: [Series] = []
    private var pending = false
    /// Requests started less requests ended on this loop. One may start here and end on another thread: only the sum
    /// of every loop's count and the observer's own means something (`RequestObserver.inflight`).
    let inflight: ByteCounter

    let accessLog: Logger?

    /// - Parameters:
    ///   - inflight: the loop's in-flight count, which the observer also holds for its scrapes (not the tally
    ///     itself: the tally holds the observer).
    ///   - accessLog: the observer's.
    init(observer: RequestObserver, inflight: ByteCounter, accessLog: Logger?) {
        self.observer = observer
        self.inflight = inflight
        self.accessLog = accessLog
    }

    /// `RequestObserver.finished` and `completed` for a request that ends on this loop, without the observer: each
    /// use of it, an object both loops share, retained it (issue 7).
    func ended(
        _ record: RequestRecord, status: Int, upstreamDuration: Duration?, bytes: Int, failed: Bool,
        at end: ContinuousClock.Instant
    ) {
        inflight.add(-1)
        let duration = end - record.started
        add(
            route: record.route, method: RequestObserver.methodLabel(record.method), status: status,
            nanoseconds: duration.nanoseconds)
        guard let accessLog else { return }
        RequestObserver.logAccess(
            to: accessLog, record, status: status, upstreamDuration: upstreamDuration, bytes: bytes, failed: failed,
            duration: duration)
    }

    /// Counts one finished request of the series (`method` already a label), held until the next flush.
    func add(route: String, method: String, status: Int, nanoseconds: Int64) {
        let index =
            series.firstIndex { $0.status == status && $0.route == route && $0.method == method }
            ?? newSeries(route: route, method: method, status: status)
        series[index].append(nanoseconds)
        pending = true
    }

    private func newSeries(route: String, method: String, status: Int) -> Int {
        let metrics = observer.requestMetrics(route: route, method: method, status: status)
        series.append(Series(route: route, method: method, status: status, metrics: metrics))
        return series.count - 1
    }

    func flush() {
        guard pending else { return }
        pending = false
        for index in series.indices where series[index].count > 0 {
            // Borrowed, since a series and its metrics stay for the tally's life: copied out of `series`, the counter,
            // the timer and the durations were each retained and released for the calls (callgrind, issue 7).
            let counter = Unmanaged.passUnretained(series[index].metrics.counter)
            let timer = Unmanaged.passUnretained(series[index].metrics.timer)
            counter._withUnsafeGuaranteedRef { $0.increment(by: series[index].count) }
            timer._withUnsafeGuaranteedRef { timer in
                for position in 0..<series[index].count { timer.recordNanoseconds(series[index].durations[position]) }
            }
            series[index].count = 0
        }
    }
}
