internal import CNATS

/// A JetStream context (cnats `jsCtx`): stream and consumer management, publishing, pull
/// subscriptions. Thread-safe like its connection, which it keeps alive.
public final class JetStream: @unchecked Sendable {
    // @unchecked: cnats's JetStream context is safe to use from any thread; the pointer is immutable.
    /// The connection the context runs on.
    public let connection: NATSConnection
    let handle: OpaquePointer
    var server: String { connection.url }

    init(connection: NATSConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
    }

    deinit { connection.destroyAfterClose(.context(handle)) }  // see NATSConnection.destroyAfterClose

    // MARK: Streams

    /// Creates a stream holding `subjects` (on file storage unless `memory`), deduplicating
    /// publishes by `Nats-Msg-Id` within `duplicateWindow` (nil: the server's default, 2 minutes),
    /// keeping at most `maxMessages` (nil: no limit; past it the oldest messages are removed).
    public func addStream(
        _ name: String, subjects: [String], memory: Bool = false, duplicateWindow: Duration? = nil, replicas: Int = 1,
        maxMessages: Int64? = nil
    ) throws(JetStreamError) {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(rawValue: 0)
        let status = withCStrings(subjects) { pointers in
            daybook_add_stream(
                &info, handle, name, pointers, Int32(subjects.count), memory, duplicateWindow?.nanoseconds ?? 0,
                Int64(replicas), maxMessages ?? -1, &code)
        }
        jsStreamInfo_Destroy(info)
        try check(status, code, "creating stream \(name)", server: server)
    }

    /// The state of stream `name`, nil when there is no such stream.
    public func streamState(_ name: String) throws(JetStreamError) -> StreamState? {
        try withStreamInfo(name) { info in
            let s = info.State
            return StreamState(messages: s.Msgs, firstSequence: s.FirstSeq, lastSequence: s.LastSeq)
        }
    }

    /// Where stream `name`'s raft group stands: its leader, its other peers and the replicas it
    /// is configured with; nil when there is no such stream.
    public func streamCluster(_ name: String) throws(JetStreamError) -> StreamCluster? {
        try withStreamInfo(name) { info in Self.cluster(info) }
    }

    private static func cluster(_ info: jsStreamInfo) -> StreamCluster {
        let configured = Int(info.Config?.pointee.Replicas ?? 1)
        guard let cluster = info.Cluster?.pointee else {
            return StreamCluster(name: nil, leader: nil, replicas: [], configuredReplicas: configured)
        }
        var replicas: [StreamCluster.Peer] = []
        if let peers = cluster.Replicas {
            for i in 0..<Int(cluster.ReplicasLen) {
                guard let peer = peers[i]?.pointee else { continue }
                replicas.append(
                    StreamCluster.Peer(
                        name: peer.Name.map { String(cString: $0) } ?? "", current: peer.Current,
                        offline: peer.Offline, lag: peer.Lag))
            }
        }
        func text(_ p: UnsafeMutablePointer<CChar>?) -> String? {
            p.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        return StreamCluster(
            name: text(cluster.Name), leader: text(cluster.Leader), replicas: replicas, configuredReplicas: configured)
    }

    /// The server name of stream `stream`'s raft leader (the one server that stores a publish
    /// first and answers for the stream); nil while none is elected. Throws
    /// ``JetStreamError/Kind/streamNotFound`` when there is no such stream.
    public func streamLeader(_ stream: String) throws(JetStreamError) -> String? {
        guard let cluster = try streamCluster(stream) else {
            throw JetStreamError(
                kind: .streamNotFound, operation: "reading stream \(stream)'s leader from \(server)",
                statusText: "no stream \(stream)", hint: "create the stream first (for a cluster: daybook cluster init)"
            )
        }
        return cluster.leader
    }

    /// Removes the messages of `stream` below sequence `before`: what retention does to an old log.
    public func purge(_ stream: String, before: UInt64) throws(JetStreamError) {
        var code = jsErrCode(rawValue: 0)
        try check(
            daybook_purge_before(handle, stream, before, &code), code, "purging \(stream) below seq \(before)",
            server: server)
    }

    /// The subjects `stream` holds (its configuration's), nil when there is no such stream.
    public func streamSubjects(_ name: String) throws(JetStreamError) -> [String]? {
        try withStreamInfo(name) { info in
            guard let config = info.Config?.pointee, let subjects = config.Subjects else { return [] }
            return (0..<Int(config.SubjectsLen)).compactMap { subjects[$0].map { String(cString: $0) } }
        }
    }

    /// `body` of stream `name`'s info (configuration, state, cluster), nil when there is no such stream.
    private func withStreamInfo<R>(_ name: String, _ body: (jsStreamInfo) -> R) throws(JetStreamError) -> R? {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(rawValue: 0)
        let status = js_GetStreamInfo(&info, handle, name, nil, &code)
        defer { jsStreamInfo_Destroy(info) }
        if code == JSStreamNotFoundErr { return nil }
        try check(status, code, "reading stream \(name)", server: server)
        return body(info!.pointee)
    }

    // MARK: Consumers

    /// The state of consumer `consumer` of `stream`, nil when there is no such consumer.
    public func consumerState(stream: String, consumer: String) throws(JetStreamError) -> ConsumerState? {
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var code = jsErrCode(rawValue: 0)
        let status = js_GetConsumerInfo(&info, handle, stream, consumer, nil, &code)
        defer { jsConsumerInfo_Destroy(info) }
        if code == JSConsumerNotFoundErr { return nil }
        try check(status, code, "reading consumer \(stream)/\(consumer)", server: server)
        return ConsumerState(info!.pointee)
    }

    /// Creates the durable pull consumer `durable` on `stream` with explicit acks.
    ///
    /// - Parameters:
    ///   - filter: the subject (wildcards allowed) it delivers; nil: the whole stream.
    ///   - maxAckPending: messages delivered and not yet acked at most; delivery pauses beyond.
    ///   - ackWait: how long after a delivery without an ack the message is delivered again.
    ///   - startSequence: the first stream sequence to deliver (1: the stream's first message).
    @discardableResult
    public func addPullConsumer(
        stream: String, durable: String, filter: String?, maxAckPending: Int, ackWait: Duration,
        startSequence: UInt64 = 1
    ) throws(JetStreamError) -> ConsumerState {
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var code = jsErrCode(rawValue: 0)
        let status = withOptionalCString(filter) { filter in
            daybook_add_pull_consumer(
                &info, handle, stream, durable, filter, Int64(maxAckPending), ackWait.nanoseconds, startSequence, &code)
        }
        defer { jsConsumerInfo_Destroy(info) }
        try check(status, code, "creating consumer \(stream)/\(durable)", server: server)
        return ConsumerState(info!.pointee)
    }

    /// Deletes consumer `consumer` of `stream`.
    public func deleteConsumer(stream: String, consumer: String) throws(JetStreamError) {
        var code = jsErrCode(rawValue: 0)
        try check(
            js_DeleteConsumer(handle, stream, consumer, nil, &code), code, "deleting consumer \(stream)/\(consumer)",
            server: server)
    }

    // MARK: Subscriptions

    /// A pull subscription bound to the existing durable consumer `durable` of `stream`.
    public func pullSubscription(stream: String, durable: String) throws(JetStreamError) -> PullSubscription {
        var sub: OpaquePointer?
        var code = jsErrCode(rawValue: 0)
        try check(
            daybook_pull_subscribe_durable(&sub, handle, stream, durable, &code), code,
            "subscribing to consumer \(stream)/\(durable)", server: server)
        return PullSubscription(context: self, handle: sub!, label: "\(stream)/\(durable)", ownsConsumer: false)
    }

    /// A pull subscription on a new ephemeral consumer without acks that delivers the messages of
    /// `stream` matching `filter` (nil: all of them) from stream sequence `startSequence` on.
    /// Unsubscribing (or dropping the subscription) deletes the consumer; the server also
    /// removes it a minute after its last use.
    public func pullSubscription(stream: String, filter: String?, from startSequence: UInt64) throws(JetStreamError)
        -> PullSubscription
    {
        var sub: OpaquePointer?
        var code = jsErrCode(rawValue: 0)
        // cnats wants a subject for the subscribe call: the filter, else the stream's one subject
        // (a stream of several subjects can only be read again through a consumer with a filter).
        var filter = filter
        if filter == nil {
            let subjects = try streamSubjects(stream) ?? []
            guard subjects.count == 1 else {
                throw JetStreamError(
                    kind: .unusableConsumer, operation: "reading \(stream) from stream seq \(startSequence)",
                    statusText: "the stream has \(subjects.count) subjects and the consumer no filter subject",
                    hint:
                        "give the consumer a filter subject (--subject) so daybook can read its messages again by sequence"
                )
            }
            filter = subjects[0]
        }
        let status = withOptionalCString(filter) { filter in
            daybook_pull_subscribe_from(
                &sub, handle, stream, filter, filter, startSequence, Duration.seconds(60).nanoseconds, &code)
        }
        try check(status, code, "reading \(stream) from stream seq \(startSequence)", server: server)
        return PullSubscription(
            context: self, handle: sub!, label: "\(stream) from seq \(startSequence)", ownsConsumer: true)
    }

    // MARK: Publishing

    /// Publishes `data` on `subject` and waits for the stream's acknowledgement. `messageID`
    /// (the `Nats-Msg-Id` header) lets the stream drop a repeat within its duplicate window.
    @discardableResult
    public func publish(subject: String, data: [UInt8], messageID: String? = nil) throws(JetStreamError) -> PublishAck {
        var ack: UnsafeMutablePointer<jsPubAck>?
        var code = jsErrCode(rawValue: 0)
        let status = withOptionalCString(messageID) { id in
            data.withUnsafeBytes { bytes in
                daybook_publish(&ack, handle, subject, bytes.baseAddress, Int32(bytes.count), id, &code)
            }
        }
        defer { jsPubAck_Destroy(ack) }
        try check(status, code, "publishing on \(subject)", server: server)
        return PublishAck(
            stream: ack!.pointee.Stream.map { String(cString: $0) } ?? "", sequence: ack!.pointee.Sequence,
            duplicate: ack!.pointee.Duplicate)
    }

    /// Publishes without waiting for the acknowledgement (at most `maxAsyncPublishes` in flight:
    /// beyond, this call waits). Call ``waitForAsyncPublishes(timeout:)`` to learn the outcome.
    public func publishAsync(subject: String, data: [UInt8], messageID: String? = nil) throws(JetStreamError) {
        let status = withOptionalCString(messageID) { id in
            data.withUnsafeBytes { bytes in
                daybook_publish_async(handle, subject, bytes.baseAddress, Int32(bytes.count), id)
            }
        }
        try check(status, "publishing on \(subject)", server: server)
    }

    /// Waits until every asynchronous publish is acknowledged; throws when that takes longer than
    /// `timeout` or when any of them failed since the context was opened.
    public func waitForAsyncPublishes(timeout: Duration = .seconds(30)) throws(JetStreamError) {
        try check(
            daybook_publish_async_complete(handle, timeout.milliseconds), "waiting for publish acks", server: server)
        let failed = asyncPublishErrors
        guard failed == 0 else {
            let status = natsStatus(
                rawValue: UInt32(truncatingIfNeeded: daybook_load(&connection.events.pointee.last_publish_status)))
            let code = daybook_load(&connection.events.pointee.last_publish_code)
            throw JetStreamError(
                kind: .other, operation: "publishing asynchronously to \(server)",
                statusText: "\(failed) publishes were not acknowledged by the stream (the last: "
                    + String(cString: natsStatus_GetText(status)) + (code != 0 ? ", JetStream error \(code))" : ")"),
                hint: "publish them again (with the same Nats-Msg-Id the stream drops those it has)")
        }
    }

    /// Asynchronous publishes the stream did not acknowledge, since the context was opened.
    public var asyncPublishErrors: Int { Int(daybook_load(&connection.events.pointee.async_publish_errors)) }

    /// Asynchronous publishes a clustered stream answered with "duplicate message id is in
    /// process": another publish of the same `Nats-Msg-Id` was being stored (a file with a
    /// repeated transaction id, published faster than the stream's raft group commits). Not
    /// failures: that other publish's own acknowledgement or error covers the message.
    public var asyncPublishesInProcess: Int { Int(daybook_load(&connection.events.pointee.async_publish_in_process)) }
}

/// A stream's size and sequence range.
public struct StreamState: Sendable, Hashable {
    /// Messages stored now.
    public var messages: UInt64
    public var firstSequence: UInt64
    public var lastSequence: UInt64
}

/// A stream's raft group in a JetStream cluster (``JetStream/streamCluster(_:)``).
public struct StreamCluster: Sendable, Hashable {
    /// A server holding a copy of the stream, other than the leader.
    public struct Peer: Sendable, Hashable {
        /// The server's name (`server_name` of its configuration).
        public var name: String
        /// Caught up with the leader.
        public var current: Bool
        /// Not heard from lately.
        public var offline: Bool
        /// Operations behind the leader.
        public var lag: UInt64
    }
    /// The JetStream cluster's name; nil on a server without a cluster.
    public var name: String?
    /// The leader's server name; nil while none is elected.
    public var leader: String?
    /// The other peers (the leader is not among them): `configuredReplicas - 1` of them when all
    /// are placed.
    public var replicas: [Peer]
    /// The copies the stream is configured with (`num_replicas`).
    public var configuredReplicas: Int

    /// The leader and the other peers' names, leader first.
    public var peers: [String] { (leader.map { [$0] } ?? []) + replicas.map(\.name) }
}

/// What the stream answered to a publish.
public struct PublishAck: Sendable, Hashable {
    /// The stream that stored the message (the one whose subjects the subject, after the server's
    /// mappings, matched).
    public var stream: String
    /// The stream sequence of the message (of the first copy, for a duplicate).
    public var sequence: UInt64
    /// The stream dropped the message as a repeat of a `Nats-Msg-Id` inside its duplicate window.
    public var duplicate: Bool
}

/// A consumer's configuration and delivery state, as the server reports it.
public struct ConsumerState: Sendable, Hashable {
    /// How the consumer expects deliveries to be acknowledged: each on its own (what daybook
    /// needs), not at all, or all up to a sequence at once.
    public enum AckPolicy: Sendable, Hashable { case explicit, none, all }
    public var stream: String
    /// The consumer's (durable) name.
    public var name: String
    /// The subject it delivers (nil: the whole stream).
    public var filterSubject: String?
    public var ackPolicy: AckPolicy
    /// A push consumer (it has a deliver subject); daybook needs a pull consumer.
    public var isPush: Bool
    /// Deliveries not yet acknowledged at most; delivery pauses beyond.
    public var maxAckPending: Int
    /// How long after a delivery without an ack the message is delivered again.
    public var ackWait: Duration
    /// The last stream sequence delivered, and the consumer sequence (deliveries, redeliveries
    /// included) it was delivered with.
    public var deliveredStreamSequence: UInt64
    public var deliveredConsumerSequence: UInt64
    /// Every stream sequence at or below it is acknowledged.
    public var ackFloorStreamSequence: UInt64
    /// Delivered and not yet acknowledged.
    public var ackPending: Int
    /// Not yet delivered (matching the filter): the consumer's lag.
    public var pending: UInt64
    /// Messages delivered more than once and not yet acknowledged.
    public var redelivered: Int
    /// Pull requests waiting at the server for messages.
    public var waiting: Int

    init(_ info: jsConsumerInfo) {
        stream = info.Stream.map { String(cString: $0) } ?? ""
        name = info.Name.map { String(cString: $0) } ?? ""
        let config = info.Config?.pointee
        filterSubject = config?.FilterSubject.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        switch config?.AckPolicy ?? js_AckExplicit {
        case js_AckNone: ackPolicy = .none
        case js_AckAll: ackPolicy = .all
        default: ackPolicy = .explicit
        }
        isPush = config?.DeliverSubject.map { $0.pointee != 0 } ?? false
        maxAckPending = Int(config?.MaxAckPending ?? 0)
        ackWait = .nanoseconds(config?.AckWait ?? 0)
        deliveredStreamSequence = info.Delivered.Stream
        deliveredConsumerSequence = info.Delivered.Consumer
        ackFloorStreamSequence = info.AckFloor.Stream
        ackPending = Int(info.NumAckPending)
        pending = info.NumPending
        redelivered = Int(info.NumRedelivered)
        waiting = Int(info.NumWaiting)
    }
}

// MARK: C strings

/// Runs `body` with a C string for `text`, or NULL.
func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}

/// Runs `body` with an array of C strings valid for the call.
func withCStrings<R>(_ texts: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = texts.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

#if canImport(Glibc)
    import Glibc
#endif
