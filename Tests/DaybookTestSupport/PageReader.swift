import Foundation

/// Reads numbers back out of a rendered page: the attributes of its elements and the text of
/// its `<title>`s. Independent of the renderer: a plain scan of the HTML text (also of a DOM
/// that Chromium dumped).
public struct PageReader {
    public let html: String

    public init(_ html: String) { self.html = html }

    /// The attributes of every `<tag …>` start tag, values with their entities decoded.
    public func elements(_ tag: String) -> [[String: String]] {
        var result: [[String: String]] = []
        var rest = html[...]
        // The next `<tag` followed by a space or `>` (not `<tag…` of a longer name).
        while let open = rest.range(of: "<\(tag)") {
            let after = rest[open.upperBound...]
            guard let next = after.first, next == " " || next == ">" else {
                rest = after
                continue
            }
            guard let close = after.firstIndex(of: ">") else { break }
            result.append(Self.attributes(String(rest[open.upperBound..<close])))
            rest = rest[close...]
        }
        return result
    }

    /// The elements `tag` that have attribute `name` (with `value`, when given).
    public func elements(_ tag: String, where name: String, is value: String? = nil) -> [[String: String]] {
        elements(tag).filter { value == nil ? $0[name] != nil : $0[name] == value }
    }

    /// `name="value"` pairs of a start tag's inside (a bare attribute has the value "").
    public static func attributes(_ inside: String) -> [String: String] {
        var out: [String: String] = [:]
        var i = inside.startIndex
        while i < inside.endIndex {
            while i < inside.endIndex, inside[i] == " " || inside[i] == "/" { i = inside.index(after: i) }
            let nameStart = i
            while i < inside.endIndex, inside[i] != "=", inside[i] != " " { i = inside.index(after: i) }
            let name = String(inside[nameStart..<i])
            guard !name.isEmpty else { break }
            if i < inside.endIndex, inside[i] == "=" {
                i = inside.index(after: i)
                let quote = inside[i]
                i = inside.index(after: i)
                let valueStart = i
                while i < inside.endIndex, inside[i] != quote { i = inside.index(after: i) }
                out[name] = unescape(String(inside[valueStart..<i]))
                if i < inside.endIndex { i = inside.index(after: i) }
            } else {
                out[name] = ""
            }
        }
        return out
    }

    /// The text of every `<title>`, entities decoded.
    public var titles: [String] {
        var out: [String] = []
        var rest = html[...]
        while let open = rest.range(of: "<title") {
            guard let gt = rest[open.upperBound...].firstIndex(of: ">"), let end = rest[gt...].range(of: "</title>")
            else { break }
            out.append(Self.unescape(String(rest[rest.index(after: gt)..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return out
    }

    public static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
