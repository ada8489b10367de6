import Dispatch
import Gateway
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// SIGHUP → `GatewayService.reload()` (the client keys file, the credential files, the TLS files), until
/// graceful shutdown. SIGHUP is ignored rather than fatal from the moment this service runs.
struct HangupReloader: Service {
    let gateway: GatewayService

    func run() async {
        signal(SIGHUP, SIG_IGN)
        let (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "labgate.sighup"))
        source.setEventHandler { continuation.yield() }
        source.resume()
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                gateway.reload(reason: "SIGHUP")
            }
        }
        source.cancel()
        continuation.finish()
    }
}
