import Foundation
import Hummingbird

/// The bearer tokens a server accepts (`--token-file`): one per line, surrounding spaces and tabs
/// trimmed, blank lines skipped (a `\r` before the `\n` is dropped). Every request but
/// `GET /healthz` must send `Authorization: Bearer <token>` with one of them.
///
/// Tokens are compared in constant time: the time a check takes depends on the lengths of the
/// tokens, never on how many leading bytes of a guess are right, and every token is compared.
public struct BearerTokens: Sendable {
    let tokens: [[UInt8]]

    /// Tokens given directly (tests, embedding).
    ///
    /// - Throws: ``TokenFileError`` when there is none, or one holds a space or control byte.
    public init(_ tokens: [String], source: String = "the token list") throws(TokenFileError) {
        var parsed: [[UInt8]] = []
        for (i, token) in tokens.enumerated() {
            let bytes = Array(token.utf8)
            if bytes.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
                throw TokenFileError(path: source, message: "token \(i + 1) holds a space or a control character")
            }
            parsed.append(bytes)
        }
        guard !parsed.isEmpty else {
            throw TokenFileError(path: source, message: "no token in it: write one token per line")
        }
        self.tokens = parsed
    }

    /// Reads the tokens of a token file.
    ///
    /// - Throws: ``TokenFileError`` when the file cannot be read or holds no token.
    public init(file path: String) throws(TokenFileError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenFileError(path: path, message: "cannot read the token file: no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenFileError(path: path, message: "the token file is not UTF-8 text")
        }
        // Split on the byte: "\r\n" is one Character, so a Character split would miss it.
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line[...])).trimmingSpaces
        }
        try self.init(lines.filter { !$0.isEmpty }, source: path)
    }

    /// Whether `request` carries one of the tokens.
    ///
    /// - Throws: ``APIError`` 401 saying what is missing or wrong.
    func authorize(_ request: Request) throws(APIError) {
        let challenge: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"daybook\""]
        guard let header = request.headers[.authorization] else {
            throw APIError(
                .unauthorized,
                "missing Authorization header: send Authorization: Bearer <token> with a token of the server's --token-file",
                headers: challenge)
        }
        let scheme = "bearer "
        guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme else {
            throw APIError(
                .unauthorized, "the Authorization header is not a bearer token: send Authorization: Bearer <token>",
                headers: challenge)
        }
        let offered = Array(header.dropFirst(scheme.count).trimmingSpaces.utf8)
        var matched = false
        for token in tokens { matched = Self.constantTimeEqual(token, offered) || matched }
        guard matched else {
            throw APIError(
                .unauthorized, "the bearer token is not one of the server's tokens (--token-file)", headers: challenge)
        }
    }

    /// Equality whose time depends only on the lengths of `a` and `b`.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt64(a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= UInt64(x ^ y)
        }
        return difference == 0
    }
}

/// A token file that cannot be used: what is wrong and where (exit 2: bad usage).
public struct TokenFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
