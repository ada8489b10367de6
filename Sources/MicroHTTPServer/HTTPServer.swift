import CMicroHTTPD
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server on libmicrohttpd with an async Swift API.
///
/// One epoll thread does all socket work; handlers run as tasks. A connection waiting on its handler (for the
/// response, for body space, for body bytes) is suspended in libmicrohttpd, so no thread is parked per request.
public final class HTTPServer: Sendable {
    let context: ServerContext
    private let loop = Mutex<DaemonLoop?>(nil)
    private let boundPort = Atomic(0)
    private let sweeper = Mutex<Task<Void, Never>?>(nil)

    /// - Parameters:
    ///   - configuration: listener and limits.
    ///   - responder: answers every request.
    ///   - logger: libmicrohttpd's messages and handler failures go here.
    public init(configuration: Configuration, responder: any HTTPResponder, logger: Logger) {
        self.context = ServerContext(responder: responder, configuration: configuration, logger: logger)
    }

    /// Binds and starts serving.
    /// - Throws: when the address cannot be bound or the TLS files are unusable.
    public func start() throws {
        let started = try Daemon.start(context)
        let daemonLoop: DaemonLoop
        do {
            daemonLoop = try DaemonLoop(daemon: started, context: context)
            try daemonLoop.start()
        } catch {
            MHD_stop_daemon(started.pointer)
            started.logTarget.deallocate()
            throw error
        }
        loop.withLock { $0 = daemonLoop }
        boundPort.store(Int(cmhd_daemon_port(started.pointer)), ordering: .relaxed)
        let context = self.context
        sweeper.withLock {
            $0 = Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let now = ContinuousClock.now
                    for exchange in context.registry.all { exchange.sweep(now: now) }
                }
            }
        }
    }

    /// The port the server listens on (the OS's choice when configured with port 0).
    public var port: Int { boundPort.load(ordering: .relaxed) }

    /// Exchanges whose handler has started and not yet finished sending.
    public var inFlightCount: Int { context.registry.count }

    /// Stops accepting at once (new connections are refused), lets exchanges in flight finish for up to
    /// `gracePeriod`, then ends the rest and closes every connection. Safe to call more than once.
    public func shutdown(gracePeriod: Duration = .seconds(25)) async {
        guard let daemonLoop = loop.withLock({ $0.take() }) else { return }
        let handle = daemonLoop.daemon
        context.stopping.store(true, ordering: .relaxed)
        await daemonLoop.quiesce()
        let drainDeadline = ContinuousClock.now + gracePeriod
        while context.registry.count > 0, ContinuousClock.now < drainDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        context.closed.store(true, ordering: .relaxed)
        // MHD_stop_daemon aborts the process if any connection is still suspended (MHD.md §2.8): abort every
        // exchange, which resumes it, and wait until MHD has picked them all up.
        let abortDeadline = ContinuousClock.now + .seconds(5)
        repeat {
            for exchange in context.registry.all { exchange.abort() }
            try? await Task.sleep(for: .milliseconds(5))
        } while context.registry.all.contains(where: \.isSuspended) && ContinuousClock.now < abortDeadline
        await daemonLoop.stop()
        // The loop thread has left MHD for good: stopping from here is the one MHD call made off that thread.
        MHD_stop_daemon(handle.pointer)
        handle.logTarget.deallocate()
        sweeper.withLock { $0.take() }?.cancel()
    }
}

/// The daemon and the log target it writes to. MHD's daemon functions used here are thread-safe, and the server
/// stops the daemon (then frees the target) exactly once.
struct DaemonHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let logTarget: UnsafeMutablePointer<cmhd_log_target>
}
