import Foundation

/// Where the warehouse is: a libpq-style connection URL (`daybook export --postgres URL`).
///
/// `postgres://[user[:password]@]host[:port][/database][?sslmode=MODE]` (scheme `postgres` or
/// `postgresql`). User, password and database are percent-decoded. Defaults as libpq's: port
/// 5432, user the login name of this process, database the user's name. `host` may be a name,
/// an IPv4 address or a bracketed IPv6 address; Unix sockets are not supported.
///
/// `sslmode`: `disable` (plain TCP), `prefer` (TLS if the server offers it), `require` (TLS, the
/// certificate not checked), `verify-full` (TLS, certificate and host name checked against the
/// system trust store). Default: `disable` for a loopback host (`localhost`, `127.0.0.1`, `::1`),
/// `prefer` otherwise (libpq's default). Other query parameters are refused.
public struct WarehouseURL: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is encrypted.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// Parses `text`.
    ///
    /// - Throws: ``WarehouseError/badURL(_:)`` naming what is wrong.
    public init(parsing text: String) throws(WarehouseError) {
        func bad(_ why: String) -> WarehouseError {
            .badURL("--postgres \(Self.redacted(text)): \(why); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        guard let parts = URLComponents(string: text) else { throw bad("not a URL") }
        guard let scheme = parts.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw bad("the scheme must be postgres:// or postgresql://")
        }
        guard let host = parts.host, !host.isEmpty else { throw bad("no host (Unix sockets are not supported)") }
        // URLComponents keeps the brackets of an IPv6 literal in `host` on some platforms.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let port = parts.port {
            guard (1...65535).contains(port) else { throw bad("port \(port) is not in 1...65535") }
            self.port = port
        } else {
            self.port = 5432
        }
        if let user = parts.user, !user.isEmpty {
            guard let decoded = user.removingPercentEncoding else { throw bad("the user is not valid percent-encoding") }
            self.user = decoded
        } else {
            self.user = Self.loginName()
        }
        if let password = parts.password {
            guard let decoded = password.removingPercentEncoding else {
                throw bad("the password is not valid percent-encoding")
            }
            self.password = decoded
        }
        let path = parts.percentEncodedPath
        let name = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard !name.contains("/") else { throw bad("the path must be one database name") }
        guard let database = name.removingPercentEncoding else { throw bad("the database is not valid percent-encoding") }
        self.database = database.isEmpty ? self.user : database
        let loopback = ["localhost", "127.0.0.1", "::1"].contains(self.host.lowercased())
        tls = loopback ? .disable : .prefer
        for item in parts.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw bad("unsupported parameter \"\(item.name)\" (only sslmode is)")
            }
            guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                let modes = TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
                throw bad("sslmode \"\(item.value ?? "")\" is not one of \(modes)")
            }
            tls = mode
        }
    }

    /// `host:port` as an address to name in messages (IPv6 in brackets).
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The URL without its password.
    public var description: String {
        "postgres://\(user)@\(address)/\(database)?sslmode=\(tls.rawValue)"
    }

    /// `text` with the password (between `:` and `@` in the authority) replaced by `***`.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else {
            return text
        }
        let authority = text[scheme.upperBound..<at]
        guard let colon = authority.firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }

    private static func loginName() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "postgres"
    }
}
