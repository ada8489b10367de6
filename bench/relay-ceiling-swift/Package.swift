// swift-tools-version:6.0
// A probe for bench/cpu.sh and issue 7, not part of labgate: bench/relay-ceiling.c ported to Swift, written straight
// against libmicrohttpd without labgate's layers. Build: swift build -c release --package-path bench/relay-ceiling-swift
import PackageDescription

let package = Package(
    name: "RelayCeilingSwift",
    targets: [
        .systemLibrary(name: "CMHD"),
        .executableTarget(name: "RelayCeilingSwift", dependencies: ["CMHD"]),
    ]
)
