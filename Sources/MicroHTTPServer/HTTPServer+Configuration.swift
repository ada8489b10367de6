extension HTTPServer {
    /// Everything the server can be told. The defaults suit a local gateway on a small machine.
    public struct Configuration: Sendable {
        /// Address to listen on; "127.0.0.1" unless told otherwise.
        public var host: String = "127.0.0.1"
        /// Port to listen on; 0 lets the OS choose (read it back from `HTTPServer.port`).
        public var port: Int = 8080
        /// Most connections open at once; more wait in the listen backlog.
        public var connectionLimit: Int = 4096
        /// libmicrohttpd's per-connection memory, which holds the request head and the response head; half of it is
        /// the read buffer (the upload slice). It stays resident for every open connection, since MHD zeroes all of
        /// it after each request. nil: `maxHeaderBytes` + 8 KiB, at least 16 KiB (24 KiB by default; 1,000 idle
        /// keep-alive connections take about 25 MiB of it).
        public var connectionMemoryLimit: Int? = nil
        /// Seconds an idle connection stays open.
        public var idleTimeout: Int = 60
        /// Request line plus header fields larger than this get 431 JSON (heads beyond what fits in the connection's
        /// memory get libmicrohttpd's own 431).
        public var maxHeaderBytes: Int = 16 << 10
        /// Request bodies larger than this get 413; nil means no limit.
        public var maxBodyBytes: Int? = nil
        /// An exchange still running after this long is ended (the client sees the connection close).
        public var requestTimeout: Duration = .seconds(600)
        /// Bytes buffered per direction per exchange before the producer is paused.
        public var streamBufferBytes: Int = 256 << 10
        /// Serve HTTPS with these PEM files instead of plain HTTP.
        public var tls: TLS? = nil
        /// Event-loop threads, each with its own libmicrohttpd daemon on one shared listening socket; a connection
        /// stays on the loop that accepted it. `connectionLimit` is shared out among them.
        public var loops: Int = 1
        /// Each loop runs on a CPU of its own (the n-th CPU the process may use), when there are at least two loops
        /// and no more loops than such CPUs. Unpinned, two loops that never wait (a saturated machine) can land on
        /// one CPU and take turns at the scheduler's tick, 4 ms each, stalling the other's connections meanwhile
        /// (issue 7, docs/DECISIONS.md).
        public var pinLoops: Bool = false

        public init() {}

        /// `connectionMemoryLimit`, or the size made for `maxHeaderBytes`.
        public var effectiveConnectionMemory: Int {
            connectionMemoryLimit ?? ConnectionMemory.poolBytes(forMaxHeaderBytes: maxHeaderBytes)
        }

        public init(host: String = "127.0.0.1", port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// PEM certificate chain and private key for HTTPS.
    public struct TLS: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String

        public init(certificatePEM: String, privateKeyPEM: String) {
            self.certificatePEM = certificatePEM
            self.privateKeyPEM = privateKeyPEM
        }
    }
}
