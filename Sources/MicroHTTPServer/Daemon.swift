import CMicroHTTPD
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Starting and stopping the libmicrohttpd daemon, and its daemon-wide callbacks.
enum Daemon {
    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts the daemon with the flags and options of MHD.md §1, except that `DaemonLoop` drives it instead of an
    /// internal thread; `context` must outlive it.
    /// - Parameter listener: a listening socket shared with the server's other daemons (`listen(_:)`), or nil for
    ///   the daemon to bind its own.
    static func start(_ context: ServerContext, listener: Int32? = nil) throws(StartError) -> DaemonHandle {
        let configuration = context.configuration
        var address = try socketAddress(host: configuration.host, port: configuration.port)
        var flags =
            MHD_USE_EPOLL.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
        if address.isIPv6 { flags |= MHD_USE_IPv6.rawValue }
        let contextPointer = Unmanaged.passUnretained(context).toOpaque()
        var certificate: UnsafeMutablePointer<CChar>?
        var key: UnsafeMutablePointer<CChar>?
        defer {
            free(certificate)
            free(key)
        }
        var options: [MHD_OptionItem] = [
            item(.CONNECTION_LIMIT, configuration.connectionLimit),
            item(.CONNECTION_MEMORY_LIMIT, configuration.effectiveConnectionMemory),
            item(.CONNECTION_TIMEOUT, configuration.idleTimeout),
            item(.URI_LOG_CALLBACK, unsafeBitCast(uriLogCallback, to: Int.self), contextPointer),
            item(.NOTIFY_COMPLETED, unsafeBitCast(requestCompleted, to: Int.self), contextPointer),
            item(.UNESCAPE_CALLBACK, unsafeBitCast(keepEscaped, to: Int.self)),
        ]
        let logTarget = UnsafeMutablePointer<cmhd_log_target>.allocate(capacity: 1)
        logTarget.initialize(to: cmhd_log_target(sink: logSink, cls: contextPointer))
        options.append(cmhd_logger_option(logTarget))
        if let tls = configuration.tls {
            flags |= MHD_USE_TLS.rawValue
            certificate = strdup(tls.certificatePEM)
            key = strdup(tls.privateKeyPEM)
            options.append(item(.HTTPS_MEM_CERT, 0, UnsafeMutableRawPointer(certificate)))
            options.append(item(.HTTPS_MEM_KEY, 0, UnsafeMutableRawPointer(key)))
        }
        if let listener { options.append(item(.LISTEN_SOCKET, Int(listener))) }
        let daemon = address.withPointer { sockaddr in
            if listener == nil { options.append(item(.SOCK_ADDR, 0, UnsafeMutableRawPointer(mutating: sockaddr))) }
            options.append(item(.END, 0))
            return options.withUnsafeMutableBufferPointer { buffer in
                cmhd_start_daemon(flags, 0, accessHandler, contextPointer, buffer.baseAddress)
            }
        }
        guard let daemon else {
            logTarget.deallocate()
            throw StartError(
                description:
                    "could not listen on \(configuration.host):\(configuration.port) (address in use, or bad TLS files?)"
            )
        }
        return DaemonHandle(pointer: daemon, logTarget: logTarget)
    }

    private static func item(_ option: MHD_OPTION, _ value: Int, _ pointer: UnsafeMutableRawPointer? = nil)
        -> MHD_OptionItem
    {
        MHD_OptionItem(option: option, value: value, ptr_value: pointer)
    }

    /// One listening socket per daemon (one per loop), all on the same port with `SO_REUSEPORT`: the kernel spreads
    /// new connections over them by their addresses, so the loops get about the same share. One socket shared by
    /// every daemon, accepted by whichever loop woke first, gave all of a burst of connections to one loop now and
    /// then while the other idled (16 connections: one loop at 0% in 5 one-second windows of 30; issue 7,
    /// session 16).
    ///
    /// A port another process holds stays an error: before the group binds, a socket without `SO_REUSEPORT` must be
    /// able to bind the port alone, which fails when anyone holds it, a reuse-port group (a second labgate) included.
    /// - Returns: the sockets and the port they are bound to.
    static func listen(_ configuration: HTTPServer.Configuration, count: Int) throws(StartError)
        -> (sockets: [Int32], port: Int)
    {
        let address = try socketAddress(host: configuration.host, port: configuration.port)
        let failure = StartError(
            description:
                "could not listen on \(configuration.host):\(configuration.port) (address in use, or bad TLS files?)")
        if configuration.port != 0 {
            guard let probe = bound(address, port: configuration.port, reusePort: false, listening: false) else {
                throw failure
            }
            close(probe)
        }
        var sockets: [Int32] = []
        var port = configuration.port
        for _ in 0..<max(count, 1) {
            guard let fd = bound(address, port: port, reusePort: true, listening: true) else {
                for fd in sockets { close(fd) }
                throw failure
            }
            if sockets.isEmpty { port = boundPort(fd) }  // the OS's choice for port 0, which the others then join
            sockets.append(fd)
        }
        return (sockets, port)
    }

    /// A non-blocking TCP socket bound to `address` at `port`, listening when asked; nil when it cannot be bound.
    private static func bound(_ address: SocketAddress, port: Int, reusePort: Bool, listening: Bool) -> Int32? {
        var address = address.withPort(port)
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        // As libmicrohttpd does for its own sockets: a restart may bind while old connections sit in TIME_WAIT.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        if address.isIPv6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let length = socklen_t(address.isIPv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        guard address.withPointer({ bind(fd, $0, length) }) == 0, !listening || Glibc.listen(fd, SOMAXCONN) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// The port a socket is bound to.
    private static func boundPort(_ fd: Int32) -> Int {
        var storage = sockaddr_in6()
        var storageLength = socklen_t(MemoryLayout<sockaddr_in6>.size)
        return withUnsafeMutablePointer(to: &storage) { pointer -> Int in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &storageLength) }
            // sin_port and sin6_port sit at the same offset.
            return Int(UInt16(bigEndian: pointer.pointee.sin6_port))
        }
    }

    /// An IPv4 or IPv6 socket address for a numeric host ("localhost" means 127.0.0.1).
    static func socketAddress(host: String, port: Int) throws(StartError) -> SocketAddress {
        guard (0...65535).contains(port) else { throw StartError(description: "port \(port) is out of range") }
        let name = host == "localhost" ? "127.0.0.1" : host
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, name, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            return .v4(v4)
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, name, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            return .v6(v6)
        }
        throw StartError(description: "'\(host)' is not a numeric IPv4 or IPv6 address")
    }

    enum SocketAddress {
        case v4(sockaddr_in)
        case v6(sockaddr_in6)

        var isIPv6: Bool {
            if case .v6 = self { return true }
            return false
        }

        /// The same address at another port.
        func withPort(_ port: Int) -> SocketAddress {
            switch self {
            case .v4(var address):
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                return .v4(address)
            case .v6(var address):
                address.sin6_port = in_port_t(UInt16(port).bigEndian)
                return .v6(address)
            }
        }

        mutating func withPointer<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
            switch self {
            case .v4(var address):
                return withUnsafePointer(to: &address) {
                    body(UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self))
                }
            case .v6(var address):
                return withUnsafePointer(to: &address) {
                    body(UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self))
                }
            }
        }
    }
}

// The C callbacks. They live outside main.swift (where they would be main-actor isolated and trap, MHD.md §6) and
// only translate and hand off.

private let uriLogCallback:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?) -> UnsafeMutableRawPointer? = {
        cls, uri, connection in
        guard let cls, let uri, let connection else { return nil }
        let context = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
        // The raw target, before MHD splits off the query and unescapes the path: a proxy must forward it as sent.
        var target = String(cString: uri)
        // MHD has ended the target where the space before the version was, so "HTTP/" follows that NUL. Anything
        // else means a NUL inside the target cut it short: keep a NUL, so the validator refuses it instead of the
        // shortened target being served (`GET /labric/a\0/../x` must not become `GET /labric/a`).
        if memcmp(uri + strlen(uri) + 1, "HTTP/", 5) != 0 { target += "\u{0}" }
        let exchange = Exchange(context: context, connection: connection, target: target)
        return Unmanaged.passRetained(exchange).toOpaque()
    }

/// MHD's unescaping left undone: the handlers read the raw target (`uriLogCallback`), never MHD's decoded path or
/// query arguments, and decoding them cost every request a pass over its target (callgrind, issue 7).
private let keepEscaped:
    @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int = {
        _, _, text in
        text.map { strlen($0) } ?? 0
    }

private let accessHandler: MHD_AccessHandlerCallback = {
    _, _, _, method, version, data, size, exchangePointer in
    guard let raw = exchangePointer?.pointee, let method, let version, let size else { return .NO }
    // Borrowed, not retained: MHD holds the exchange until its completion. A retained reference cost a retain and
    // a release on each of the three or so calls a request gets (callgrind, issue 7).
    return Unmanaged<Exchange>.fromOpaque(raw)._withUnsafeGuaranteedRef {
        $0.handle(method: method, version: version, data: data, size: size)
    }
}

private let requestCompleted: MHD_RequestCompletedCallback = { _, _, exchangePointer, termination in
    guard let exchangePointer, let raw = exchangePointer.pointee else { return }
    exchangePointer.pointee = nil
    let exchange = Unmanaged<Exchange>.fromOpaque(raw).takeRetainedValue()
    exchange.completed(ok: termination == .REQUEST_TERMINATED_COMPLETED_OK)
}

private let logSink: cmhd_log_sink = { cls, message in
    guard let cls, let message else { return }
    let context = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
    let text = String(cString: message).trimmingCharacters(in: "\n")
    context.logger.debug("libmicrohttpd: \(text)")
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var text = Substring(self)
        while text.last == character { text.removeLast() }
        return String(text)
    }
}
