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
    ///
    /// - Parameter unclosedIsError: refuse an array whose last element leaves a `{` or `[` open
    ///   (it swallowed the elements after it: only the array's `]` ended it) instead of keeping it
    ///   as one invalid record; HTTP ingest answers one result per element, so it must refuse.
    public static func split(_ bytes: [UInt8], source: String, unclosedIsError: Bool = false) throws(InputError)
        -> [IngestRecord]
    {
        let first = bytes.firstIndex { !isSpace($0) }
        if let first, bytes[first] == UInt8(ascii: "[") {
            return try splitArray(bytes, from: first, source: source, unclosedIsError: unclosedIsError)
        }
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

    /// Elements of a top-level JSON array, found by tracking strings, escapes and a stack of the
    /// brackets open inside the current element; each element's bytes are validated later as a
    /// record of its own.
    ///
    /// The array runs from its first `[` to the last `]` of the input (outside strings); elements
    /// are separated by the commas outside strings and outside any bracket the element opened.
    /// A closer that does not match the element's innermost open bracket, or that closes nothing
    /// (a `}`, or a `]` other than the last), makes its element invalid: nothing is open after it,
    /// so the element runs to the next comma and the elements after it are split as usual. Such
    /// an element never parses as JSON, so it is dead-lettered at its position, and a garble costs
    /// only the element it is in. The last `]` closes the array even inside an element, which is
    /// then invalid (it is missing its closers).
    ///
    /// - Throws: ``InputError`` naming the line when the input is not an array as a whole: no `]`
    ///   at the end (or a string that never ends), text after the closing `]`, an empty element
    ///   (`,,`) or a trailing `,`.
    /// - Complexity: O(n) in the input's length.
    static func splitArray(_ bytes: [UInt8], from open: Int, source: String, unclosedIsError: Bool = false)
        throws(InputError) -> [IngestRecord]
    {
        let (openBracket, closeBracket) = (UInt8(ascii: "["), UInt8(ascii: "]"))
        let (openBrace, closeBrace) = (UInt8(ascii: "{"), UInt8(ascii: "}"))
        // The last non-space byte: the array's closing `]` when it is one (outside a string).
        let last = bytes.lastIndex { !isSpace($0) } ?? open
        var records: [IngestRecord] = []
        var nesting: [UInt8] = []  // the brackets the current element opened and has not closed
        var inString = false
        var escaped = false
        var stringLine = 0
        var elementStart: Int?
        var elementLine = 0
        var strayCloseLine: Int?  // the first top-level `]` that is not the last: text after the array
        var line = 1
        for i in bytes.indices[..<open] where bytes[i] == 0x0A { line += 1 }
        var index = 0
        for i in (open + 1)..<bytes.count {
            let b = bytes[i]
            if b == 0x0A { line += 1 }
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
            if isSpace(b) { continue }
            if i == last && b == closeBracket {
                // The closing `]`: it ends the last element (invalid if it left a bracket open).
                if let s = elementStart {
                    index += 1
                    if unclosedIsError && !nesting.isEmpty {
                        throw InputError(
                            source: source,
                            message:
                                "element \(index) (line \(elementLine)) never closes its '\(Character(UnicodeScalar(nesting[0])))', so the elements after it cannot be told apart"
                        )
                    }
                    records.append(element(bytes[s..<i], index: index, line: elementLine))
                } else if index > 0 {
                    throw InputError(source: source, message: "line \(line): trailing ',' before ']'")
                }
                return records
            }
            if b == 0x2C && nesting.isEmpty {
                guard let s = elementStart else {
                    throw InputError(source: source, message: "line \(line): empty array element")
                }
                index += 1
                records.append(element(bytes[s..<i], index: index, line: elementLine))
                elementStart = nil
                continue
            }
            if elementStart == nil { (elementStart, elementLine) = (i, line) }
            switch b {
            case 0x22:
                inString = true
                stringLine = line
            case openBracket, openBrace:
                nesting.append(b)
            case closeBracket, closeBrace:
                if let top = nesting.last, top == (b == closeBracket ? openBracket : openBrace) {
                    nesting.removeLast()
                } else {
                    // Mismatched, or closing nothing: the element is invalid from here; with
                    // nothing open, it ends at the next comma.
                    if nesting.isEmpty && b == closeBracket && strayCloseLine == nil { strayCloseLine = line }
                    nesting.removeAll()
                }
            default:
                break
            }
        }
        let lastLine = bytes[...last].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        if inString {
            throw InputError(
                source: source,
                message:
                    "line \(lastLine): the JSON array is not closed with ']' (a string opened on line \(stringLine) never ends)"
            )
        }
        if let strayCloseLine {
            throw InputError(
                source: source, message: "line \(strayCloseLine): unexpected text after the closing ']' of the array")
        }
        throw InputError(source: source, message: "line \(lastLine): the JSON array is not closed with ']'")
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
/// Each chunk is copied once into an array, and newlines are found with `firstIndex(of:)` on
/// slices of it (a tight byte loop in a release build). `Data.range(of:)` looked cheaper for long
/// lines, but on Linux it bridges to `NSData` and copies the whole chunk for every search: one
/// 4 MiB copy per line made `daybook ingest` 26 times slower. A line longer than ``maxLineBytes`` keeps only
/// its first ``maxLineBytes`` bytes (its record's `length` tells the whole length), so one endless
/// line cannot take all memory; such a record is dead-lettered as too large in any case.
public struct LineAccumulator: Sendable {
    /// The most bytes of one line kept in memory (64 MiB, 32 times the largest record parsed).
    public static let maxLineBytes = 64 << 20
    /// The start of the current line (at most ``maxLineBytes``).
    private var pending: [UInt8] = []
    /// The current line's length so far (more than `pending.count` once it is over the limit).
    private var pendingLength = 0
    private var lastByte: UInt8?
    private var nextLine = 1
    /// Bytes fed so far, and the offset just past the last newline among them.
    private var fed: UInt64 = 0
    public private(set) var completedOffset: UInt64 = 0

    public init() {}

    /// An accumulator resuming inside a source: `offset` bytes and `lines` lines lie before the
    /// first byte it will be fed (a file tail's checkpoint).
    public init(offset: UInt64, lines: UInt64) {
        fed = offset
        completedOffset = offset
        nextLine = Int(lines) + 1
    }

    /// The lines (blank ones included) completed so far, those before the resume point included.
    public var completedLines: UInt64 { UInt64(nextLine - 1) }

    /// Records of every line completed by `chunk`.
    public mutating func feed(_ chunk: some BidirectionalCollection<UInt8>) -> [IngestRecord] {
        let bytes = Array(chunk)
        var records: [IngestRecord] = []
        var start = 0
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            keep(bytes[start..<newline])
            endLine(into: &records)
            start = newline + 1
            completedOffset = fed + UInt64(start)
        }
        keep(bytes[start...])
        fed += UInt64(bytes.count)
        return records
    }

    /// The last line, when the input does not end with a newline.
    public mutating func finish() -> [IngestRecord] {
        var records: [IngestRecord] = []
        if pendingLength > 0 { endLine(into: &records) }
        completedOffset = fed
        return records
    }

    private mutating func keep(_ part: ArraySlice<UInt8>) {
        guard let last = part.last else { return }
        let room = Self.maxLineBytes - pending.count
        if room > 0 { pending.append(contentsOf: part.prefix(room)) }
        pendingLength += part.count
        lastByte = last
    }

    private mutating func endLine(into records: inout [IngestRecord]) {
        defer {
            pending = []
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
