extension GatewayConfiguration {
    /// The Genie upstream: its Public API URL and the long-lived public token.
    public struct GenieUpstream: Sendable, Equatable {
        /// The Public API URL as configured, without a trailing `/`, e.g. `https://HOST/public/v1`.
        public let apiURL: String
        /// Scheme, host and port of `apiURL`, e.g. `https://HOST`: where the private API and `/authn/login` live.
        public let origin: String
        /// The path of `apiURL`, e.g. `/public/v1`: `/genie` requests under it carry the public token.
        public let publicPath: String
        /// `apiURL` parsed, for the forwarding code.
        public let upstreamOrigin: UpstreamOrigin
        /// The public API token (the contents of Genie's `token.txt`).
        public let token: Secret

        /// Checks and splits the Public API URL.
        /// - Throws: `ConfigurationError` when the URL is not `http(s)://host[:port]/path`: the path is required
        ///   because it is what tells public requests from private ones.
        public init(apiURL: String, token: Secret) throws(ConfigurationError) {
            let key = ConfigurationKey.genieAPIURL
            let origin = try Self.parse(apiURL, key: key, example: "https://HOST/public/v1")
            guard !origin.basePath.isEmpty else {
                throw ConfigurationError(
                    "\(key): \"\(apiURL)\" has no path; use the Public API URL, e.g. \(origin.origin)/public/v1."
                )
            }
            self.apiURL = origin.origin + origin.basePath
            self.origin = origin.origin
            self.publicPath = origin.basePath
            self.upstreamOrigin = origin
            self.token = token
        }

        /// Parses an upstream URL, with a problem that names the key when it is unusable.
        static func parse(_ url: String, key: ConfigurationKey, example: String) throws(ConfigurationError)
            -> UpstreamOrigin
        {
            // User info may hold a password: never echo such a URL back.
            let shown = url.contains("@") ? "the value" : "\"\(url)\""
            guard let origin = UpstreamOrigin(url) else {
                throw ConfigurationError(
                    "\(key): \(shown) is not an http(s) URL with a host and no user info, query or fragment,"
                        + " e.g. \(example)."
                )
            }
            return origin
        }
    }

    /// The Labric upstream: its base URL and API key.
    public struct LabricUpstream: Sendable, Equatable {
        /// The default base URL, Labric's hosted platform.
        public static let defaultBaseURL = "https://platform.labric.co"

        /// The base URL without a trailing `/`: `/labric/<rest>` goes to `{baseURL}/<rest>`.
        public let baseURL: String
        /// `baseURL` parsed, for the forwarding code.
        public let upstreamOrigin: UpstreamOrigin
        /// The Labric API key (`lbk_...`).
        public let apiKey: Secret

        /// Checks the base URL.
        /// - Throws: `ConfigurationError` when it is not `http(s)://host[:port][/path]`.
        public init(baseURL: String = LabricUpstream.defaultBaseURL, apiKey: Secret) throws(ConfigurationError) {
            let origin = try GenieUpstream.parse(baseURL, key: .labricBaseURL, example: Self.defaultBaseURL)
            self.baseURL = origin.origin + origin.basePath
            self.upstreamOrigin = origin
            self.apiKey = apiKey
        }
    }
}
