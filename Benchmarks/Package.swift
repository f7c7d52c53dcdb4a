// swift-tools-version: 6.1
import PackageDescription

// Daybook benchmarks: a separate package so the main package keeps no benchmark dependency.
// Run: cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
// See docs/performance.md.
let package = Package(
    name: "DaybookBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named explicitly: the path identity would otherwise be the checkout directory name.
        .package(name: "Daybook", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "DaybookBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DaybookEngine", package: "Daybook"),
                .product(name: "DaybookCore", package: "Daybook"),
                .product(name: "DaybookStore", package: "Daybook"),
                .product(name: "DaybookOutput", package: "Daybook"),
                .product(name: "DaybookWorkload", package: "Daybook"),
                .product(name: "DaybookWarehouse", package: "Daybook"),
                .product(name: "DaybookDashboard", package: "Daybook"),
                .product(name: "DaybookTestSupport", package: "Daybook"),
                .product(name: "LMDB", package: "Daybook"),
            ],
            path: "DaybookBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
