import Dispatch
import Logging
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A second SIGTERM or SIGINT ends the process at once, while the first one's graceful drain is still going: the
/// operator who presses Ctrl-C twice, or an orchestrator that gave up waiting, is not made to wait for the drain.
///
/// The first signal is the service group's (graceful shutdown); this service only counts. It is the group's first
/// service, so it is the last one told to shut down and keeps watching until everything else has drained. The exit
/// status is 128 + the signal's number, as if the signal had killed the process.
struct SecondSignalExit: Service {
    let logger: Logger

    func run() async {
        let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        let queue = DispatchQueue(label: "labgate.second-signal")
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        await cancelWhenGracefulShutdown {
            var seen = 0
            for await number in signals {
                seen += 1
                guard seen >= 2 else { continue }
                logger.warning(
                    "Second signal during the drain: exiting now", metadata: ["labgate.signal": "\(number)"])
                exit(128 + number)
            }
        }
        for source in sources { source.cancel() }
        continuation.finish()
    }
}
