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
/// through `commands` and an eventfd.
final class DaemonLoop: Sendable {
    struct Commands {
        var quiesce = false
        var quiesced = false
        var stop = false
        var stopped = false
    }

    let daemon: DaemonHandle
    private let loopEpoll: Int32
    private let wakeup: Int32
    private let commands = Mutex(Commands())

    private let context: ServerContext

    init(daemon: DaemonHandle, context: ServerContext) throws(Daemon.StartError) {
        self.daemon = daemon
        self.context = context
        let mhdEpoll = cmhd_daemon_epoll_fd(daemon.pointer)
        loopEpoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard mhdEpoll >= 0, loopEpoll >= 0, wakeup >= 0 else {
            throw Daemon.StartError(description: "could not set up the event loop (errno \(errno))")
        }
        for fd in [mhdEpoll, wakeup] {
            var event = epoll_event()
            event.events = EPOLLIN.rawValue
            event.data.fd = fd
            epoll_ctl(loopEpoll, EPOLL_CTL_ADD, fd, &event)
        }
        context.wakeup.store(wakeup, ordering: .relaxed)
    }

    func start() throws(Daemon.StartError) {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                let loop = Unmanaged<DaemonLoop>.fromOpaque(context!).takeRetainedValue()
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
        var events = [epoll_event](repeating: epoll_event(), count: 8)
        _ = MHD_run(daemon.pointer)  // MHD adds its listening socket to its epoll set on the first run
        while true {
            var timeout: UInt64 = 0
            let hasTimeout = MHD_get_timeout(daemon.pointer, &timeout) == .YES
            let wait = hasTimeout ? Int32(min(timeout, 1000)) : 1000
            let ready = epoll_wait(loopEpoll, &events, Int32(events.count), wait)
            if ready > 0, events[0..<Int(ready)].contains(where: { $0.data.fd == wakeup }) {
                var count: UInt64 = 0
                _ = read(wakeup, &count, 8)
            }
            let (quiesce, stop) = commands.withLock { ($0.quiesce && !$0.quiesced, $0.stop) }
            if quiesce {
                // Stop accepting; the listening socket is ours now, and closing it makes new connections fail fast.
                let listener = MHD_quiesce_daemon(daemon.pointer)
                if listener >= 0 { close(listener) }
                commands.withLock { $0.quiesced = true }
            }
            if stop { break }
            _ = MHD_run(daemon.pointer)
        }
        context.wakeup.store(-1, ordering: .relaxed)
        close(loopEpoll)
        close(wakeup)
        commands.withLock { $0.stopped = true }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)
    }

    /// Asks the loop to stop accepting and waits until it has.
    func quiesce() async {
        commands.withLock { $0.quiesce = true }
        wake()
        while !commands.withLock({ $0.quiesced || $0.stopped }) { try? await Task.sleep(for: .milliseconds(2)) }
    }

    /// Ends the loop and waits until the thread has left MHD for good; then the daemon may be stopped.
    func stop() async {
        commands.withLock { $0.stop = true }
        wake()
        while !commands.withLock({ $0.stopped }) { try? await Task.sleep(for: .milliseconds(2)) }
    }
}
