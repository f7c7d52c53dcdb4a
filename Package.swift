// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Daybook",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "daybook", targets: ["daybook"]),
        .library(name: "DaybookEngine", targets: ["DaybookEngine"]),
        .library(name: "DaybookCore", targets: ["DaybookCore"]),
        .library(name: "LMDB", targets: ["LMDB"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // C: Debian's liblmdb-dev, found through pkg-config. Only the LMDB target imports it.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // A thin safe layer over LMDB: environment, scoped transactions, cursors, typed errors.
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        // Pure domain: exact decimals, strict JSON, time, catalog, events, pricing. No I/O.
        .target(name: "DaybookCore"),
        // The store and the incremental engine: log, dedup, recompute, finalization, exports.
        .target(name: "DaybookEngine", dependencies: ["DaybookCore", "LMDB"]),
        // The command-line tool: parses arguments, calls the engine.
        .executableTarget(
            name: "daybook",
            dependencies: [
                "DaybookEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test support: temporary stores, event and catalog builders.
        .target(name: "DaybookTestSupport", dependencies: ["DaybookEngine"], path: "Tests/DaybookTestSupport"),
        // A helper the LMDB tests run as a second process (holding a write, growing the map, ...).
        .executableTarget(name: "lmdb-probe", dependencies: ["LMDB"], path: "Tests/Tools/lmdb-probe"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "lmdb-probe"]),
        .testTarget(name: "DaybookCoreTests", dependencies: ["DaybookCore"]),
        .testTarget(name: "DaybookEngineTests", dependencies: ["DaybookEngine", "DaybookTestSupport"]),
        .testTarget(
            name: "DaybookCLITests",
            dependencies: ["DaybookCore", "DaybookEngine", "DaybookTestSupport", "daybook"],
            exclude: ["Fixtures"]
        ),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
