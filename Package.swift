// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Daybook",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "daybook", targets: ["daybook"]),
        .library(name: "DaybookEngine", targets: ["DaybookEngine"]),
        .library(name: "DaybookStore", targets: ["DaybookStore"]),
        .library(name: "DaybookOutput", targets: ["DaybookOutput"]),
        .library(name: "DaybookWorkload", targets: ["DaybookWorkload"]),
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
        // The store: LMDB databases, key layout, record codecs. What is on disk and how it is read back.
        .target(name: "DaybookStore", dependencies: ["DaybookCore", "LMDB"]),
        // Tables and their writers (text, CSV, NDJSON, JSON). No store, no engine.
        .target(name: "DaybookOutput", dependencies: ["DaybookCore"]),
        // The engine: the one writer, ingest pipeline, incremental recompute, finalization, drift,
        // catalog versions, verify, and the read queries over a read transaction.
        .target(name: "DaybookEngine", dependencies: ["DaybookCore", "DaybookStore", "DaybookOutput", "LMDB"]),
        // A seeded synthetic workload and the example catalog (demo, benchmarks, tests).
        .target(name: "DaybookWorkload", dependencies: ["DaybookCore"]),
        // Rooms for the next stages, each kept out of the core's dependency graph:
        //   DaybookSources   (file tail; JetStream through a CNATS .systemLibrary shim over libnats-dev)
        //   DaybookServer    (Hummingbird HTTP: ingest, read API, /metrics, dashboard)
        //   DaybookWarehouse (postgres-nio export)
        // The command-line tool: parses arguments, calls the engine.
        .executableTarget(
            name: "daybook",
            dependencies: [
                "DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test support: temporary stores, event and catalog builders.
        .target(
            name: "DaybookTestSupport", dependencies: ["DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload"],
            path: "Tests/DaybookTestSupport"),
        // A helper the tests run as a second process (holding a write, growing the map, ...).
        .executableTarget(name: "lmdb-probe", dependencies: ["LMDB"], path: "Tests/Tools/lmdb-probe"),
        // Test support: a tmpfs of a given size, for full-disk tests (needs root).
        .target(name: "TmpfsSupport", path: "Tests/TmpfsSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "lmdb-probe", "TmpfsSupport"]),
        .testTarget(name: "DaybookCoreTests", dependencies: ["DaybookCore"]),
        .testTarget(name: "DaybookEngineTests", dependencies: ["DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload", "DaybookTestSupport"]),
        .testTarget(
            name: "DaybookCLITests",
            dependencies: ["DaybookCore", "DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload", "DaybookTestSupport", "daybook",
                "lmdb-probe", "TmpfsSupport",
            ],
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
