import Foundation

/// A process's memory and open files as Linux reports them in `/proc/PID`: this test process, or a child such as the
/// `labgate` binary under test.
public struct ProcessStatus: Sendable {
    /// The `/proc` entry: `self` or a process id.
    let entry: String

    /// This process.
    public static let current = ProcessStatus(entry: "self")

    /// The process `pid` (readable for our own children).
    public init(pid: Int32) { entry = "\(pid)" }

    private init(entry: String) { self.entry = entry }

    /// Resident set size in bytes, -1 when unreadable.
    public var resident: Int { field("VmRSS") }

    /// Peak resident set size since the last `resetPeak()`, -1 when unreadable.
    public var peakResident: Int { field("VmHWM") }

    /// Open file descriptors (entries of `/proc/PID/fd`), -1 when unreadable.
    public var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(entry)/fd").count) ?? -1
    }

    /// The inodes of the process's sockets: the `socket:[inode]` targets of its `/proc/PID/fd` links, which the
    /// kernel's socket tables (`/proc/PID/net/tcp` and the others, every process's sockets) name in a column.
    var socketInodes: Set<Substring> {
        let directory = "/proc/\(entry)/fd"
        let links = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(
            links.compactMap { name -> Substring? in
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name),
                    target.hasPrefix("socket:[")
                else { return nil }
                return Substring(target.dropFirst("socket:[".count).dropLast())
            })
    }

    /// The process's TCP sockets bound to `port` on any address, listening or not.
    public func tcpSockets(onPort port: Int) -> Int {
        let portSuffix = ":" + String(format: "%04X", port)
        // Columns: sl, local_address (hex address:port), rem_address, st, …
        return ownSocketRows(in: ["tcp", "tcp6"]).filter { $0.columns[1].hasSuffix(portSuffix) }.count
    }

    /// The rows of the kernel's socket tables (`/proc/PID/net/TABLE`: `tcp`, `tcp6`, `udp`, `unix`, which list every
    /// process's sockets) that are this process's, split into columns; the inode column (the tenth, the seventh in
    /// `unix`) names them.
    public func ownSocketRows(in tables: [String]) -> [(table: String, columns: [Substring])] {
        let owned = socketInodes
        return tables.flatMap { table -> [(table: String, columns: [Substring])] in
            let inode = table == "unix" ? 6 : 9
            let text = (try? String(contentsOfFile: "/proc/\(entry)/net/\(table)", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").dropFirst().compactMap { line in
                let columns = line.split(separator: " ")
                return columns.count > inode && owned.contains(columns[inode]) ? (table, columns) : nil
            }
        }
    }

    /// Resets VmHWM to the current RSS (writing 5 to `/proc/PID/clear_refs`).
    public func resetPeak() {
        try? "5".write(toFile: "/proc/\(entry)/clear_refs", atomically: false, encoding: .utf8)
    }

    private func field(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(entry)/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return (line.split(separator: " ").compactMap { Int($0) }.first ?? -1) * 1024
        }
        return -1
    }
}
