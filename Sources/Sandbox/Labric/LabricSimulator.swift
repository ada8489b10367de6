import Foundation
import MicroHTTPServer
import NIOCore
import Synchronization

/// A stand-in for the Labric platform API as the official Python SDK (labric 0.14.17) sees it: every route under
/// `/api/v1/...` with the SDK's field names, bare arrays for lists, `{"detail": ...}` errors, API keys with scopes, and
/// the signed-URL storage that `client.files.upload` PUTs to, served by this same responder under `/_storage/`.
/// State lives in memory. Tables written through `data/write` are created on first use, with column types inferred
/// from the values, so that a script can write, read, query and inspect the schema without any setup.
///
/// Storage URLs (`upload_url`, `download_url`, mask URLs) must be absolute. They are built from `publicBaseURL` when it
/// is set, otherwise from the request's `Host` header as `http://<Host>`: that is the simulator's own address both when
/// a client calls it directly and when labgate forwards to it (labgate sends the upstream's `Host`). Set
/// `publicBaseURL` when clients reach the simulator under another name (Docker, a proxy that keeps `Host`).
public struct LabricSimulator: HTTPResponder {
    public enum Scope: String, Sendable, CaseIterable {
        case read, write, admin
    }

    /// An API key `lbk_<prefix>_<secret>` and what it may do. `admin` implies `read` and `write`.
    public struct APIKey: Sendable {
        public var key: String
        public var name: String
        public var scopes: Set<Scope>

        public init(_ key: String, name: String = "sandbox key", scopes: Set<Scope>) {
            self.key = key
            self.name = name
            self.scopes = scopes
        }

        /// A fresh random key in Labric's format.
        public static func generate(name: String = "sandbox key", scopes: Set<Scope>) -> APIKey {
            APIKey("lbk_\(LabricIDs.hex(4))_\(LabricIDs.hex(16))", name: name, scopes: scopes)
        }

        func allows(_ scope: Scope) -> Bool { scopes.contains(scope) || scopes.contains(.admin) }
    }

    /// Limits and pacing; the defaults are the platform's documented limits.
    public struct Configuration: Sendable {
        /// The size cap of a signed upload (`x-goog-content-length-range`) and of confirmed files.
        public var maxUploadBytes = 500 * 1024 * 1024
        /// The platform edge rejects larger request bodies with 413.
        public var maxRequestBodyBytes = 4_500_000
        /// How long an upload URL works.
        public var uploadURLLifetime: TimeInterval = 15 * 60
        /// Notifications accepted per rolling hour before 429.
        public var notificationsPerHour = 30
        /// Pause between streamed agent events, so that streaming is observable through a proxy.
        public var agentEventInterval: Duration = .milliseconds(15)
        /// Simulated time a model training takes.
        public var trainingDuration: TimeInterval = 5

        public init() {}
    }

    /// A routed API request with the key that authorised it.
    struct Call: Sendable {
        var request: HTTPServerRequest
        var parameters: [String: String]
        var key: APIKey

        subscript(name: String) -> String { parameters[name] ?? "" }
    }

    let store: LabricStore
    let keys: KeyRing
    let configuration: Configuration
    let clock: SandboxClock
    public let faults: FaultInjector?
    private var router = SandboxRouter()

    /// - Parameters:
    ///   - apiKeys: the keys the simulator accepts; any other bearer gets 401.
    ///   - configuration: limits and pacing.
    ///   - clock: the simulator's wall clock (upload URL expiry, execution timeouts, device status, training).
    ///   - faults: when given, every request passes through it first (control endpoints, injected faults).
    ///   - publicBaseURL: the absolute base of storage URLs, e.g. `http://127.0.0.1:8081`; see the type's summary.
    public init(
        apiKeys: [APIKey],
        configuration: Configuration = Configuration(),
        clock: SandboxClock = .system,
        faults: FaultInjector? = nil,
        publicBaseURL: String? = nil
    ) {
        self.store = LabricStore(instruments: LabricSeed.instruments, models: LabricSeed.models(at: clock.now()))
        self.keys = KeyRing(Self.index(apiKeys))
        self.configuration = configuration
        self.clock = clock
        self.faults = faults
        self.publicBaseURL = publicBaseURL
        router = Self.routes(for: self)
        // The control endpoint's rotation keeps the scopes of the first key (the sandbox has one, admin).
        faults?.onRotateCredential { [keys] newKey in
            keys.entries.withLock { keys in
                let scopes = keys.values.first?.scopes ?? [.admin]
                keys = Self.index([APIKey(newKey, name: "rotated", scopes: scopes)])
            }
        }
    }

    /// Accepts exactly `apiKeys` from now on: every other bearer, the previous keys included, gets 401.
    public func replaceAPIKeys(_ apiKeys: [APIKey]) {
        keys.entries.withLock { $0 = Self.index(apiKeys) }
    }

    private static func index(_ apiKeys: [APIKey]) -> [String: APIKey] {
        Dictionary(apiKeys.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// The accepted keys, shared by every copy of the simulator (it is a struct) and replaceable while it serves.
    final class KeyRing: Sendable {
        let entries: Mutex<[String: APIKey]>
        init(_ entries: [String: APIKey]) { self.entries = Mutex(entries) }
    }

    /// The absolute base of storage URLs; nil means "from each request's Host header".
    public var publicBaseURL: String? {
        get { store.state.withLock { $0.publicBaseURL } }
        nonmutating set {
            let trimmed = newValue.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            store.state.withLock { $0.publicBaseURL = trimmed }
        }
    }

    public func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        guard let faults else { return try await serve(request) }
        return try await faults.respond(to: request) { try await self.serve($0) }
    }

    func serve(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        switch router.match(method: request.method, path: request.path) {
        case .found(let handler, let parameters):
            do {
                return try await handler(SandboxRouter.Routed(request: request, parameters: parameters))
            } catch let error as LabricAPIError {
                return error.response
            }
        case .methodNotAllowed(let allowed):
            return .json(
                ["detail": "Method not allowed"], status: 405, headers: ["Allow": allowed.joined(separator: ", ")])
        case .notFound:
            return .json(["detail": "Not Found"], status: 404)
        }
    }

    /// The bearer's key, if it may use `scope`. Ninja's HttpBearer answers 401 `{"detail": "Unauthorized"}`.
    func authenticate(_ request: HTTPServerRequest, _ scope: Scope) throws(LabricAPIError) -> APIKey {
        guard let header = request.headers["Authorization"],
            header.count > 7, header.prefix(7).lowercased() == "bearer ",
            let key = keys.entries.withLock({ $0[header.dropFirst(7).trimmingCharacters(in: .whitespaces)] })
        else {
            faults?.increment("labric.unauthorized")
            throw LabricAPIError(401, "Unauthorized")
        }
        guard key.allows(scope) else {
            throw LabricAPIError(403, "This API key does not have the '\(scope.rawValue)' scope")
        }
        return key
    }

    private static func routes(for simulator: LabricSimulator) -> SandboxRouter {
        var router = SandboxRouter()
        typealias Handler = @Sendable (LabricSimulator, Call) async throws -> HTTPServerResponse
        func api(_ method: String, _ pattern: String, _ scope: Scope, _ handler: @escaping Handler) {
            router.add(method, "/api/v1" + pattern) { routed in
                let key = try simulator.authenticate(routed.request, scope)
                return try await handler(
                    simulator, Call(request: routed.request, parameters: routed.parameters, key: key))
            }
        }
        api("GET", "/files", .read) { try await $0.listFiles($1) }
        api("POST", "/files", .write) { try await $0.uploadMultipart($1) }
        api("POST", "/files/upload-url", .write) { try await $0.createUploadURL($1) }
        api("POST", "/files/:id/confirm-upload", .write) { try await $0.confirmUpload($1) }
        api("GET", "/files/:id/content", .read) { try await $0.fileContent($1) }
        api("GET", "/images/:id/annotations", .read) { try await $0.listAnnotations($1) }
        api("POST", "/images/:id/annotations", .write) { try await $0.annotate($1) }
        api("GET", "/instruments/:id/device-status", .read) { try await $0.deviceStatus($1) }
        api("GET", "/jobs", .read) { try await $0.listJobs($1) }
        api("POST", "/jobs", .write) { try await $0.createJob($1) }
        api("PATCH", "/jobs/:id", .write) { try await $0.updateJob($1) }
        api("POST", "/job-executions", .write) { try await $0.startExecution($1) }
        api("PATCH", "/job-executions/:id", .write) { try await $0.closeExecution($1) }
        api("POST", "/job-executions/:id/revert", .write) { try await $0.revertExecution($1) }
        api("POST", "/data/write", .write) { try await $0.writeData($1) }
        api("POST", "/tools/read", .read) { try await $0.readTable($1) }
        api("POST", "/tools/write", .write) { try await $0.legacyWrite($1) }
        api("POST", "/tools/batch-write", .write) { try await $0.legacyBatchWrite($1) }
        api("POST", "/tools/query", .read) { try await $0.query($1) }
        api("GET", "/tools/schema", .read) { try await $0.schema($1) }
        api("GET", "/ml-models", .read) { try await $0.listModels($1) }
        api("POST", "/ml-models", .write) { try await $0.trainModel($1) }
        api("POST", "/ml-models/predict", .read) { try await $0.predict($1) }
        api("GET", "/ml-models/:id", .read) { try await $0.getModel($1) }
        api("POST", "/ml-models/:id/cancel-training", .write) { try await $0.cancelTraining($1) }
        api("POST", "/notifications", .write) { try await $0.sendNotification($1) }
        api("POST", "/agent/runs", .read) { try await $0.runAgent($1) }
        // Storage is reached with the URL's token alone, like a signed URL: no Authorization.
        router.add("PUT", "/_storage/:token") { try await simulator.storagePut($0) }
        router.add("GET", "/_storage/:token") { try await simulator.storageGet($0) }
        return router
    }
}
