import CMicroHTTPD
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The thread that drives libmicrohttpd: it waits on MHD's epoll descriptor and calls `MHD_run`, which never blocks.
///
/// Why not MHD's own epoll thread (`MHD_USE_EPOLL_INTERNAL_THREAD`): in 0.9.75 its loop calls `epoll_wait` again
/// with the full timeout whenever a call returned exactly 128 events, before handling them; with 128 or more
/// connections ready at once it then sleeps until an unrelated event arrives (measured: 64 connections 22k req/s,
/// 256 connections under 3k). `MHD_run` uses a zero timeout, so our loop keeps epoll's scaling without the stall.
///
/// Every MHD call but `MHD_resume_connection` happens on this thread, callbacks included; other threads talk to it
/// through `commands` and the `ServerLoop`'s eventfd, which also serves descriptors other than MHD's (upstream
/// connections, issue 7).
final class DaemonLoop: Sendable {
    struct Commands {
        var quiesce = false
        var quiesced = false
        var stop = false
        var stopped = false
    }

    let daemon: DaemonHandle
    private let loop: ServerLoop
    private let mhdEpoll: Int32
    private let commands = Mutex(Commands())
    /// Set, and never cleared, once `quiesce` or `stop` has written to `commands`: until then a round reads this
    /// instead of taking the lock (callgrind, issue 7).
    private let commanded = Atomic(false)

    private let context: ServerContext
    /// Whether the loop may wait for parked exchanges' answers with MHD's timeout at zero. Not with TLS: a TLS
    /// connection can hold decrypted bytes that no epoll event announces.
    private let mayLinger: Bool
    /// The thread's name and CPU.
    private let thread: LoopThread

    init(
        daemon: DaemonHandle, context: ServerContext, thread: LoopThread = LoopThread()
    ) throws(Daemon.StartError) {
        self.daemon = daemon
        self.context = context
        self.thread = thread
        mayLinger = context.configuration.tls == nil
        loop = context.loop
        mhdEpoll = cmhd_daemon_epoll_fd(daemon.pointer)
        guard mhdEpoll >= 0, loop.isUsable else {
            throw Daemon.StartError(description: "could not set up the event loop (errno \(errno))")
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = mhdEpoll
        epoll_ctl(loop.epoll, EPOLL_CTL_ADD, mhdEpoll, &event)
    }

    func start() throws(Daemon.StartError) {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                let loop = Unmanaged<DaemonLoop>.fromOpaque(context!).takeRetainedValue()
                loop.thread.enter(logger: loop.context.logger)
                loop.run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<DaemonLoop>.fromOpaque(context).release()
            throw Daemon.StartError(description: "could not start the server thread (\(result))")
        }
        pthread_detach(thread)
    }

    private func run() {
        // A buffer of our own, not an array: passed inout to `epoll_wait` and sliced, an array was checked for
        // uniqueness twice a round and retained for the walk over its events (callgrind, issue 7).
        let capacity = 64
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        loop.enter()
        _ = MHD_run(daemon.pointer)  // MHD adds its listening socket to its epoll set on the first run
        while true {
            var timeout: UInt64 = 0
            let hasTimeout = MHD_get_timeout(daemon.pointer, &timeout) == .YES
            let woken = loop.takeWakeOnLoop()
            let wait = woken ? 0 : hasTimeout ? Int32(min(timeout, UInt64(loop.tickInterval))) : loop.tickInterval
            var ready = Int(max(0, epoll_wait(loop.epoll, events, Int32(capacity), wait)))
            if ready == 0 && wait == 0 && !woken && mayLinger && loop.parkedInRun > 0 && loop.busyExchanges == 0 {
                // MHD's timeout is zero only for the parked exchanges: their answers are on the way (an upstream
                // socket, or a wake from the thread that delivers). Waiting a moment for them costs nothing,
                // settling would cost a suspend and resume each.
                ready = Int(max(0, epoll_wait(loop.epoll, events, Int32(capacity), Self.lingerMilliseconds)))
            }
            loop.beginRound()
            // Upstream sockets first: what they complete is queued to MHD in the same round.
            for index in 0..<ready where events[index].data.fd != mhdEpoll { loop.dispatch(events[index]) }
            loop.runQueuedAndTickers()
            if commanded.load(ordering: .acquiring) {
                let (quiesce, stop) = commands.withLock { ($0.quiesce && !$0.quiesced, $0.stop) }
                if quiesce {
                    // Stop accepting; the listening socket is this loop's now (every loop has its own:
                    // `Daemon.listen`), and closing it makes new connections fail fast.
                    let listener = MHD_quiesce_daemon(daemon.pointer)
                    if listener >= 0 { close(listener) }
                    commands.withLock { $0.quiesced = true }
                }
                if stop { break }
            }
            // A round that brought nothing: parked exchanges suspend in this run, so that the next wait can sleep.
            loop.settling = ready == 0
            loop.parkedInRun = 0
            loop.flush()  // what the upstream answers recorded, before MHD sends them
            _ = MHD_run(daemon.pointer)
            loop.endRound()
            loop.flush()
        }
        loop.leave()
        commands.withLock { $0.stopped = true }
    }

    /// How long the loop waits for parked exchanges' answers before they settle into a suspend. Longer than a
    /// loopback answer under load takes; short enough that what MHD had ready, if something was missed (a pipelined
    /// request), waits no longer than this.
    static let lingerMilliseconds: Int32 = 1

    /// Asks the loop to stop accepting and waits until it has.
    func quiesce() async {
        commands.withLock { $0.quiesce = true }
        commanded.store(true, ordering: .releasing)
        loop.wake()
        while !commands.withLock({ $0.quiesced || $0.stopped }) { try? await Task.sleep(for: .milliseconds(2)) }
    }

    /// `stop()` for a start that failed half-way, outside any task: waits by sleeping the calling thread.
    func stopNow() {
        commands.withLock { $0.stop = true }
        commanded.store(true, ordering: .releasing)
        loop.wake()
        while !commands.withLock({ $0.stopped }) { usleep(1000) }
    }

    /// Ends the loop and waits until the thread has left MHD for good; then the daemon may be stopped.
    func stop() async {
        commands.withLock { $0.stop = true }
        commanded.store(true, ordering: .releasing)
        loop.wake()
        while !commands.withLock({ $0.stopped }) { try? await Task.sleep(for: .milliseconds(2)) }
    }
}
