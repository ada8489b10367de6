/// Why the configuration cannot be used: every problem found, not just the first, so that one run of
/// `labgate check-config` (or one failed start) tells the operator everything to fix.
///
/// Problems name keys, environment variables, flags and file paths, never a secret's value.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One human sentence per problem, in the order the keys are read.
    public var problems: [String]

    /// Creates an error from its problems.
    public init(problems: [String]) {
        self.problems = problems
    }

    /// Creates an error with a single problem.
    public init(_ problem: String) {
        self.problems = [problem]
    }

    /// A heading and one `- ` line per problem.
    public var description: String {
        let heading =
            problems.count == 1
            ? "The configuration has 1 problem:" : "The configuration has \(problems.count) problems:"
        return ([heading] + problems.map { "  - \($0)" }).joined(separator: "\n")
    }
}
