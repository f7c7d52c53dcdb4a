internal import CNATS

/// A JetStream pull subscription (cnats `natsSubscription`): ``fetch(_:timeout:)`` asks the
/// server for messages. Fetch from one thread at a time; messages may be acked from any thread.
public final class PullSubscription: @unchecked Sendable {
    // @unchecked: fetches are made by one thread (documented); acks go through the connection,
    // which is thread-safe; the pointers are immutable.
    let context: JetStream
    let handle: OpaquePointer
    let label: String
    private let ownsConsumer: Bool
    private var unsubscribed = false

    init(context: JetStream, handle: OpaquePointer, label: String, ownsConsumer: Bool) {
        self.context = context
        self.handle = handle
        self.label = label
        self.ownsConsumer = ownsConsumer
    }

    deinit {
        // Unsubscribing is safe while messages arrive (the handle stays allocated); freeing it waits
        // for the connection's close (see `NATSConnection.destroyAfterClose`).
        if ownsConsumer && !unsubscribed { _ = natsSubscription_Unsubscribe(handle) }
        context.connection.destroyAfterClose(.subscription(handle))
    }

    /// Up to `max` messages, waiting at most `timeout` for the first; an empty array when none
    /// came in time (not an error). It returns early with fewer when no more are available.
    public func fetch(_ max: Int, timeout: Duration) throws(JetStreamError) -> [JetStreamMessage] {
        var list = natsMsgList()
        var code = jsErrCode(rawValue: 0)
        let status = daybook_fetch(&list, handle, Int32(max), Swift.max(1, timeout.milliseconds), &code)
        defer { natsMsgList_Destroy(&list) }
        if status == NATS_TIMEOUT && list.Count == 0 { return [] }
        guard status == NATS_OK || list.Count > 0 else {
            throw JetStreamError(status, code, operation: "fetching from \(label)", server: context.server)
        }
        var messages: [JetStreamMessage] = []
        messages.reserveCapacity(Int(list.Count))
        for i in 0..<list.Count {
            guard let msg = daybook_take(&list, i) else { continue }
            messages.append(try JetStreamMessage(msg, subscription: self))
        }
        return messages
    }

    /// The consumer's current state, as the server reports it.
    public func consumerState() throws(JetStreamError) -> ConsumerState {
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var code = jsErrCode(rawValue: 0)
        let status = natsSubscription_GetConsumerInfo(&info, handle, nil, &code)
        defer { jsConsumerInfo_Destroy(info) }
        try check(status, code, "reading consumer \(label)", server: context.server)
        return ConsumerState(info!.pointee)
    }

    /// Ends the subscription (an ephemeral consumer made for it is deleted).
    public func unsubscribe() {
        guard !unsubscribed else { return }
        unsubscribed = true
        _ = natsSubscription_Unsubscribe(handle)
    }
}

/// One message delivered by a JetStream consumer, with its metadata. Freed when the last
/// reference goes away; ``ack()`` acknowledges it to the consumer.
public final class JetStreamMessage: @unchecked Sendable {
    // @unchecked: the message is immutable after init; acking goes through the thread-safe
    // connection (cnats locks the message's ack state itself).
    private let handle: OpaquePointer
    /// Keeps the subscription (and its connection) alive as long as the message can be acked.
    private let subscription: PullSubscription
    /// The payload.
    public let data: [UInt8]
    /// The message's stream sequence.
    public let streamSequence: UInt64
    /// The delivery's consumer sequence (every delivery, redeliveries included, takes the next one).
    public let consumerSequence: UInt64
    /// How often this message has been delivered (1 the first time).
    public let deliveries: UInt64
    /// Messages matching the consumer not yet delivered when this one was.
    public let pending: UInt64

    init(_ msg: OpaquePointer, subscription: PullSubscription) throws(JetStreamError) {
        handle = msg
        self.subscription = subscription
        let length = Int(natsMsg_GetDataLength(msg))
        if length > 0, let bytes = natsMsg_GetData(msg) {
            data = bytes.withMemoryRebound(to: UInt8.self, capacity: length) {
                Array(UnsafeBufferPointer(start: $0, count: length))
            }
        } else {
            data = []
        }
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        let status = natsMsg_GetMetaData(&meta, msg)
        defer { jsMsgMetaData_Destroy(meta) }
        guard status == NATS_OK, let m = meta?.pointee else {
            natsMsg_Destroy(msg)
            throw JetStreamError(
                status, operation: "reading the metadata of a message from \(subscription.label)",
                server: subscription.context.server)
        }
        streamSequence = m.Sequence.Stream
        consumerSequence = m.Sequence.Consumer
        deliveries = m.NumDelivered
        pending = m.NumPending
    }

    deinit { natsMsg_Destroy(handle) }

    /// Acknowledges the message (sent without waiting for the server's confirmation; a lost ack
    /// only means the message is delivered again).
    public func ack() throws(JetStreamError) {
        try check(
            natsMsg_Ack(handle, nil), "acknowledging stream seq \(streamSequence) of \(subscription.label)",
            server: subscription.context.server)
    }

    /// Acknowledges the message and waits for the server to confirm it.
    public func ackSync() throws(JetStreamError) {
        var code = jsErrCode(rawValue: 0)
        try check(
            natsMsg_AckSync(handle, nil, &code), code,
            "acknowledging stream seq \(streamSequence) of \(subscription.label)", server: subscription.context.server)
    }
}
