import Synchronization

/// A secret that can be swapped atomically at run time (rotation). Its description never shows the value.
public final class SecretValue: Sendable, CustomStringConvertible {
    /// The value and its `Authorization` form, made once per value: a request reads it without building a string.
    private let storage: Mutex<(value: String, bearer: String)>

    public init(_ value: String) {
        storage = Mutex(Self.entry(value))
    }

    public var value: String { storage.withLock { $0.value } }

    /// `Bearer <value>`.
    public var bearer: String { storage.withLock { $0.bearer } }

    /// Replaces the value; returns whether it changed.
    @discardableResult
    public func replace(with newValue: String) -> Bool {
        storage.withLock { current in
            defer { current = Self.entry(newValue) }
            return current.value != newValue
        }
    }

    public var description: String { "(secret)" }

    private static func entry(_ value: String) -> (value: String, bearer: String) { (value, "Bearer " + value) }
}
