import CMicroHTTPD

#if canImport(Glibc)
    import Glibc
#endif

// What libmicrohttpd cannot see for us: a suspended connection neither times out nor notices its client leaving
// (MHD.md §2.6). The server's sweeper calls this a few times a second.
extension Exchange {
    var isSuspended: Bool { state.withLock { $0.suspended } }

    func sweep(now: ContinuousClock.Instant) {
        let end = state.withLock { state -> Bool in
            if state.aborted { return false }
            if now >= deadline { return true }
            // While `suspended` is set under this lock, MHD holds the socket open, so polling it is safe.
            guard state.suspended, socket >= 0 else { return false }
            var probe = pollfd(fd: socket, events: cmhd_pollrdhup, revents: 0)
            guard poll(&probe, 1, 0) == 1 else { return false }
            return probe.revents & (cmhd_pollrdhup | Int16(POLLHUP | POLLERR)) != 0
        }
        if end { abort() }
    }
}
