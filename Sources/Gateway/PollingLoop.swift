import ServiceLifecycle

/// Calls `tick` every `interval` until graceful shutdown or cancellation: the loop of the file watchers (client
/// keys, credential and TLS files), which poll rather than use inotify so that a Kubernetes secret's symlink swap
/// and a file on any mount are seen the same way.
func pollUntilShutdown(every interval: Duration, _ tick: @escaping @Sendable () -> Void) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            tick()
        }
    }
}
