import Synchronization

/// The credential a simulator accepts right now, replaceable while it serves: tests rotate it to check that the
/// gateway picks up a new credential (and that the old one is refused from then on).
public final class AcceptedCredential: Sendable {
    private let storage: Mutex<String>

    public init(_ value: String) {
        storage = Mutex(value)
    }

    /// The accepted value.
    public var value: String { storage.withLock { $0 } }

    /// Accepts `newValue` from now on, and only it.
    public func rotate(to newValue: String) {
        storage.withLock { $0 = newValue }
    }
}
