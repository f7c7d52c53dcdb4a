internal import CNATS

/// A failed call to the NATS client (cnats) or to the JetStream API, naming what was being done,
/// cnats's status and last error text, and what to do about it.
///
/// Match on ``kind``; ``isTransient`` says whether retrying the same call later can succeed
/// (the server is restarting, the connection is being re-established).
public struct JetStreamError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as far as a caller decides on it.
    public enum Kind: Sendable, Hashable {
        /// No answer in time: no message to fetch, or the server did not answer a request.
        case timeout
        /// Not connected right now; the client reconnects on its own.
        case disconnected
        /// The stream does not exist.
        case streamNotFound
        /// The consumer does not exist.
        case consumerNotFound
        /// No JetStream on the server (no responders on the JetStream API).
        case noJetStream
        /// The connection is closed for good.
        case closed
        /// The existing consumer cannot be used as daybook needs it (ack policy, push, filter).
        case unusableConsumer
        /// Anything else cnats or the server reported.
        case other
    }

    public var kind: Kind
    /// What was being done: `fetching from USAGE/daybook`, `connecting to nats://127.0.0.1:4222`.
    public var operation: String
    /// cnats's status code (`natsStatus`), 0 for errors found by this layer.
    public var status: Int32
    /// cnats's text for the status (`natsStatus_GetText`).
    public var statusText: String
    /// The JetStream API error code (`jsErrCode`, e.g. 10014 consumer not found), 0 when none.
    public var jetStreamCode: Int32
    /// cnats's last error text on the failing thread (`nats_GetLastError`), when it says more.
    public var detail: String
    /// What to do about it.
    public var hint: String

    /// Whether the same call can succeed later without a change of configuration.
    public var isTransient: Bool { kind == .timeout || kind == .disconnected }

    public var description: String {
        var text = "\(operation): \(statusText)"
        if jetStreamCode != 0 { text += " (JetStream error \(jetStreamCode))" }
        if !detail.isEmpty && !statusText.contains(detail) && !detail.contains("\(statusText)") {
            text += ": \(detail)"
        }
        return text + "; " + hint
    }

    /// An error that did not come from a cnats call (a consumer that cannot be used, a timeout).
    package init(
        kind: Kind, operation: String, status: Int32 = 0, statusText: String, jetStreamCode: Int32 = 0,
        detail: String = "", hint: String
    ) {
        self.kind = kind
        self.operation = operation
        self.status = status
        self.statusText = statusText
        self.jetStreamCode = jetStreamCode
        self.detail = detail
        self.hint = hint
    }

    /// The error for `status` (not `NATS_OK`) returned by a cnats call made for `operation`.
    init(_ status: natsStatus, _ jsCode: jsErrCode = jsErrCode(rawValue: 0), operation: String, server: String) {
        let text = String(cString: natsStatus_GetText(status))
        var lastStatus = NATS_OK
        let last = nats_GetLastError(&lastStatus).map { String(cString: $0) } ?? ""
        let code = Int32(truncatingIfNeeded: jsCode.rawValue)
        let kind: Kind
        let hint: String
        switch (status, jsCode) {
        case (_, JSStreamNotFoundErr):
            kind = .streamNotFound
            hint = "create the stream first (docs/operations.md, \"NATS JetStream\"), or check --stream"
        case (_, JSConsumerNotFoundErr):
            kind = .consumerNotFound
            hint = "daybook creates the consumer when it is missing at start; restart `daybook tail`"
        case (NATS_TIMEOUT, _):
            kind = .timeout
            hint = "the server at \(server) did not answer in time; it may be restarting (retried)"
        case (NATS_CONNECTION_DISCONNECTED, _), (NATS_NOT_YET_CONNECTED, _), (NATS_NO_SERVER, _),
            (NATS_IO_ERROR, _), (NATS_STALE_CONNECTION, _), (NATS_MISSED_HEARTBEAT, _):
            kind = .disconnected
            hint = "no connection to \(server); check that nats-server runs there and is reachable (retried)"
        case (NATS_NO_RESPONDERS, _):
            kind = .noJetStream
            hint =
                "nothing answers the JetStream API at \(server): start nats-server with JetStream (-js, or a jetstream block in its configuration)"
        case (NATS_CONNECTION_CLOSED, _):
            kind = .closed
            hint = "the connection to \(server) was closed; start `daybook tail` again"
        case (NATS_NOT_FOUND, _):
            kind = .other
            hint = "check --stream and --consumer against the server at \(server)"
        case (NATS_INVALID_ARG, _), (NATS_INVALID_SUBJECT, _):
            kind = .other
            hint =
                "check --nats, --stream, --consumer and --subject (names without spaces; a consumer name without '.')"
        default:
            kind = .other
            hint = "see the nats-server log at \(server)"
        }
        self.init(
            kind: kind, operation: operation, status: Int32(truncatingIfNeeded: status.rawValue), statusText: text,
            jetStreamCode: code, detail: last, hint: hint)
    }
}

/// Throws a ``JetStreamError`` unless `status` is `NATS_OK`.
@inline(__always)
func check(_ status: natsStatus, _ jsCode: jsErrCode, _ operation: @autoclosure () -> String, server: String)
    throws(JetStreamError)
{
    guard status == NATS_OK else { throw JetStreamError(status, jsCode, operation: operation(), server: server) }
}

/// Throws a ``JetStreamError`` unless `status` is `NATS_OK` (a call without a JetStream error code).
@inline(__always)
func check(_ status: natsStatus, _ operation: @autoclosure () -> String, server: String) throws(JetStreamError) {
    guard status == NATS_OK else { throw JetStreamError(status, operation: operation(), server: server) }
}
