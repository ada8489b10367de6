import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP upstream on 127.0.0.1 (port from the OS) that answers each connection by a script of raw bytes: what no
/// well-behaved server does (closing an idle keep-alive connection, going silent, cutting a body, sending garbage).
/// One thread per connection; `stop()` closes everything.
public final class ScriptedUpstream: Sendable {
    /// One accepted connection, as the script sees it (on the connection's own thread).
    public final class Connection: Sendable {
        let fd: Int32
        private let pending = Mutex([UInt8]())

        init(fd: Int32) { self.fd = fd }

        /// Reads until a request head is complete (a body is read with `readBody` or `readChunkedBody`); nil when the
        /// peer closed first.
        public func readRequestHead() -> String? {
            read { bytes in
                guard let end = Self.headEnd(bytes) else { return nil }
                defer { bytes.removeFirst(end) }
                return String(decoding: bytes[..<end], as: UTF8.self)
            }
        }

        /// Reads exactly `count` body bytes after the head, handing them to `deliver` as they come; false when the
        /// peer closed first.
        public func readBody(count: Int, _ deliver: ([UInt8]) -> Void) -> Bool {
            var remaining = count
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while remaining > 0 {
                let held = pending.withLock { bytes -> [UInt8] in
                    let taken = Array(bytes.prefix(remaining))
                    bytes.removeFirst(taken.count)
                    return taken
                }
                if !held.isEmpty {
                    deliver(held)
                    remaining -= held.count
                    continue
                }
                let received = recv(fd, &buffer, min(buffer.count, remaining), 0)
                if received <= 0 { return false }
                deliver(Array(buffer[..<received]))
                remaining -= received
            }
            return true
        }

        /// Reads a chunked body (chunk extensions and trailers skipped); nil when it is malformed or cut short.
        public func readChunkedBody() -> [UInt8]? {
            var body: [UInt8] = []
            while true {
                guard let line = readLine(), let size = Int(line.split(separator: ";").first ?? "", radix: 16) else {
                    return nil
                }
                if size == 0 {
                    while let trailer = readLine(), !trailer.isEmpty {}
                    return body
                }
                guard readBody(count: size, { body.append(contentsOf: $0) }), readLine() == "" else { return nil }
            }
        }

        /// One CRLF-ended line, without its CRLF.
        private func readLine() -> String? {
            read { bytes in
                guard let lf = bytes.firstIndex(of: 10), lf > 0, bytes[lf - 1] == 13 else { return nil }
                defer { bytes.removeFirst(lf + 1) }
                return String(decoding: bytes[..<(lf - 1)], as: UTF8.self)
            }
        }

        /// Reads until `take` finds what it wants in the bytes received so far (and removes it); nil when the peer
        /// closed first.
        private func read<T>(until take: (inout [UInt8]) -> T?) -> T? {
            var buffer = [UInt8](repeating: 0, count: 16 << 10)
            while true {
                if let found = pending.withLock({ take(&$0) }) { return found }
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { return nil }
                pending.withLock { $0.append(contentsOf: buffer[..<count]) }
            }
        }

        public func write(_ text: String) {
            var bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let sent = bytes.withUnsafeMutableBytes {
                    Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
                }
                if sent <= 0 { return }
                offset += sent
            }
        }

        /// Whether the peer closed within `timeout` (reads and drops anything else it sends).
        public func waitForClose(timeout: Duration) -> Bool {
            let deadline = ContinuousClock.now + timeout
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while ContinuousClock.now < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 50) > 0, recv(fd, &buffer, buffer.count, 0) <= 0 { return true }
            }
            return false
        }

        public func close() { shutdown(fd, Int32(SHUT_RDWR)) }

        private static func headEnd(_ bytes: [UInt8]) -> Int? {
            guard bytes.count >= 4 else { return nil }
            for index in 3..<bytes.count where bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 {
                return index + 1
            }
            return nil
        }
    }

    public let port: Int
    private let listener: Int32
    private let accepted = Atomic(0)
    private let open = Mutex([Int32]())
    private let stopped = Atomic(false)

    /// Starts listening; `script` runs once per accepted connection, which is closed when it returns.
    public init(_ script: @escaping @Sendable (_ index: Int, Connection) -> Void) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            Glibc.close(listener)
            throw RawClient.Failure(description: "scripted upstream: bind/listen errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 { return }
                if stopped.load(ordering: .relaxed) {
                    Glibc.close(fd)
                    return
                }
                let index = accepted.add(1, ordering: .relaxed).newValue - 1
                open.withLock { $0.append(fd) }
                Thread.detachNewThread {
                    script(index, Connection(fd: fd))
                    // Closed by its own thread, once out of `open`: closed elsewhere while a script still ran, the
                    // number could be reused by a later test's socket, which the script would then read or shut.
                    self.open.withLock { fds in
                        fds.removeAll { $0 == fd }
                        Glibc.close(fd)
                    }
                }
            }
        }
    }

    /// Connections accepted so far.
    public var connections: Int { accepted.load(ordering: .relaxed) }

    /// Stops accepting and breaks every open connection (their threads end on their next read or write).
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        open.withLock { fds in for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

}
