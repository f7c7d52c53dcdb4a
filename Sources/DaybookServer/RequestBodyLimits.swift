import CompressNIO
import Hummingbird
import NIOCore

/// Reads a request body within a size limit, inflating `Content-Encoding: gzip` as it arrives.
///
/// The limit holds for the bytes on the wire and for the bytes after decompression: a body that
/// declares more in `Content-Length` is refused before a byte of it is read, a body that sends
/// more is refused as soon as it does, and a gzip body is inflated into a buffer of the limit
/// (plus one byte), so a gzip bomb costs at most that much memory and is refused the moment it
/// would overflow it, never inflated whole.
struct BodyReader: Sendable {
    /// The most bytes of a body, raw and decompressed (1 MiB for `POST /v1/ingest`).
    var limit: Int

    enum Encoding: Sendable { case identity, gzip }

    /// The body encoding named by `Content-Encoding` (none, `identity`, `gzip` or `x-gzip`).
    ///
    /// - Throws: ``APIError`` 415 for any other encoding (several stacked encodings included).
    static func encoding(of request: Request) throws(APIError) -> Encoding {
        guard let value = request.headers[.contentEncoding] else { return .identity }
        switch value.trimmingSpaces.lowercased() {
        case "", "identity": return .identity
        case "gzip", "x-gzip": return .gzip
        default:
            throw .unsupportedMediaType(
                "Content-Encoding \"\(value)\" is not supported: send the body uncompressed or with Content-Encoding: gzip"
            )
        }
    }

    /// The whole body, decompressed.
    ///
    /// - Throws: ``APIError`` 413 over the limit (declared, sent or inflated), 400 for a gzip body
    ///   that is corrupt, truncated or followed by other bytes, 415 for an unknown encoding.
    func read(_ request: Request) async throws -> [UInt8] {
        let encoding = try Self.encoding(of: request)
        if let declared = request.headers[.contentLength], let length = Int(declared.trimmingSpaces), length > limit {
            throw tooLarge(encoding == .gzip ? "the gzip body" : "the body", length)
        }
        switch encoding {
        case .identity:
            var bytes: [UInt8] = []
            for try await chunk in request.body {
                guard bytes.count + chunk.readableBytes <= limit else {
                    throw tooLarge("the body", bytes.count + chunk.readableBytes, atLeast: true)
                }
                bytes.append(contentsOf: chunk.readableBytesView)
            }
            return bytes
        case .gzip:
            var inflater = try GzipInflater(limit: limit)
            var received = 0
            for try await chunk in request.body {
                received += chunk.readableBytes
                guard received <= limit else { throw tooLarge("the gzip body", received, atLeast: true) }
                try inflater.feed(chunk)
            }
            return try inflater.finish()
        }
    }

    private func tooLarge(_ what: String, _ bytes: Int, atLeast: Bool = false) -> APIError {
        let size = atLeast ? "over \(limit) bytes" : "\(bytes) bytes (Content-Length)"
        return .tooLarge(
            "\(what) is \(size): the limit is \(limit) bytes (\(Self.describe(limit))); send fewer events per request")
    }

    static func describe(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}

/// A gzip stream inflated into a buffer bounded by a limit (zlib through CompressNIO).
struct GzipInflater {
    let limit: Int
    private let zlib: ZlibDecompressor
    private var output: ByteBuffer
    private var ended = false

    init(limit: Int) throws {
        self.limit = limit
        zlib = try ZlibDecompressor(algorithm: .gzip)
        // One byte more than the limit: filling it is how an overflow shows.
        output = ByteBufferAllocator().buffer(capacity: limit + 1)
    }

    /// Inflates the next compressed bytes.
    mutating func feed(_ chunk: ByteBuffer) throws(APIError) {
        var input = chunk
        while input.readableBytes > 0 {
            if ended {
                throw .badRequest(
                    "the gzip body has \(input.readableBytes) more bytes after its end: send one gzip stream")
            }
            let before = (input.readableBytes, output.readableBytes)
            do {
                try zlib.inflate(from: &input, to: &output)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                throw overflow()
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                // zlib took all the input and wants more.
            } catch {
                throw .badRequest(
                    "the gzip body is not valid gzip (\(error)): compress it with gzip, or send it uncompressed")
            }
            if output.readableBytes > limit { throw overflow() }
            // No progress with input left: the stream has ended before it.
            if input.readableBytes == before.0 && output.readableBytes == before.1 { ended = true }
        }
    }

    /// The inflated bytes, once the stream has ended.
    mutating func finish() throws(APIError) -> [UInt8] {
        if !ended {
            // Whether the stream is complete (trailer checked): zlib leaves a probe byte after the
            // end unread; a stream still expecting data takes it (or finds it corrupt).
            var probe = ByteBufferAllocator().buffer(capacity: 1)
            probe.writeInteger(UInt8(0))
            var scratch = ByteBufferAllocator().buffer(capacity: 64)
            let complete: Bool
            do {
                try zlib.inflate(from: &probe, to: &scratch)
                complete = probe.readableBytes == 1 && scratch.readableBytes == 0
            } catch {
                complete = false
            }
            guard complete else {
                throw .badRequest("the gzip body ends before its gzip stream does (truncated): send the whole stream")
            }
        }
        return Array(output.readableBytesView)
    }

    private func overflow() -> APIError {
        .tooLarge(
            "the body inflates to more than \(limit) bytes: the limit after decompression is \(BodyReader.describe(limit)); send fewer events per request"
        )
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
