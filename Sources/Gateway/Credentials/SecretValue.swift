import Synchronization

/// A secret that can be swapped atomically at run time (rotation). Its description never shows the value.
public final class SecretValue: Sendable, CustomStringConvertible {
    private let storage: Mutex<String>

    public init(_ value: String) {
        storage = Mutex(value)
    }

    public var value: String { storage.withLock { $0 } }

    /// Replaces the value; returns whether it changed.
    @discardableResult
    public func replace(with newValue: String) -> Bool {
        storage.withLock { current in
            defer { current = newValue }
            return current != newValue
        }
    }

    public var description: String { "(secret)" }
}
