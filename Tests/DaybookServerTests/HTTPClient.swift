import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A response as it came off the wire.
struct HTTPResponse: Sendable {
    var status: Int
    /// Header names lowercased; the last value of a repeated header.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON (nil when it is not JSON).
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }

    /// `{"error": "…"}`'s message, nil when the body is not such an object.
    var errorMessage: String? { (json as? [String: Any])?["error"] as? String }
}

/// Why a request got no response.
enum HTTPClientError: Error, CustomStringConvertible {
    case connect(Int32)
    case timeout
    case closed
    case malformed(String)
    case io(Int32)

    var description: String {
        switch self {
        case .connect(let e): "connect failed: \(String(cString: strerror(e)))"
        case .timeout: "no response within the timeout"
        case .closed: "the server closed the connection before answering"
        case .malformed(let what): "malformed response: \(what)"
        case .io(let e): "socket error: \(String(cString: strerror(e)))"
        }
    }
}

/// A minimal HTTP/1.1 client over a blocking loopback socket, one request at a time, with
/// keep-alive: real bytes on a real socket, so tests can also send what no library would
/// (a lying Content-Length, a body that is not JSON, no Content-Type).
final class HTTPConnection {
    let port: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    /// Seconds a read or a write may block.
    let timeout: Int

    init(port: Int, timeout: Int = 30) throws {
        self.port = port
        self.timeout = timeout
        try connect()
    }

    deinit { close() }

    private func connect() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError.io(errno) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let e = errno
            close()
            throw HTTPClientError.connect(e)
        }
        buffer = []
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Closes and opens the connection again (after an error).
    func reconnect() throws {
        close()
        try connect()
    }

    /// Sends one request and reads its response. A body is sent with its Content-Length unless
    /// `headers` set one (then it is sent as given, lying or not).
    func send(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) throws -> HTTPResponse {
        if fd < 0 { try connect() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, !headers.contains(where: { ["content-length", "transfer-encoding"].contains($0.0.lowercased()) }) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        do {
            try write(Array(head.utf8) + (body ?? []))
            let response = try readResponse(head: method == "HEAD")
            if response.headers["connection"]?.lowercased() == "close" { close() }
            return response
        } catch {
            close()
            throw error
        }
    }

    /// `POST /v1/ingest` with a JSON body.
    func ingest(_ body: [UInt8], token: String? = nil, extra: [(String, String)] = []) throws -> HTTPResponse {
        var headers =
            extra.contains { $0.0.lowercased() == "content-type" }
            ? extra : [("Content-Type", "application/json")] + extra
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try send("POST", "/v1/ingest", headers: headers, body: body)
    }

    func get(_ path: String, token: String? = nil) throws -> HTTPResponse {
        try send("GET", path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [])
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw HTTPClientError.timeout }
                throw HTTPClientError.io(errno)
            }
            sent += n
        }
    }

    /// Reads more bytes into the buffer.
    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return
            }
            if n == 0 { throw HTTPClientError.closed }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw HTTPClientError.timeout }
            if errno == ECONNRESET { throw HTTPClientError.closed }
            throw HTTPClientError.io(errno)
        }
    }

    private func readLine() throws -> String {
        while true {
            if let i = buffer.indices.dropLast().first(where: { buffer[$0] == 0x0D && buffer[$0 + 1] == 0x0A }) {
                let line = String(decoding: buffer[0..<i], as: UTF8.self)
                buffer.removeFirst(i + 2)
                return line
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    private func readResponse(head: Bool) throws -> HTTPResponse {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw HTTPClientError.malformed("status line \"\(statusLine)\"")
        }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw HTTPClientError.malformed("header \"\(line)\"") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body: [UInt8] = []
        if head || status == 204 || status == 304 {
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw HTTPClientError.malformed("chunk size \"\(sizeLine)\"")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                body += try readBytes(size)
                _ = try readLine()
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try readBytes(length)
        } else {
            // Until the server closes the connection.
            while true {
                do { try fill() } catch HTTPClientError.closed { break }
            }
            body = buffer
            buffer = []
            close()
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }
}
