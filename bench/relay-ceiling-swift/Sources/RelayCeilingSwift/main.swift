import CMHD
import Glibc

// bench/relay-ceiling.c in Swift, written straight against libmicrohttpd: the same loops, parking, fields and
// answers, with a class per request and per upstream connection and closures for MHD's callbacks, as a Swift
// programmer would write it, without labgate's layers (exchange, request and response values, header lists, rules,
// metrics). It measures what Swift itself costs on the relay path (bench/RESULTS.md, issue 7, session 15).
//
// Usage: the command line and environment of `labgate serve` (LABRIC_API_BASE_URL=http://HOST:PORT,
// LABRIC_API_KEY, --host, --port), so that bench/cpu.sh can run it as LABGATE_B. Runs until killed.

/// Where requests go, and the fixed fields each carries.
final class Upstream: Sendable {
    let address: sockaddr_in
    /// "Host: h:p" CRLF "Authorization: Bearer key" CRLF.
    let fixedFields: [UInt8]
    let prefix = "/labric"

    init(base: String, key: String) {
        let hostPort = String(base.dropFirst("http://".count).split(separator: "/").first ?? "")
        let parts = hostPort.split(separator: ":")
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = (parts.count > 1 ? UInt16(parts[1]) ?? 80 : 80).bigEndian
        inet_pton(AF_INET, String(parts.first ?? ""), &address.sin_addr)
        self.address = address
        fixedFields = Array("Host: \(hostPort)\r\nAuthorization: Bearer \(key)\r\n".utf8)
    }
}

final class Request {
    var link: Link?
    var answered = false
    var failed = false
    var status: UInt32 = 502
    /// The upstream's head and body, owned.
    var answer: UnsafeMutableRawBufferPointer?
    var headLength = 0
    var bodyLength = 0

    deinit { answer?.deallocate() }
}

/// One keep-alive upstream connection.
final class Link {
    static let readBytes = 16 << 10
    let fd: Int32
    var request: Request?
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Link.readBytes, alignment: 8)
    var filled = 0

    init(fd: Int32) { self.fd = fd }
    deinit { buffer.deallocate() }
}

/// One thread: an epoll set with MHD's descriptor and the upstream connections, and MHD run after each wait.
final class Loop: @unchecked Sendable {
    let cpu: Int32
    let upstream: Upstream
    let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
    var daemon: OpaquePointer?
    var idle: [Link] = []
    var links: [Link] = []
    /// Handler calls in the last MHD run that found no answer yet.
    var parked = 0

    init(cpu: Int32, upstream: Upstream) {
        self.cpu = cpu
        self.upstream = upstream
    }

    func open() -> Link? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = upstream.address
        // Blocking on loopback: new connections are made while the bench warms up.
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        let link = Link(fd: fd)
        links.append(link)
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.ptr = Unmanaged.passUnretained(link).toOpaque()
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
        return link
    }

    func readable(_ link: Link) {
        let n = recv(link.fd, link.buffer.baseAddress! + link.filled, Link.readBytes - link.filled, 0)
        if n <= 0 {
            if n < 0 && errno == EAGAIN { return }
            if let request = link.request {
                request.failed = true
                request.answered = true
                request.link = nil
            }
            link.request = nil
            // Also when it waits idle (the upstream closed it): it leaves the idle stack first.
            if let index = idle.firstIndex(where: { $0 === link }) { idle.remove(at: index) }
            epoll_ctl(epoll, EPOLL_CTL_DEL, link.fd, nil)
            close(link.fd)
            return
        }
        link.filled += n
        let bytes = UnsafeRawBufferPointer(start: link.buffer.baseAddress, count: link.filled)
        guard let end = rc_memmem(bytes.baseAddress, bytes.count, "\r\n\r\n", 4) else { return }
        let head = bytes.baseAddress!.distance(to: end) + 4
        guard let body = Self.contentLength(bytes, head), head + body <= link.filled else { return }
        link.filled = 0
        idle.append(link)
        guard let request = link.request else { return }  // its client left: dropped, the link reused
        var status: UInt32 = 0
        for index in 9..<12 { status = status * 10 + UInt32(bytes[index] &- 48) }
        request.status = status
        let answer = UnsafeMutableRawBufferPointer.allocate(byteCount: head + body, alignment: 1)
        answer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<head + body]))
        request.answer = answer
        request.headLength = head
        request.bodyLength = body
        request.answered = true
        request.link = nil
        link.request = nil
    }

    static func contentLength(_ bytes: UnsafeRawBufferPointer, _ end: Int) -> Int? {
        let base = bytes.baseAddress!
        var start = 0
        while start < end {
            guard let lf = memchr(base + start, 10, end - start) else { return nil }
            let lineEnd = base.distance(to: lf)
            if lineEnd - start > 15,
                strncasecmp(base.assumingMemoryBound(to: CChar.self) + start, "content-length:", 15) == 0
            {
                var value = 0
                for index in (start + 15)..<lineEnd where bytes[index] >= 48 && bytes[index] <= 57 {
                    value = value * 10 + Int(bytes[index] - 48)
                }
                return value
            }
            start = lineEnd + 1
        }
        return nil
    }

    func run() {
        _ = rc_pin(cpu)
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        MHD_run(daemon)
        while true {
            var timeout: UInt64 = 0
            let hasTimeout = MHD_get_timeout(daemon, &timeout) == .YES
            let wait = hasTimeout ? Int32(min(timeout, 500)) : 500
            var ready = epoll_wait(epoll, &events, 64, wait)
            // The same linger as labgate's loop: the parked requests' answers are on their way.
            if ready == 0 && wait == 0 && parked > 0 { ready = epoll_wait(epoll, &events, 64, 1) }
            for index in 0..<Int(max(ready, 0)) {
                guard let pointer = events[index].data.ptr else { continue }  // MHD's descriptor
                readable(Unmanaged<Link>.fromOpaque(pointer).takeUnretainedValue())
            }
            parked = 0
            MHD_run(daemon)
        }
    }

    /// Writes the request upstream on an idle connection or a new one; false when that failed.
    func send(_ connection: OpaquePointer, _ request: Request, method: UnsafePointer<CChar>, url: UnsafePointer<CChar>)
        -> Bool
    {
        guard let link = idle.popLast() ?? open() else { return false }
        return withUnsafeTemporaryAllocation(byteCount: 8192, alignment: 8) { space in
            var writer = HeadWriter(space: space)
            writer.put(method, strlen(method))
            writer.put(" ", 1)
            var path = url
            if strncmp(url, upstream.prefix, 7) == 0 { path = url + 7 }
            if path.pointee == 0 { writer.put("/", 1) } else { writer.put(path, strlen(path)) }
            writer.put(" HTTP/1.1\r\n", 11)
            upstream.fixedFields.withUnsafeBytes { writer.put($0.baseAddress!, $0.count) }
            withUnsafeMutablePointer(to: &writer) { pointer in
                _ = MHD_get_connection_values_n(connection, .HEADER_KIND, Callbacks.forwardField, pointer)
            }
            writer.put("\r\n", 2)
            guard Glibc.send(link.fd, space.baseAddress, writer.length, Int32(MSG_NOSIGNAL)) == writer.length else {
                return false
            }
            link.request = request
            link.filled = 0
            request.link = link
            return true
        }
    }
}

struct HeadWriter {
    let space: UnsafeMutableRawBufferPointer
    var length = 0

    mutating func put(_ bytes: UnsafeRawPointer, _ count: Int) {
        guard length + count <= space.count else { return }
        (space.baseAddress! + length).copyMemory(from: bytes, byteCount: count)
        length += count
    }
}

/// MHD's callbacks, as C function pointers.
enum Callbacks {
    /// The client's fields go upstream but Host, Connection and Authorization.
    static let forwardField: MHD_KeyValueIteratorN = { cls, _, key, keySize, value, valueSize in
        guard let cls, let key else { return .YES }
        if (keySize == 4 && strncasecmp(key, "host", 4) == 0)
            || (keySize == 10 && strncasecmp(key, "connection", 10) == 0)
            || (keySize == 13 && strncasecmp(key, "authorization", 13) == 0)
        {
            return .YES
        }
        let writer = cls.assumingMemoryBound(to: HeadWriter.self)
        writer.pointee.put(key, keySize)
        writer.pointee.put(": ", 2)
        if let value { writer.pointee.put(value, valueSize) }
        writer.pointee.put("\r\n", 2)
        return .YES
    }

}

/// The answer's fields go back but the framing and hop-by-hop ones (MHD sets the length).
func isReturned(_ name: UnsafePointer<CChar>, _ length: Int) -> Bool {
    switch length {
    case 10: strncasecmp(name, "connection", 10) != 0 && strncasecmp(name, "keep-alive", 10) != 0
    case 14: strncasecmp(name, "content-length", 14) != 0
    case 17: strncasecmp(name, "transfer-encoding", 17) != 0
    default: true
    }
}

func respond(_ connection: OpaquePointer, _ request: Request) -> MHD_Result {
    guard !request.failed, let answer = request.answer else {
        let response = MHD_create_response_from_buffer(0, nil, .RESPMEM_PERSISTENT)
        defer { MHD_destroy_response(response) }
        return MHD_queue_response(connection, 502, response)
    }
    let base = answer.baseAddress!.assumingMemoryBound(to: CChar.self)
    let response = MHD_create_response_from_buffer(
        request.bodyLength, answer.baseAddress! + request.headLength, .RESPMEM_MUST_COPY)
    defer { MHD_destroy_response(response) }
    // The fields after the status line, NUL-terminated where they lie (MHD copies them).
    var start = base.distance(to: strchr(base, 10)!) + 1
    let headEnd = request.headLength - 2
    while start < headEnd, let lf = memchr(base + start, 10, headEnd - start) {
        let lineEnd = UnsafeRawPointer(base).distance(to: lf)
        if let colonPointer = memchr(base + start, 58, lineEnd - start) {
            let colon = UnsafeRawPointer(base).distance(to: colonPointer)
            if isReturned(base + start, colon - start) {
                var valueStart = colon + 1
                while base[valueStart] == 32 { valueStart += 1 }
                var valueEnd = lineEnd
                if valueEnd > valueStart && base[valueEnd - 1] == 13 { valueEnd -= 1 }
                base[colon] = 0
                base[valueEnd] = 0
                MHD_add_response_header(response, base + start, base + valueStart)
            }
        }
        start = lineEnd + 1
    }
    return MHD_queue_response(connection, request.status, response)
}

extension Callbacks {
    static let handler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, _, uploadSize, requestSlot in
        let loop = Unmanaged<Loop>.fromOpaque(cls!).takeUnretainedValue()
        guard let existing = requestSlot!.pointee else {
            let request = Request()
            requestSlot!.pointee = Unmanaged.passRetained(request).toOpaque()
            if !loop.send(connection!, request, method: method!, url: url!) {
                request.failed = true
                request.answered = true
            }
            return .YES
        }
        if uploadSize!.pointee != 0 {
            uploadSize!.pointee = 0  // bodies are not forwarded here
            return .YES
        }
        let request = Unmanaged<Request>.fromOpaque(existing).takeUnretainedValue()
        guard request.answered else {
            loop.parked += 1
            return .YES  // parked: MHD calls again in its next run
        }
        return respond(connection!, request)
    }

    static let completed: MHD_RequestCompletedCallback = { _, _, requestSlot, _ in
        guard let pointer = requestSlot?.pointee else { return }
        let request = Unmanaged<Request>.fromOpaque(pointer).takeRetainedValue()
        request.link?.request = nil  // an answer still coming is read and dropped
        requestSlot!.pointee = nil
    }
}

func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = "relay-ceiling-swift: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(status)
}

func main() {
    var host = "127.0.0.1"
    var port: UInt16 = 8080
    let arguments = CommandLine.arguments
    for index in arguments.indices.dropLast() {
        if arguments[index] == "--host" { host = arguments[index + 1] }
        if arguments[index] == "--port" { port = UInt16(arguments[index + 1]) ?? port }
    }
    guard let base = getenv("LABRIC_API_BASE_URL").map({ String(cString: $0) }), base.hasPrefix("http://"),
        let key = getenv("LABRIC_API_KEY").map({ String(cString: $0) })
    else {
        fail("set LABRIC_API_BASE_URL=http://HOST:PORT and LABRIC_API_KEY", status: 2)
    }
    let upstream = Upstream(base: base, key: key)
    signal(SIGPIPE, SIG_IGN)

    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0, listen(listener, SOMAXCONN) == 0 else {
        fail("cannot listen on \(host):\(port)")
    }
    for cpu in 0..<2 {
        let loop = Loop(cpu: Int32(cpu), upstream: upstream)
        let context = Unmanaged.passRetained(loop).toOpaque()  // for the process's life
        loop.daemon = rc_start(Callbacks.handler, context, listener, Callbacks.completed)
        guard loop.daemon != nil else {
            fail("MHD_start_daemon failed")
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.ptr = nil
        epoll_ctl(loop.epoll, EPOLL_CTL_ADD, rc_epoll_fd(loop.daemon), &event)
        var thread = pthread_t()
        pthread_create(
            &thread, nil,
            { context in
                Unmanaged<Loop>.fromOpaque(context!).takeUnretainedValue().run()
                return nil
            }, context)
    }
    while true { pause() }
}

main()
