/// Why an upstream exchange on the server's loop failed. Never carries header values or credentials.
public struct LinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// No connection could be made (refused, unreachable, connect timeout).
        case unreachable
        /// The upstream went silent for longer than the idle timeout.
        case timeout
        /// The connection broke, or the upstream's answer was not valid HTTP/1.1.
        case broken
        /// The request cannot be written as HTTP/1.1 (a control character in its target or a header).
        case badRequest
    }

    public var code: Code
    public var description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
