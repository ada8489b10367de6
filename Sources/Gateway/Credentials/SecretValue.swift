import Synchronization

/// A secret that can be swapped atomically at run time (rotation). Its description never shows the value.
public final class SecretValue: Sendable, CustomStringConvertible {
    /// The value and its `Authorization` form, made once per value: a request reads it without building a string.
    private let storage: Mutex<(value: String, bearer: String)>
    /// How many times the value changed. A reader that keeps a copy (`LoopRoute`) checks this, a read both cores can
    /// hold at once, instead of taking the lock on every request (issue 7).
    private let changes = Atomic(0)

    public init(_ value: String) {
        storage = Mutex(Self.entry(value))
    }

    public var value: String { storage.withLock { $0.value } }

    /// `Bearer <value>`.
    public var bearer: String { storage.withLock { $0.bearer } }

    /// The number of changes so far (`replace` with a different value).
    public var changeCount: Int { changes.load(ordering: .acquiring) }

    /// `bearer` and the change count it belongs to, read together.
    public func bearerWithChangeCount() -> (bearer: String, changeCount: Int) {
        storage.withLock { ($0.bearer, changes.load(ordering: .relaxed)) }
    }

    /// Replaces the value; returns whether it changed.
    @discardableResult
    public func replace(with newValue: String) -> Bool {
        storage.withLock { current in
            guard current.value != newValue else { return false }
            current = Self.entry(newValue)
            changes.add(1, ordering: .releasing)
            return true
        }
    }

    public var description: String { "(secret)" }

    private static func entry(_ value: String) -> (value: String, bearer: String) { (value, "Bearer " + value) }
}
