import Foundation
import MicroHTTPServer

/// A small route table for the simulators: a method plus a path pattern whose segments are literals, `:name`
/// (one segment, percent-decoded) or a final `*name` (the rest of the path). A trailing slash is ignored, as the
/// vendors' servers do (`/public/v1/instruments/` lists too).
public struct SandboxRouter: Sendable {
    /// A matched request: the request itself and the values of the pattern's named segments.
    public struct Routed: Sendable {
        public var request: HTTPServerRequest
        public var parameters: [String: String]

        /// The value of a named segment; patterns guarantee it exists once matched.
        public subscript(name: String) -> String { parameters[name] ?? "" }
    }

    public typealias Handler = @Sendable (Routed) async throws -> HTTPServerResponse

    /// What a path resolves to.
    public enum Match: Sendable {
        case found(Handler, parameters: [String: String])
        /// The path exists with other methods (for a 405 with `Allow`).
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    private struct Route: Sendable {
        var method: String
        var segments: [Segment]
        var handler: Handler
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route; earlier routes win when several match.
    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            if part.hasPrefix(":") { return .parameter(String(part.dropFirst())) }
            if part.hasPrefix("*") { return .rest(String(part.dropFirst())) }
            return .literal(String(part))
        }
        routes.append(Route(method: method.uppercased(), segments: segments, handler: handler))
    }

    /// Resolves a path (without query) and method.
    public func match(method: String, path: Substring) -> Match {
        let parts = path.split(separator: "/")
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Self.bind(route.segments, to: parts) else { continue }
            if route.method == method.uppercased() { return .found(route.handler, parameters: parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// Runs the matching handler; nil when nothing matches the path or the method, so the caller picks its own
    /// 404/405 shape (Genie and Labric answer errors differently). Use `match` to tell the two apart.
    public func route(_ request: HTTPServerRequest) async throws -> HTTPServerResponse? {
        guard case .found(let handler, let parameters) = match(method: request.method, path: request.path) else {
            return nil
        }
        return try await handler(Routed(request: request, parameters: parameters))
    }

    private static func bind(_ segments: [Segment], to parts: [Substring]) -> [String: String]? {
        var parameters: [String: String] = [:]
        var index = 0
        for segment in segments {
            switch segment {
            case .literal(let literal):
                guard index < parts.count, parts[index] == literal else { return nil }
            case .parameter(let name):
                guard index < parts.count else { return nil }
                let raw = String(parts[index])
                parameters[name] = raw.removingPercentEncoding ?? raw
            case .rest(let name):
                let rest = parts[min(index, parts.count)...].joined(separator: "/")
                parameters[name] = rest.removingPercentEncoding ?? rest
                return parameters
            }
            index += 1
        }
        return index == parts.count ? parameters : nil
    }
}
