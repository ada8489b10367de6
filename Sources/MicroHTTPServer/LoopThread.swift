import CLoopThread
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A loop thread's name and the CPU it is pinned to, if any (`Configuration.pinLoops`).
///
/// Why pin: on a saturated machine the loops never wait, and two threads that never wait can share one CPU while
/// the other runs everything else; the scheduler then switches between them only at its tick. Measured on 2 cores
/// with wrk and the upstream beside labgate: loop threads ran 2–4.6 ms at a stretch (55 times in 2 s, against 3–7
/// for nginx's and HAProxy's workers) while the other loop waited, and labgate's p99 at 64 connections was 1.28×
/// nginx's (issue 7).
struct LoopThread: Sendable {
    /// The loop's number, in its name (`http-loop-0`).
    var index = 0
    /// The CPU to pin the thread to; nil leaves it to the scheduler.
    var cpu: Int32?

    /// The CPUs for `loops` loops, the n-th for loop n: nil unless `pinned`, at least two loops and no more loops
    /// than CPUs the process may use (two loops pinned to one CPU are the very case pinning is for).
    static func cpus(forLoops loops: Int, pinned: Bool) -> [Int32]? {
        guard pinned, loops > 1 else { return nil }
        let allowed = allowedCPUs()
        guard allowed.count >= loops else { return nil }
        return Array(allowed.prefix(loops))
    }

    /// The CPUs the calling thread may run on, ascending.
    static func allowedCPUs() -> [Int32] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = loop_thread_allowed_cpus(&cpus, Int32(cpus.count))
        return count > 0 ? Array(cpus.prefix(Int(count))) : []
    }

    /// Names and pins the calling thread, the loop's own, before its first round.
    func enter(logger: Logger) {
        loop_thread_name("http-loop-\(index)")
        guard let cpu, loop_thread_pin(cpu) != 0 else { return }
        // A container may forbid it; the loop then runs where the scheduler puts it.
        logger.notice(
            "loop thread not pinned", metadata: ["loop": "\(index)", "cpu": "\(cpu)", "errno": "\(errno)"])
    }
}
