import Foundation

/// An input that cannot be split into records at all (a JSON array that never closes, …).
public struct InputError: Error, Sendable, CustomStringConvertible {
    public var source: String
    public var message: String
    public var description: String { "\(source): \(message)" }
}

/// Splits an input into records (SPEC §1): NDJSON (one record per `\n`-terminated line, a `\r`
/// before the `\n` dropped, blank lines skipped and not counted) or, when the first
/// non-whitespace byte is `[`, a JSON array whose elements are the records.
///
/// Records are only split here; each is validated on its own, so one bad line never hides
/// its neighbours.
public enum RecordSplitter {
    public static func split(_ bytes: [UInt8], source: String) throws(InputError) -> [IngestRecord] {
        let first = bytes.firstIndex { !isSpace($0) }
        if let first, bytes[first] == UInt8(ascii: "[") { return try splitArray(bytes, from: first, source: source) }
        return splitLines(bytes)
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// NDJSON lines; positions are 1-based physical line numbers.
    public static func splitLines(_ bytes: [UInt8], firstLine: Int = 1) -> [IngestRecord] {
        var records: [IngestRecord] = []
        var start = 0
        var line = firstLine
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            let slice = bytes[start..<stop]
            if slice.contains(where: { !isSpace($0) }) {
                records.append(IngestRecord(bytes: Array(slice), position: "line \(line)"))
            }
            line += 1
            start = end + 1
        }
        return records
    }

    /// Elements of a top-level JSON array, found by tracking strings and nesting only; each
    /// element's bytes are validated later as a record of its own.
    static func splitArray(_ bytes: [UInt8], from open: Int, source: String) throws(InputError) -> [IngestRecord] {
        var records: [IngestRecord] = []
        var depth = 0
        var inString = false
        var escaped = false
        var elementStart: Int?
        var line = 1
        var elementLine = 1
        var index = 0
        var closed = false
        for i in bytes.indices {
            let b = bytes[i]
            if b == 0x0A { line += 1 }
            if i < open { continue }
            if inString {
                if escaped {
                    escaped = false
                } else if b == 0x5C {
                    escaped = true
                } else if b == 0x22 {
                    inString = false
                }
                continue
            }
            if closed {
                if !isSpace(b) {
                    throw InputError(
                        source: source, message: "line \(line): unexpected text after the closing ']' of the array")
                }
                continue
            }
            switch b {
            case 0x22:
                inString = true
                if elementStart == nil { elementStart = i; elementLine = line }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if i == open { depth = 1; continue }
                if elementStart == nil && depth == 1 { elementStart = i; elementLine = line }
                depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 {
                    if let s = elementStart {
                        index += 1
                        records.append(element(bytes[s..<i], index: index, line: elementLine))
                    } else if !records.isEmpty {
                        throw InputError(source: source, message: "line \(line): trailing ',' before ']'")
                    }
                    elementStart = nil
                    closed = true
                }
            case UInt8(ascii: ","):
                if depth == 1 {
                    guard let s = elementStart else {
                        throw InputError(source: source, message: "line \(line): empty array element")
                    }
                    index += 1
                    records.append(element(bytes[s..<i], index: index, line: elementLine))
                    elementStart = nil
                }
            default:
                if !isSpace(b) && elementStart == nil && depth == 1 { elementStart = i; elementLine = line }
            }
        }
        if !closed { throw InputError(source: source, message: "the JSON array is not closed with ']'") }
        return records
    }

    private static func element(_ slice: ArraySlice<UInt8>, index: Int, line: Int) -> IngestRecord {
        var end = slice.endIndex
        while end > slice.startIndex && isSpace(slice[end - 1]) { end -= 1 }
        return IngestRecord(bytes: Array(slice[slice.startIndex..<end]), position: "element \(index) (line \(line))")
    }
}

/// Splits an NDJSON stream into records as its bytes arrive, in chunks of any size: the same
/// records and line numbers as ``RecordSplitter/splitLines(_:firstLine:)`` on the whole input.
///
/// Newlines are found with `Data.range(of:)` (Foundation's search, not a byte loop), so a 10 MB
/// line costs a copy, not ten million iterations. A line longer than ``maxLineBytes`` keeps only
/// its first ``maxLineBytes`` bytes (its record's `length` tells the whole length), so one endless
/// line cannot take all memory; such a record is dead-lettered as too large in any case.
public struct LineAccumulator: Sendable {
    /// The most bytes of one line kept in memory (64 MiB, 32 times the largest record parsed).
    public static let maxLineBytes = 64 << 20
    private static let newline = Data([0x0A])
    /// The start of the current line (at most ``maxLineBytes``).
    private var pending = Data()
    /// The current line's length so far (more than `pending.count` once it is over the limit).
    private var pendingLength = 0
    private var lastByte: UInt8?
    private var nextLine = 1

    public init() {}

    /// Records of every line completed by `chunk`.
    public mutating func feed(_ chunk: some BidirectionalCollection<UInt8>) -> [IngestRecord] {
        let data = chunk as? Data ?? Data(chunk)
        var records: [IngestRecord] = []
        var start = data.startIndex
        while let newline = data.range(of: Self.newline, in: start..<data.endIndex)?.lowerBound {
            keep(data[start..<newline])
            endLine(into: &records)
            start = newline + 1
        }
        keep(data[start..<data.endIndex])
        return records
    }

    /// The last line, when the input does not end with a newline.
    public mutating func finish() -> [IngestRecord] {
        var records: [IngestRecord] = []
        if pendingLength > 0 { endLine(into: &records) }
        return records
    }

    private mutating func keep(_ part: Data) {
        guard let last = part.last else { return }
        let room = Self.maxLineBytes - pending.count
        if room > 0 { pending.append(part.prefix(room)) }
        pendingLength += part.count
        lastByte = last
    }

    private mutating func endLine(into records: inout [IngestRecord]) {
        defer {
            pending = Data()
            pendingLength = 0
            lastByte = nil
            nextLine += 1
        }
        var length = pendingLength
        if lastByte == 0x0D {  // a \r before the \n is dropped
            length -= 1
            if pending.count > length { pending.removeLast() }
        }
        guard pending.contains(where: { !RecordSplitter.isSpace($0) }) else { return }  // blank: skipped
        records.append(IngestRecord(bytes: Array(pending), position: "line \(nextLine)", length: length))
    }
}
