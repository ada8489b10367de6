import CMicroHTTPD
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server on libmicrohttpd with an async Swift API.
///
/// `Configuration.loops` epoll threads do all socket work, each driving its own libmicrohttpd daemon on a listening
/// socket of its own, all on one port (`Daemon.listen`); handlers run as tasks, or on the loop itself
/// (`respond(to:through:)`). A connection waiting on its handler (for the response, for body space, for body bytes)
/// is suspended in libmicrohttpd, so no thread is held per request; one waiting for its response while the loop is
/// busy is parked instead (`Exchange.park`).
public final class HTTPServer: Sendable {
    /// One per loop: what that loop's daemon hands to its callbacks.
    let contexts: [ServerContext]
    private let loops = Mutex<[DaemonLoop]>([])
    private let boundPort = Atomic(0)
    /// Every 250 ms: ends suspended exchanges past their deadline or client; trims the heap when quiet (`IdleTrim`).
    private let sweeper = Mutex<Task<Void, Never>?>(nil)

    /// - Parameters:
    ///   - configuration: listener and limits.
    ///   - responder: answers every request.
    ///   - logger: libmicrohttpd's messages and handler failures go here.
    public init(configuration: Configuration, responder: any HTTPResponder, logger: Logger) {
        let count = max(1, configuration.loops)
        var perLoop = configuration
        // The limit is the server's: each daemon gets its share (rounded up).
        perLoop.connectionLimit = (configuration.connectionLimit + count - 1) / count
        contexts = (0..<count).map { _ in
            ServerContext(responder: responder, configuration: count == 1 ? configuration : perLoop, logger: logger)
        }
    }

    /// Binds and starts serving.
    /// - Throws: when the address cannot be bound or the TLS files are unusable.
    public func start() throws {
        // Several loops: a listening socket each, on one port (`Daemon.listen`); one loop: its daemon binds its own.
        var group: (sockets: [Int32], port: Int)?
        if contexts.count > 1 { group = try Daemon.listen(contexts[0].configuration, count: contexts.count) }
        // All daemons first, then their loops: a failure stops what was made, and no loop runs before all exist.
        var handles: [DaemonHandle] = []
        var started: [DaemonLoop] = []
        // Sockets handed to libmicrohttpd, which closes them from then on: when stopped, and when its start fails.
        var handedOver = 0
        do {
            for (index, context) in contexts.enumerated() {
                handedOver += 1
                handles.append(try Daemon.start(context, listener: group?.sockets[index]))
            }
            let cpus = LoopThread.cpus(forLoops: contexts.count, pinned: contexts[0].configuration.pinLoops)
            let made = try zip(handles, contexts).enumerated().map { index, pair in
                try DaemonLoop(daemon: pair.0, context: pair.1, thread: LoopThread(index: index, cpu: cpus?[index]))
            }
            for daemonLoop in made {
                try daemonLoop.start()
                started.append(daemonLoop)
            }
        } catch {
            for daemonLoop in started { daemonLoop.stopNow() }
            for handle in handles { Self.stop(handle) }
            for socket in group?.sockets.dropFirst(handedOver) ?? [] { close(socket) }
            throw error
        }
        loops.withLock { $0 = started }
        boundPort.store(group?.port ?? Int(cmhd_daemon_port(started[0].daemon.pointer)), ordering: .relaxed)
        let contexts = self.contexts
        sweeper.withLock {
            $0 = Task.detached {
                var trim = IdleTrim()
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let now = ContinuousClock.now
                    var inFlight = 0
                    for context in contexts {
                        let exchanges = context.registry.all
                        inFlight += exchanges.count
                        for exchange in exchanges { exchange.sweep(now: now) }
                    }
                    let requests = contexts.reduce(0) { $0 + $1.requests.load(ordering: .relaxed) }
                    if trim.sweep(requests: requests, inFlight: inFlight) { _ = malloc_trim(0) }
                }
            }
        }
    }

    /// The port the server listens on (the OS's choice when configured with port 0).
    public var port: Int { boundPort.load(ordering: .relaxed) }

    /// How often a connection has been suspended in libmicrohttpd to wait (for a response, body bytes or room):
    /// what parking saves (`Exchange.park`), for tests and the bench.
    public var suspensionCount: Int { contexts.reduce(0) { $0 + $1.suspensions.load(ordering: .relaxed) } }

    /// Exchanges whose handler has started and not yet finished sending.
    public var inFlightCount: Int { contexts.reduce(0) { $0 + $1.registry.count } }

    /// Stops accepting at once (new connections are refused), lets exchanges in flight finish for up to
    /// `gracePeriod`, then ends the rest and closes every connection. Safe to call more than once.
    public func shutdown(gracePeriod: Duration = .seconds(25)) async {
        let daemonLoops = loops.withLock { loops in
            defer { loops = [] }
            return loops
        }
        guard !daemonLoops.isEmpty else { return }
        for context in contexts { context.stopping.store(true, ordering: .relaxed) }
        // Each loop closes its listening socket as it stops accepting: new connections then fail fast.
        for daemonLoop in daemonLoops { await daemonLoop.quiesce() }
        let drainDeadline = ContinuousClock.now + gracePeriod
        while inFlightCount > 0, ContinuousClock.now < drainDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for context in contexts { context.closed.store(true, ordering: .relaxed) }
        // MHD_stop_daemon aborts the process if any connection is still suspended (MHD.md §2.8): abort every
        // exchange, which resumes it, and wait until MHD has picked them all up.
        let abortDeadline = ContinuousClock.now + .seconds(5)
        repeat {
            for context in contexts {
                for exchange in context.registry.all { exchange.abort() }
            }
            try? await Task.sleep(for: .milliseconds(5))
        } while contexts.contains(where: { $0.registry.all.contains(where: \.isSuspended) })
            && ContinuousClock.now < abortDeadline
        for daemonLoop in daemonLoops {
            await daemonLoop.stop()
            // The loop thread has left MHD for good: stopping from here is the one MHD call made off that thread.
            MHD_stop_daemon(daemonLoop.daemon.pointer)
            daemonLoop.daemon.logTarget.deallocate()
        }
        sweeper.withLock { $0.take() }?.cancel()
    }

    /// Stops a daemon whose loop never ran, or was stopped at once (a failed start); MHD closes its listening socket.
    private static func stop(_ handle: DaemonHandle) {
        MHD_stop_daemon(handle.pointer)
        handle.logTarget.deallocate()
    }
}

/// The daemon and the log target it writes to. MHD's daemon functions used here are thread-safe, and the server
/// stops the daemon (then frees the target) exactly once.
struct DaemonHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let logTarget: UnsafeMutablePointer<cmhd_log_target>
}
