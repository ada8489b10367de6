// swift-tools-version: 6.2
import PackageDescription

// The modules a proxied request runs through are built for speed in release builds (issue 7, docs/DECISIONS.md):
// - no run-time exclusivity checks: about 3,600 instructions per request. Debug builds, which `make test` runs, keep
//   them, so a violation still traps in the tests;
// - no type-layout-based lowering: copies and destroys of the request's many-field values (the response, the access
//   log's record) are made in line, not by interpreting a type layout through its value witnesses: 1,400 more.
let requestPath: [SwiftSetting] = [
    .unsafeFlags(
        ["-enforce-exclusivity=unchecked", "-Xfrontend", "-disable-type-layout"], .when(configuration: .release))
]

let package = Package(
    name: "labgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "labgate", targets: ["labgate"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["JSON", "YAML"]),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        // Pinning and naming the server's loop threads: GNU calls that Swift's Glibc module does not declare.
        .target(name: "CLoopThread"),
        .target(
            name: "MicroHTTPServer",
            dependencies: [
                "CMicroHTTPD",
                "CLoopThread",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: requestPath
        ),
        .target(
            name: "Sandbox",
            dependencies: [
                "MicroHTTPServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A lean HTTP/1.1 client for plain-http upstreams that runs on the server's own loop thread (issue 7).
        .target(
            name: "UpstreamLink",
            dependencies: [
                "MicroHTTPServer",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: requestPath
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "MicroHTTPServer",
                "UpstreamLink",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: requestPath
        ),
        .executableTarget(
            name: "labgate",
            dependencies: [
                "Gateway",
                "Sandbox",
                "MicroHTTPServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The "hello" server of `make bench`: MicroHTTPServer answering the same bytes as bench/hello.c.
        .executableTarget(
            name: "HelloServer",
            dependencies: ["MicroHTTPServer"]
        ),
        // What several test targets share: the byte pattern, its upstream and client, process memory readings.
        .target(
            name: "LabgateTestSupport",
            dependencies: [
                "MicroHTTPServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "MicroHTTPServerTests",
            dependencies: [
                "MicroHTTPServer",
                "LabgateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "UpstreamLinkTests",
            dependencies: [
                "UpstreamLink",
                "MicroHTTPServer",
                "LabgateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "SandboxTests",
            dependencies: ["Sandbox", "MicroHTTPServer"]
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway",
                "Sandbox",
                "MicroHTTPServer",
                "LabgateTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // Drive the built `labgate` binary with real clients (curl, the Labric SDK, the Genie example script).
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "Sandbox",
                "MicroHTTPServer",
                "LabgateTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
