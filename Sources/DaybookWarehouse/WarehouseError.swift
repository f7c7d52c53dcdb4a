import PostgresNIO

/// Why a warehouse export failed, and what to do. A failed export never commits: the tables
/// of the previous export are untouched (every export is one PostgreSQL transaction).
public enum WarehouseError: Error, Sendable, CustomStringConvertible {
    /// The URL cannot be used (bad usage: exit 2).
    case badURL(String)
    /// No server answered at the address.
    case unreachable(address: String, reason: String)
    /// The server refused the user (password, `pg_hba.conf`, unknown role).
    case authentication(user: String, address: String, message: String)
    /// The connection broke during the export.
    case connectionLost(address: String, reason: String)
    /// The server refused a statement (a constraint, a permission, no such database, …).
    case server(message: String, sqlState: String, detail: String?, hint: String?, statement: String)
    /// `invoice_breakdown` exists but is not a schema this version of Daybook made.
    case schemaMismatch(String)
    /// An incremental export needs the tables of an earlier export.
    case noPreviousExport
    /// Another export committed between reading the basis and writing: run again.
    case basisMoved(expected: String, found: String)
    /// A partition's export by an owner whose lease term (`epoch`) is older than the one that
    /// exported it last (`current`): this instance lost the partition and must stop writing it.
    case fenced(partition: Int, epoch: UInt64, current: UInt64)

    /// True when the problem is the command line (exit 2), not the run (exit 1).
    public var isUsage: Bool {
        switch self {
        case .badURL: true
        default: false
        }
    }

    public var description: String {
        let untouched = "the tables of the previous export are untouched"
        switch self {
        case .badURL(let message):
            return message
        case .unreachable(let address, let reason):
            return "cannot connect to PostgreSQL at \(address): \(reason); check that the server runs and the "
                + "host and port of --postgres (\(untouched))"
        case .authentication(let user, let address, let message):
            return "PostgreSQL at \(address) refused user \"\(user)\": \(message); check the user and password of "
                + "--postgres and the server's pg_hba.conf"
        case .connectionLost(let address, let reason):
            return "the connection to PostgreSQL at \(address) was lost during the export (\(reason)); "
                + "nothing was committed and \(untouched): run the export again"
        case .server(let message, let state, let detail, let hint, let statement):
            var text = "PostgreSQL refused the export: \(message) (SQLSTATE \(state))"
            if let detail { text += "; \(detail)" }
            if let hint { text += "; hint: \(hint)" }
            return text + "; in: \(statement.prefix(120)); nothing was committed and \(untouched)"
        case .schemaMismatch(let message):
            return message
        case .noPreviousExport:
            return "no earlier export in invoice_breakdown.exports: run a full export first "
                + "(daybook export --as-of DATE --postgres URL, without --incremental or --changed-since)"
        case .basisMoved(let expected, let found):
            return "another export committed while this one ran (expected the last export to be \(expected), found "
                + "\(found)); nothing was committed: run the export again"
        case .fenced(let partition, let epoch, let current):
            return "fenced: partition \(partition) was exported at epoch \(current), and this owner holds epoch "
                + "\(epoch) (it lost the partition's lease); nothing was written: stop writing partition \(partition)"
        }
    }

    /// The typed error for a postgres-nio failure of `statement` at `address`.
    static func from(_ error: any Error, address: String, user: String, statement: String) -> WarehouseError {
        if let error = error as? WarehouseError { return error }
        guard let psql = error as? PSQLError else {
            return .connectionLost(address: address, reason: "\(error)")
        }
        if let info = psql.serverInfo, let state = info[.sqlState] {
            let message = info[.message] ?? "\(psql.code)"
            // Class 28: invalid authorization specification.
            if state.hasPrefix("28") { return .authentication(user: user, address: address, message: message) }
            return .server(
                message: message, sqlState: state, detail: info[.detail], hint: info[.hint], statement: statement)
        }
        switch psql.code {
        case .connectionError:
            return .unreachable(address: address, reason: psql.underlying.map { "\($0)" } ?? "\(psql.code)")
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return .authentication(
                user: user, address: address,
                message: psql.code == .authMechanismRequiresPassword ? "a password is required" : "\(psql.code)")
        case .sslUnsupported:
            return .unreachable(address: address, reason: "the server does not support TLS (sslmode=disable?)")
        default:
            return .connectionLost(address: address, reason: psql.underlying.map { "\($0)" } ?? "\(psql.code)")
        }
    }
}
