/// How customers are placed on partitions (docs/scale-out.md §1): the function nats-server's
/// subject mapping `usage.*` → `usage.{{partition(P,1)}}.{{wildcard(1)}}` computes, FNV-1a 32 of
/// the subject token's bytes mod P, over the customer id encoded as one token
/// (``SubjectToken``). Daybook computes it for `daybook publish`, for routing reads and to check
/// where a message should have landed; the server is what places messages.
public struct Partitioning: Sendable, Hashable {
    /// P: fixed when the cluster is created.
    public let count: Int

    /// The partition counts a cluster may have.
    public static let allowedCounts = 1...1024

    /// The default P (`daybook cluster init` without `--partitions`).
    public static let defaultCount = 32

    /// - Precondition: `count` is in ``allowedCounts`` (validated where it is read).
    public init(count: Int) {
        precondition(Self.allowedCounts.contains(count), "partition count \(count) out of range")
        self.count = count
    }

    /// The partition of a customer: of its id's subject token.
    public func partition(ofCustomer id: String) -> Int {
        partition(ofToken: SubjectToken.encode(id).utf8)
    }

    /// The partition of a subject token, as the server's `partition(P,1)` computes it.
    public func partition(ofToken token: some Sequence<UInt8>) -> Int {
        Int(Self.fnv1a32(token) % UInt32(count))
    }

    /// FNV-1a, 32 bits (offset basis 2166136261, prime 16777619), as Go's `hash/fnv.New32a`.
    public static func fnv1a32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in bytes {
            hash ^= UInt32(byte)
            hash &*= 16_777_619
        }
        return hash
    }

    /// The subject a producer publishes a customer's event to (before the server's mapping).
    public static func publishSubject(customer id: String) -> String { "usage." + SubjectToken.encode(id) }

    /// The subjects partition `p`'s stream holds (after the mapping).
    public static func streamSubject(partition p: Int) -> String { "usage.\(p).*" }

    /// The stream of partition `p`: `DAYBOOK_P07`.
    public static func streamName(partition p: Int) -> String {
        "DAYBOOK_P" + (p < 10 ? "0" : "") + "\(p)"
    }

    /// The directory of partition `p`'s store under an instance's `--data`, and of its snapshots
    /// under `--snapshot-dir`: `p` and at least two digits (`p00`, `p07`, `p31`, `p123`).
    public static func directoryName(partition p: Int) -> String {
        (0...9).contains(p) ? "p0\(p)" : "p\(p)"
    }

    /// The server configuration stanza that places events (the mapping cannot be made by a client).
    public var serverMapping: String {
        "mappings = {\n  \"usage.*\": \"usage.{{partition(\(count),1)}}.{{wildcard(1)}}\"\n}\n"
    }
}

/// Customer ids as one NATS subject token, reversibly: every byte outside `[A-Za-z0-9_-]` is
/// written `%XX` (upper-case hex; `%` itself too). A token never holds `.`, `*`, `>`,
/// whitespace or non-ASCII, and the usual ids (`acme`, `cust_123`) are their own token.
public enum SubjectToken {
    /// The token of `id` (non-empty for a non-empty id).
    public static func encode(_ id: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(id.utf8.count)
        for byte in id.utf8 {
            if isPlain(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The id a token encodes; nil when it is not a token ``encode(_:)`` makes (a plain byte
    /// escaped, lower-case or truncated escapes, bytes that are not UTF-8).
    public static func decode(_ token: String) -> String? {
        var out: [UInt8] = []
        var bytes = token.utf8.makeIterator()
        while let byte = bytes.next() {
            if isPlain(byte) {
                out.append(byte)
                continue
            }
            guard byte == UInt8(ascii: "%"), let high = bytes.next().flatMap(value),
                let low = bytes.next().flatMap(value)
            else { return nil }
            let decoded = high << 4 | low
            guard !isPlain(decoded) else { return nil }  // one encoding per id
            out.append(decoded)
        }
        return String(validating: out, as: UTF8.self)
    }

    private static let hex = Array("0123456789ABCDEF".utf8)

    private static func isPlain(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }

    private static func value(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        default: nil
        }
    }
}
