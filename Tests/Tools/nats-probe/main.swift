// nats-probe: JetStream chores for benchmarks and by-hand runs (tools/bench-jetstream).
//
//   nats-probe stream URL STREAM SUBJECT [DUPLICATE_WINDOW_S]   create a file-storage stream
//   nats-probe publish URL SUBJECT FILE                         publish every line, Nats-Msg-Id = transaction_id
//   nats-probe last URL STREAM                                  the stream's last sequence
//   nats-probe consumer URL STREAM CONSUMER [TIMEOUT_S]         wait until the consumer exists
//   nats-probe catalog FILE                                     write the example catalog
//   nats-probe wait STORE SOURCE SEQ [TIMEOUT_S]                seconds until SOURCE's checkpoint reaches SEQ
//   nats-probe freshness URL SUBJECT STORE RATE COUNT DAY      publish COUNT events at RATE/s; publish-to-visible latency
//
// Freshness: COUNT fresh, valid events of the example catalog (transaction ids `fresh-<run>-<n>`,
// timestamps on DAY, which must be on time for the tail's clock) are published at RATE events/s
// while the store is polled read-only every millisecond for its last log seq: every event is
// accepted, so log seq base+n is the n-th event published, and an event is visible (in
// `breakdown`, which reads the last commit) once the commit holding it is.
import DaybookEngine
import DaybookSources
import DaybookStore
import DaybookWorkload
import Foundation
import NATS

#if canImport(Glibc)
    import Glibc
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("nats-probe: \(message)\n".utf8))
    exit(1)
}

func transactionID(_ line: Substring) -> String? {
    guard let key = line.range(of: "\"transaction_id\"") else { return nil }
    let rest = line[key.upperBound...]
    guard let open = rest.firstIndex(of: "\"") else { return nil }
    let value = rest[rest.index(after: open)...]
    guard let close = value.firstIndex(of: "\"") else { return nil }
    return String(value[..<close])
}

func lines(_ path: String) -> [Substring] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
    return text.split(separator: "\n")
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// Publish and visibility times per event: the main thread writes `published`, the poller thread
/// `visible`; the main thread reads `visible` only after the poller has signalled it is done.
final class Timeline: @unchecked Sendable {
    let count: Int
    var published: [Double]
    var visible: [Double]
    init(count: Int) {
        self.count = count
        published = Array(repeating: 0, count: count)
        visible = Array(repeating: -1, count: count)
    }
}

let args = Array(CommandLine.arguments.dropFirst())
do {
    switch args.first {
    case "stream" where args.count >= 4:
        let js = try NATSConnection(url: args[1], retryFirstConnect: false).jetStream()
        let window = args.count > 4 ? Int(args[4]) ?? 600 : 600
        try js.addStream(args[2], subjects: [args[3]], duplicateWindow: .seconds(window))
        print("created stream \(args[2]) on \(args[3])")
    case "publish" where args.count == 4:
        let js = try NATSConnection(url: args[1], retryFirstConnect: false).jetStream(maxAsyncPublishes: 20_000)
        let all = lines(args[3])
        let start = ContinuousClock.now
        // In chunks: cnats gives up on a publish after a short stall when too many wait for their ack.
        for start in stride(from: 0, to: all.count, by: 2000) {
            for line in all[start..<min(start + 2000, all.count)] {
                try js.publishAsync(subject: args[2], data: Array(line.utf8), messageID: transactionID(line))
            }
            try js.waitForAsyncPublishes(timeout: .seconds(600))
        }
        let s = seconds(since: start)
        print("published \(all.count) messages in \(String(format: "%.2f", s)) s (\(Int(Double(all.count) / s))/s)")
    case "last" where args.count == 3:
        let js = try NATSConnection(url: args[1], retryFirstConnect: false).jetStream()
        guard let state = try js.streamState(args[2]) else { fail("no stream \(args[2])") }
        print(state.lastSequence)
    case "consumer" where args.count >= 4:
        let js = try NATSConnection(url: args[1], retryFirstConnect: false).jetStream()
        let timeout = args.count > 4 ? Double(args[4]) ?? 60 : 60
        let start = ContinuousClock.now
        while try js.consumerState(stream: args[2], consumer: args[3]) == nil {
            if seconds(since: start) > timeout { fail("no consumer \(args[3]) on \(args[2]) after \(timeout) s") }
            usleep(10_000)
        }
    case "catalog" where args.count == 2:
        try ExampleCatalog.json.write(toFile: args[1], atomically: true, encoding: .utf8)
    case "wait" where args.count >= 4:
        guard let target = UInt64(args[3]) else { fail("SEQ must be a number") }
        let timeout = args.count > 4 ? Double(args[4]) ?? 600 : 600
        let start = ContinuousClock.now
        var engine: Engine?
        while seconds(since: start) < timeout {
            if engine == nil { engine = try? Engine(path: args[1], access: .read) }
            if let position = try engine?.sourcePosition(source: args[2]), case .stream(let seq) = position.place,
                seq >= target
            {
                print(String(format: "%.3f", seconds(since: start)))
                exit(0)
            }
            usleep(2_000)
        }
        fail("the checkpoint did not reach \(target) within \(timeout) s")
    case "freshness" where args.count == 7:
        guard let rate = Double(args[4]), rate > 0, let count = Int(args[5]), count > 0 else {
            fail("RATE and COUNT must be positive numbers")
        }
        let js = try NATSConnection(url: args[1], retryFirstConnect: false).jetStream(maxAsyncPublishes: 20_000)
        let run = UInt32.random(in: 0...UInt32.max)
        let customers = ["acme", "globex", "initech"], models = ["model-a", "model-b"]
        let all: [Substring] = (0..<count).map { n in
            let second = n % 86_400
            return Substring(
                "{\"transaction_id\": \"fresh-\(run)-\(n)\", \"customer_id\": \"\(customers[n % 3])\", \"event_type\": \"inference\", \"timestamp\": \"\(args[6])T\(String(format: "%02d:%02d:%02d", second / 3600, second / 60 % 60, second % 60))Z\", \"properties\": {\"model\": \"\(models[n % 2])\", \"tokens\": \(100 + n % 900), \"region\": \"us\"}}"
            )
        }
        let base = try Engine(path: args[3], access: .read).stats().lastSeq
        let timeline = Timeline(count: all.count)
        let start = ContinuousClock.now
        let storePath = args[3]
        // The poller: the last log seq every millisecond, on its own thread.
        let done = DispatchSemaphore(value: 0)
        let poller = Thread {
            let reader = try! Engine(path: storePath, access: .read)
            var seen = 0
            while seen < timeline.count {
                let last = Int((try? reader.stats().lastSeq) ?? base) - Int(base)
                if last > seen {
                    let now = seconds(since: start)
                    for i in seen..<min(last, timeline.count) { timeline.visible[i] = now }
                    seen = last
                }
                usleep(1_000)
            }
            done.signal()
        }
        poller.start()
        for (i, line) in all.enumerated() {
            let due = Double(i) / rate
            while seconds(since: start) < due { usleep(100) }
            timeline.published[i] = seconds(since: start)
            try js.publishAsync(subject: args[2], data: Array(line.utf8), messageID: transactionID(line))
        }
        try js.waitForAsyncPublishes(timeout: .seconds(600))
        let took = seconds(since: start)
        if done.wait(timeout: .now() + 120) == .timedOut { fail("not every event became visible within 120 s") }
        let latencies = zip(timeline.visible, timeline.published).map { ($0 - $1) * 1000 }.sorted()
        func pct(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print(
            String(
                format:
                    "%d events at %.0f/s (published in %.1f s): publish-to-visible p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
                all.count, rate, took, pct(0.5), pct(0.9), pct(0.99), latencies.last ?? 0))
    default:
        fail("usage: see the comment at the top of Tests/Tools/nats-probe/main.swift")
    }
} catch {
    fail("\(error)")
}
