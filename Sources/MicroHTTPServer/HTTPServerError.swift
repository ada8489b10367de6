/// Errors the server hands to handlers (reading the body, writing the response).
public enum HTTPServerError: Error, Sendable, Equatable {
    /// The client closed the connection or the exchange was aborted (deadline, shutdown).
    case clientGone
    /// The request body is larger than the configured limit.
    case bodyTooLarge
    /// The body was already consumed: a request body can be read once.
    case bodyAlreadyConsumed
}
