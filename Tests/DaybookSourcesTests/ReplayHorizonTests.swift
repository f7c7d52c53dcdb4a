import DaybookCluster
import DaybookSources
import DaybookTestSupport
import NATS
import Testing

/// `ReplayHorizon.check` against what a real nats-server reports for a stream whose retention
/// removed messages (docs/scale-out.md §4 "Refusal").
@Suite("Replay horizon on a real stream", .serialized, .watchdog(seconds: 600))
struct ReplayHorizonTests {
    /// A stream limited to 10 messages, given 20: it holds 11 … 20. A partition whose checkpoint
    /// is 0 or 5 would need messages the stream no longer has: refused, naming them; checkpoints
    /// 10 and 15 (and 20, nothing to replay) resume; 21 is ahead of the stream.
    @Test func aStreamThatDroppedMessagesRefusesTheCheckpointsBeforeItsFirst() throws {
        let server = try NATSServer()
        defer { server.kill() }
        let js = try server.connect()
        let stream = Partitioning.streamName(partition: 7)
        try js.addStream(stream, subjects: [Partitioning.streamSubject(partition: 7)], maxMessages: 10)
        for i in 1...20 {
            let ack = try js.publish(subject: "usage.7.acme", data: Array("message \(i)".utf8))
            #expect(ack.stream == stream && ack.sequence == UInt64(i))
        }
        let state = try #require(try js.streamState(stream))
        #expect(state.firstSequence == 11 && state.lastSequence == 20 && state.messages == 10, "\(state)")
        for checkpoint: UInt64 in [0, 5] {
            let error = #expect(throws: ClusterError.self) {
                try ReplayHorizon.check(
                    partition: 7, checkpoint: checkpoint, firstSequence: state.firstSequence,
                    lastSequence: state.lastSequence)
            }
            #expect(error == .replayGap(partition: 7, checkpoint: checkpoint, firstSequence: 11))
            #expect(error?.description.contains("now starts at seq 11") == true, "\(String(describing: error))")
        }
        for checkpoint: UInt64 in [10, 15, 20] {
            try ReplayHorizon.check(
                partition: 7, checkpoint: checkpoint, firstSequence: state.firstSequence,
                lastSequence: state.lastSequence)
        }
        #expect(throws: ClusterError.storeAheadOfStream(partition: 7, checkpoint: 21, lastSequence: 20)) {
            try ReplayHorizon.check(
                partition: 7, checkpoint: 21, firstSequence: state.firstSequence, lastSequence: state.lastSequence)
        }
    }
}
