/// What a client key may do on one upstream: `labric:read`, `genie:write`, `labric:admin`, ...
///
/// Levels are ordered: `admin` implies `write`, which implies `read`. Genie has `read` and `write`; Labric also has
/// `admin`. labgate decides the level a request needs from its method alone (`read` for GET, HEAD and OPTIONS,
/// `write` for everything else); `labric:admin` is accepted and stored so that keys say what their holders may do,
/// and grants what `write` grants (see docs/DECISIONS.md).
public struct ClientScope: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// An access level, lowest first.
    public enum Level: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
        case read = 1
        case write = 2
        case admin = 3

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .read: "read"
            case .write: "write"
            case .admin: "admin"
            }
        }

        /// The level a request with this method needs: `read` for GET, HEAD and OPTIONS, `write` for the rest
        /// (methods are case-sensitive in HTTP, so `get` is not a read).
        public static func required(forMethod method: String) -> Level {
            switch method {
            case "GET", "HEAD", "OPTIONS": .read
            default: .write
            }
        }
    }

    public var upstream: Route.Upstream
    public var level: Level

    public init(_ upstream: Route.Upstream, _ level: Level) {
        self.upstream = upstream
        self.level = level
    }

    /// The levels each upstream has.
    public static func levels(of upstream: Route.Upstream) -> [Level] {
        switch upstream {
        case .genie: [.read, .write]
        case .labric: [.read, .write, .admin]
        }
    }

    /// Every scope there is, in a stable order (for help texts and error messages).
    public static let all: [ClientScope] = Route.Upstream.allCases.sorted { $0.rawValue < $1.rawValue }.flatMap {
        upstream in levels(of: upstream).map { ClientScope(upstream, $0) }
    }

    /// Parses `upstream:level`, e.g. `labric:write`; nil for anything else (`genie:admin` included).
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let upstream = Route.Upstream(rawValue: String(parts[0])),
            let level = Level.allCases.first(where: { $0.description == parts[1] }),
            Self.levels(of: upstream).contains(level)
        else { return nil }
        self.init(upstream, level)
    }

    /// `labric:write`.
    public var description: String { "\(upstream.rawValue):\(level)" }

    /// Whether holding this scope allows `needed`: same upstream, at least the level.
    public func grants(_ needed: ClientScope) -> Bool {
        upstream == needed.upstream && level >= needed.level
    }

    public static func < (lhs: ClientScope, rhs: ClientScope) -> Bool {
        (lhs.upstream.rawValue, lhs.level.rawValue) < (rhs.upstream.rawValue, rhs.level.rawValue)
    }
}
