internal import CNATS
import Synchronization

/// A connection to a NATS server (cnats `natsConnection`) that reconnects forever after a loss.
///
/// cnats connections are thread-safe; this handle may be shared. It is closed and freed when the
/// last reference goes away (or earlier with ``close()``).
///
/// ```swift
/// let connection = try NATSConnection(url: "nats://127.0.0.1:4222")
/// let js = try connection.jetStream()
/// ```
public final class NATSConnection: @unchecked Sendable {
    // @unchecked: cnats's connection is safe to use from any thread; the pointers are immutable.
    let handle: OpaquePointer
    private let options: OpaquePointer
    /// Counters the C callbacks update. Never freed: cnats may still run a callback on its own
    /// thread after the connection is destroyed, and the block is 32 bytes per connection.
    let events: UnsafeMutablePointer<daybook_nats_events>
    /// The server URL(s) as given (comma-separated for several).
    public let url: String

    /// Connects to `url` (`nats://host:port`, several separated by commas).
    ///
    /// - Parameters:
    ///   - retryFirstConnect: when no server answers, return at once and keep trying in the
    ///     background (calls made meanwhile fail with a transient ``JetStreamError``); false:
    ///     throw at once.
    ///   - reconnectWait: the pause between two reconnect attempts (they never stop).
    public init(
        url: String, name: String = "daybook", retryFirstConnect: Bool = true,
        reconnectWait: Duration = .milliseconds(250), connectTimeout: Duration = .seconds(2)
    ) throws(JetStreamError) {
        self.url = url
        let events = UnsafeMutablePointer<daybook_nats_events>.allocate(capacity: 1)
        events.initialize(to: daybook_nats_events())
        self.events = events
        var opts: OpaquePointer?
        let servers = url.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
        guard !servers.isEmpty else {
            throw JetStreamError(
                kind: .other, operation: "connecting to \(url)", statusText: "no server URL",
                hint: "give nats://HOST:PORT, several separated by commas")
        }
        try check(
            withCStrings(servers) { pointers in
                daybook_options(
                    &opts, pointers, Int32(servers.count), name, reconnectWait.milliseconds,
                    connectTimeout.milliseconds, retryFirstConnect, events)
            },
            "setting up a connection to \(url)", server: url)
        var nc: OpaquePointer?
        let status = natsConnection_Connect(&nc, opts)
        guard (status == NATS_OK || status == NATS_NOT_YET_CONNECTED), let nc else {
            natsOptions_Destroy(opts)
            throw JetStreamError(status, operation: "connecting to \(url)", server: url)
        }
        self.options = opts!
        self.handle = nc
    }

    deinit {
        natsConnection_Destroy(handle)
        destroyParked()
        natsOptions_Destroy(options)
    }

    // MARK: Destruction after the close

    /// A cnats object of this connection whose destruction waits for the connection's close.
    enum Parked {
        case subscription(OpaquePointer)
        case keyValue(OpaquePointer)
        case context(OpaquePointer)
    }

    private struct ParkedObjects: @unchecked Sendable {
        // @unchecked: the pointers are only destroyed, once, under the mutex.
        var objects: [Parked] = []
        var closed = false
    }

    private let parked = Mutex(ParkedObjects())

    /// Destroys `object` now if the connection is closed, else when it closes (``close()`` or the
    /// last reference).
    ///
    /// Why: cnats 3.4 (Debian's) can crash its read loop when a message arrives for a subscription
    /// another thread is destroying (nats.c #637, fixed in 3.6): a pull request's late reply or a
    /// publish ack racing the subscription's or the JetStream context's destruction ended a `serve
    /// --cluster` process with SIGSEGV in `natsConn_processMsg` while it handed its partitions off.
    /// After the close no read loop runs, so nothing can race.
    func destroyAfterClose(_ object: Parked) {
        let now = parked.withLock { p -> Bool in
            if !p.closed { p.objects.append(object) }
            return p.closed
        }
        if now { Self.destroy([object]) }
    }

    private func destroyParked() {
        let objects = parked.withLock { p -> [Parked] in
            p.closed = true
            defer { p.objects = [] }
            return p.objects
        }
        Self.destroy(objects)
    }

    /// Subscriptions first, then key-value handles, then contexts (a handle made from a context goes before it).
    private static func destroy(_ objects: [Parked]) {
        for case .subscription(let sub) in objects { natsSubscription_Destroy(sub) }
        for case .keyValue(let kv) in objects { kvStore_Destroy(kv) }
        for case .context(let js) in objects { jsCtx_Destroy(js) }
    }

    /// Whether the connection is up right now.
    public var isConnected: Bool { natsConnection_Status(handle) == NATS_CONN_STATUS_CONNECTED }

    /// How often the connection was lost since it was opened.
    public var disconnects: Int { Int(daybook_load(&events.pointee.disconnects)) }
    /// How often it was re-established after a loss.
    public var reconnects: Int { Int(daybook_load(&events.pointee.reconnects)) }

    /// Waits until the server has processed everything sent so far (acks included), at most `timeout`.
    public func flush(timeout: Duration = .seconds(5)) throws(JetStreamError) {
        try check(natsConnection_FlushTimeout(handle, timeout.milliseconds), "flushing to \(url)", server: url)
    }

    /// Closes the connection (when connected, what was sent is flushed first, at most 2 s). Idempotent.
    public func close() {
        if isConnected { _ = natsConnection_FlushTimeout(handle, 2000) }
        natsConnection_Close(handle)
        destroyParked()
    }

    /// A JetStream context on this connection; its API requests wait at most `requestTimeout`.
    public func jetStream(requestTimeout: Duration = .seconds(5), maxAsyncPublishes: Int = 4000) throws(JetStreamError)
        -> JetStream
    {
        var js: OpaquePointer?
        try check(
            daybook_jetstream(&js, handle, requestTimeout.milliseconds, Int64(maxAsyncPublishes), events),
            "opening a JetStream context on \(url)", server: url)
        return JetStream(connection: self, handle: js!)
    }
}

extension Duration {
    /// Whole milliseconds (rounded down), as cnats takes timeouts.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, as JetStream configurations take durations.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

extension NATSConnection {
    /// Tears the NATS client library down, waiting (at most `timeout`) for its threads to end:
    /// called by a process that used NATS once every connection is closed, right before it exits,
    /// so that no client thread still runs while the process is torn down.
    public static func shutDownLibrary(timeout: Duration = .seconds(2)) {
        _ = nats_CloseAndWait(timeout.milliseconds)
    }
}
