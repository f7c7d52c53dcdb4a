import DaybookCore
import DaybookEngine
import DaybookStore
import DaybookTestSupport
import LMDB
import Testing

/// The digest that keys unbounded parts, and what keeps colliding parts apart.
@Suite("Key digests")
struct KeyDigestTests {
    /// Every part has the same digest: every chain is one chain of collisions.
    static let constant = KeyDigest { _ in [UInt8](repeating: 0, count: KeyDigest.size) }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// `vectors_sip128` of the SipHash reference implementation (github.com/veorq/SipHash,
    /// vectors.h): key 00 01 … 0f, message 00 01 … (n−1) for length n.
    @Test(arguments: [
        (0, "a3817f04ba25a8e66df67214c7550293"), (1, "da87c1d86b99af44347659119b22fc45"),
        (7, "a1f1ebbed8dbc153c0b84aa61ff08239"), (8, "3b62a9ba6258f5610f83e264f31497b4"),
        (15, "5493e99933b0a8117e08ec0f97cfc3d9"), (16, "6ee2a4ca67b054bbfd3315bf85230577"),
        (63, "5150d1772f50834a503e069a973fbd7c"),
    ])
    func standardDigestIsSipHash128OfTheReferenceVectors(length: Int, expected: String) {
        let message = (0..<length).map { UInt8($0) }
        #expect(Self.hex(KeyDigest.standard(message)) == expected)
    }

    @Test func everyKeyFitsLMDBsLimitWithTheLongestPartsTheSpecAllows() throws {
        let store = try TemporaryStore()
        let raw = try Store(path: store.path, durable: false)
        let limit = raw.env.maxKeySize
        let id = String(repeating: "i", count: Catalog.maxIDBytes)  // contract, metric, customer ids
        let tid = String(repeating: "t", count: UsageEvent.maxIDBytes)
        // A product id and three group values of 1024 bytes, each tripled by percent-encoding.
        let lineItem =
            id + "{" + (0..<3).map { "\($0)=" + String(repeating: "%2C", count: 1024) }.joined(separator: ",") + "}"
        let value = String(repeating: "v", count: 1024)
        let invoice = Keys.invoice(contract: id, start: Day(parsing: "2026-10-01")!)
        let chains = [
            DigestChain(
                raw.distinct, prefix: Keys.distinctPrefix(invoice: invoice), part: Array((lineItem + value).utf8),
                digest: .standard),
            raw.driftChain(invoice: invoice, lineItem: lineItem),
            raw.driftHistoryChain(invoice: invoice, lineItem: lineItem, resolvedSeq: .max),
            DigestChain(raw.checkpoints, prefix: [], part: Array(("file:/" + lineItem).utf8), digest: .standard),
        ]
        let keys: [[UInt8]] =
            [
                invoice, Keys.openInvoice(end: Day(parsing: "2026-11-01")!, invoice: invoice),
                Keys.causeSummary(invoice: invoice), Keys.lateEvent(invoice: invoice, seq: .max),
                Keys.customerDay(id, day: Day(parsing: "2026-11-01")!, seq: .max),
                Keys.rejection(seq: .max, metric: id), Array(tid.utf8),
                Keys.seq(.max), Keys.version(.max), EngineState.key,
            ] + chains.map { $0.key(DigestChain.capacity - 1) }
        for key in keys { #expect(key.count <= limit, "\(key.count) > \(limit)") }
        #expect(limit == 511)
    }

    @Test func aDegenerateDigestKeepsCollidingValuesApart() throws {
        let store = try TemporaryStore(digest: Self.constant)
        let h = try ScenarioTests.Harness(store: store, UnboundedKeyTests.groupedCatalog(filtered: false))
        let day = "2026-10-03"
        func props(_ a: String, _ tokens: Int, _ region: String) -> String {
            "\"a\": \"\(a)\", \"b\": \"b\", \"c\": \"c\", \"tokens\": \(tokens), \"region\": \"\(region)\""
        }
        func item(_ a: String) -> String { "tok{a=\(a),b=b,c=c}" }
        _ = try h.ingest([("inference", day, props("z", 10, "us"))], now: "2026-10-20T00:00:00Z")
        _ = try h.engine.finalize(
            now: try Timestamp(parsing: "2026-10-25T00:00:00Z"), through: Day(parsing: "2026-11-01"))
        // Two late line items, one transaction apart: x takes place 0 of the one drift chain, y place 1.
        _ = try h.ingest([("inference", "2026-10-10", props("x", 50, "eu"))], now: "2026-10-26T00:00:00Z")
        _ = try h.ingest([("inference", "2026-10-11", props("y", 20, "us"))], now: "2026-10-26T00:00:00Z")
        var drift = try h.engine.discrepancies()
        #expect(drift.map(\.lineItemID) == [item("x"), item("y")])
        #expect(drift.map(\.current.quantity) == [FixedDecimal(50), FixedDecimal(20)])
        // x resolves (its only event is eu): y moves into place 0 and must still be found there.
        _ = try h.engine.applyCatalog(
            UnboundedKeyTests.groupedCatalog(filtered: true), now: try Timestamp(parsing: "2026-10-27T00:00:00Z"))
        #expect(try h.engine.discrepancies().map(\.lineItemID) == [item("y")])
        _ = try h.ingest([("inference", "2026-10-12", props("y", 5, "us"))], now: "2026-10-27T00:00:00Z")
        drift = try h.engine.discrepancies()
        #expect(drift.map(\.lineItemID) == [item("y")])
        #expect(drift.first?.current.quantity == FixedDecimal(25))
        #expect(try h.engine.discrepancies(history: true).map(\.lineItemID) == [item("x")])
        #expect(try h.engine.openDriftCounts() == ["k/2026-10-01": 1])
    }

    @Test func aDegenerateDigestKeepsDistinctValuesAndCheckpointsApart() throws {
        let store = try TemporaryStore(digest: Self.constant)
        let catalog = Array(
            """
            {"currency": "USD", "max_lateness_days": 60,
             "metrics": [{"id": "users", "event_type": "session", "aggregation": "unique_count", "property": "user",
                          "group_by": ["plan"]}],
             "products": [{"id": "seat", "name": "Seats", "metric": "users"}],
             "rate_cards": [{"id": "r", "rates": [{"product": "seat", "unit_price": "1"}]}],
             "customers": [{"id": "c", "contracts": [{"id": "k", "rate_card": "r", "starts": "2026-10-01", "ends": null}]}]}
            """.utf8)
        let h = try ScenarioTests.Harness(store: store, catalog)
        func user(_ u: String, _ plan: String) -> (type: String, day: String, props: String) {
            ("session", "2026-10-05", "\"user\": \"\(u)\", \"plan\": \"\(plan)\"")
        }
        // plan p: u1, u2 (u1 again counts nothing); plan q: u1. Every (line item, value) collides.
        _ = try h.ingest(
            [user("u1", "p"), user("u2", "p"), user("u1", "p"), user("u1", "q")], now: "2026-10-20T00:00:00Z")
        _ = try h.ingest([user("u2", "p"), user("u3", "q")], now: "2026-10-20T00:00:00Z")
        #expect(try h.rows("k/2026-10-01", "seat{plan=p}")["2026-10-05"]?[0] == "2")
        #expect(try h.rows("k/2026-10-01", "seat{plan=q}")["2026-10-05"]?[0] == "2")

        let now = try Timestamp(parsing: "2026-10-20T00:00:00Z")
        for (source, value) in [("s1", [UInt8(1)]), ("s2", [2]), ("s1", [3])] {
            _ = try h.engine.ingest([], source: source, now: now, checkpoint: Checkpoint(source: source, value: value))
        }
        #expect(try h.engine.checkpoint(source: "s1") == [3])
        #expect(try h.engine.checkpoint(source: "s2") == [2])
        #expect(try h.engine.checkpoint(source: "s3") == nil)
    }
}
