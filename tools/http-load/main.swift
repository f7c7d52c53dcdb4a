// http-load: a small HTTP load generator for `daybook serve` (tools/bench-http builds and runs it).
//
//   http-load --port P --file EVENTS.ndjson [--clients 64] [--batch 100] [--token T] [--gzip-free]
//
// Splits the NDJSON file into JSON-array batches of --batch events (lines that do not end with
// `}` are skipped: a record cut off mid-object cannot travel inside a JSON array), then
// --clients threads, each on its own keep-alive loopback connection, POST them to /v1/ingest
// one request at a time until all are sent. Prints one JSON line: events, requests, seconds,
// events/s, requests/s and the request latency p50/p90/p99/max in milliseconds.
// Plain POSIX sockets and Foundation only, so it builds with `swiftc -O` alone.

import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct Options {
    var port = 0
    var file = ""
    var clients = 64
    var batch = 100
    var token: String?
}

func parse() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value() -> String {
        guard let v = args.popFirst() else {
            FileHandle.standardError.write(Data("http-load: a value is missing\n".utf8))
            exit(2)
        }
        return v
    }
    while let a = args.popFirst() {
        switch a {
        case "--port": o.port = Int(value()) ?? 0
        case "--file": o.file = value()
        case "--clients": o.clients = Int(value()) ?? 64
        case "--batch": o.batch = Int(value()) ?? 100
        case "--token": o.token = value()
        default:
            FileHandle.standardError.write(Data("http-load: unknown argument \(a)\n".utf8))
            exit(2)
        }
    }
    guard o.port > 0, !o.file.isEmpty else {
        FileHandle.standardError.write(
            Data("usage: http-load --port P --file EVENTS.ndjson [--clients N] [--batch N] [--token T]\n".utf8))
        exit(2)
    }
    return o
}

/// One keep-alive connection, one request at a time.
final class Connection {
    var fd: Int32
    var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if r != 0 { throw NSError(domain: "connect", code: Int(errno)) }
    }

    deinit { close(fd) }

    /// Sends `request` (head and body) and returns the response status.
    func roundTrip(_ request: [UInt8]) throws -> Int {
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw NSError(domain: "send", code: Int(errno)) }
            sent += n
        }
        // Head, then Content-Length bytes of body.
        var headEnd: Int?
        var length = 0
        var status = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if headEnd == nil, let end = find(buffer, [13, 10, 13, 10]) {
                headEnd = end + 4
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                status = Int(lines.first?.split(separator: " ")[1] ?? "0") ?? 0
                for line in lines.dropFirst() where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let h = headEnd, buffer.count >= h + length {
                buffer.removeFirst(h + length)
                return status
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { throw NSError(domain: "recv", code: Int(errno)) }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    private func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

func run() -> Int32 {
    let options = parse()
    guard let text = try? String(contentsOfFile: options.file, encoding: .utf8) else {
        FileHandle.standardError.write(Data("http-load: cannot read \(options.file)\n".utf8))
        exit(2)
    }
    let lines = text.unicodeScalars.split(separator: "\n").map { String(String.UnicodeScalarView($0)) }.filter {
        $0.hasSuffix("}")
    }
    var built: [[UInt8]] = []
    var events = 0
    var i = 0
    while i < lines.count {
        let batch = lines[i..<min(i + options.batch, lines.count)]
        events += batch.count
        let body = Array(("[" + batch.joined(separator: ",") + "]").utf8)
        var head =
            "POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        if let token = options.token { head += "Authorization: Bearer \(token)\r\n" }
        built.append(Array((head + "\r\n").utf8) + body)
        i += options.batch
    }

    let requests = built
    let next = Atomic<Int>(0)
    let latencies = Mutex<[UInt64]>([])
    let failures = Mutex<[String]>([])
    let done = DispatchSemaphore(value: 0)
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<options.clients {
        Thread {
            defer { done.signal() }
            var mine: [UInt64] = []
            defer { latencies.withLock { $0 += mine } }
            guard let connection = try? Connection(port: options.port) else {
                failures.withLock { $0.append("cannot connect") }
                return
            }
            while true {
                let k = next.add(1, ordering: .relaxed).oldValue
                guard k < requests.count else { return }
                let t0 = DispatchTime.now().uptimeNanoseconds
                do {
                    let status = try connection.roundTrip(requests[k])
                    if status != 200 { failures.withLock { $0.append("request \(k): status \(status)") } }
                } catch {
                    failures.withLock { $0.append("request \(k): \(error)") }
                    return
                }
                mine.append(DispatchTime.now().uptimeNanoseconds - t0)
            }
        }.start()
    }
    for _ in 0..<options.clients { done.wait() }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let sorted = latencies.withLock { $0 }.sorted()
    func percentile(_ p: Double) -> Double {
        sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
    }
    let failed = failures.withLock { $0 }
    for f in failed.prefix(5) { FileHandle.standardError.write(Data("http-load: \(f)\n".utf8)) }
    func fixed(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
    print(
        "{\"events\": \(events), \"requests\": \(requests.count), \"clients\": \(options.clients), \"failed\": \(failed.count), "
            + "\"seconds\": \(fixed(seconds, 3)), \"events_per_s\": \(Int(Double(events) / seconds)), "
            + "\"requests_per_s\": \(Int(Double(requests.count) / seconds)), \"p50_ms\": \(fixed(percentile(0.5))), "
            + "\"p90_ms\": \(fixed(percentile(0.9))), \"p99_ms\": \(fixed(percentile(0.99))), \"max_ms\": \(fixed(percentile(1.0)))}"
    )
    return failed.isEmpty ? 0 : 1
}

exit(run())
