/// A parsed JSON value.
///
/// Numbers are kept as their exact source text (already validated against the
/// JSON number grammar by ``StrictJSON``); they are never converted to binary
/// floating point.
public enum JSONValue: Sendable, Equatable {
    /// The literal `null`.
    case null
    /// The literals `true` and `false`.
    case bool(Bool)
    /// A number, as the exact text written in the document, e.g. `"1e3"`, `"-0.50"`.
    case number(String)
    /// A string, with escapes already resolved.
    case string(String)
    /// An array, in document order.
    case array([JSONValue])
    /// An object, with members in document order.
    case object(JSONObject)
}

/// A JSON object: members in document order, with unique keys.
///
/// Keys are compared byte for byte (by their UTF-8 encoding), as JSON
/// specifies, not with Swift's Unicode canonical equivalence.
public struct JSONObject: Sendable, Equatable {
    /// The members in document order. Keys are unique when produced by ``StrictJSON``.
    public var members: [(key: String, value: JSONValue)]

    /// Creates an object from members in order. The caller is responsible for keeping keys unique.
    public init(members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    /// The value for `key`, or `nil` when the object has no such member. Linear scan.
    public subscript(key: String) -> JSONValue? {
        for member in members where utf8Equal(member.key, key) {
            return member.value
        }
        return nil
    }

    /// The number of members.
    public var count: Int { members.count }

    /// Two objects are equal when they have the same members (byte-identical keys,
    /// equal values) in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        for (l, r) in zip(lhs.members, rhs.members) {
            guard utf8Equal(l.key, r.key), l.value == r.value else { return false }
        }
        return true
    }
}

/// A JSON syntax or encoding error, with the byte offset where it was found.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset in the input where the problem is (relative to the start of the
    /// bytes handed to the parser, including for an `ArraySlice`).
    public var offset: Int
    /// What is wrong, e.g. `"duplicate key \"tokens\""` or `"expected ',' or '}'"`.
    public var message: String

    /// Creates an error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// `"<message> at byte <offset>"`.
    public var description: String { "\(message) at byte \(offset)" }
}

/// Byte-for-byte comparison of two strings' UTF-8 encodings.
@inline(__always)
func utf8Equal(_ a: String, _ b: String) -> Bool {
    let au = a.utf8, bu = b.utf8
    guard au.count == bu.count else { return false }
    let contiguous = au.withContiguousStorageIfAvailable { pa in
        bu.withContiguousStorageIfAvailable { pb in pa.elementsEqual(pb) }
    }
    if let contiguous, let result = contiguous { return result }
    return au.elementsEqual(bu)
}
