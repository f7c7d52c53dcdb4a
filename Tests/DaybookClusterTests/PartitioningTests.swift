import DaybookCluster
import DaybookWorkload
import Testing

@Suite("Partitions and subject tokens")
struct PartitioningTests {
    /// The published FNV-1a 32 test vectors (Fowler/Noll/Vo; the same as Go's hash/fnv New32a).
    @Test func fnv1a32MatchesTheReferenceVectors() {
        #expect(Partitioning.fnv1a32(Array("".utf8)) == 0x811C_9DC5)
        #expect(Partitioning.fnv1a32(Array("a".utf8)) == 0xE40C_292C)
        #expect(Partitioning.fnv1a32(Array("foobar".utf8)) == 0xBF9C_F968)
    }

    @Test func tokensOfTheUsualIdsAreTheIds() {
        for id in ["acme", "cust_123", "NeuraTech-2026"] { #expect(SubjectToken.encode(id) == id) }
    }

    @Test func subjectSyntaxWhitespaceAndNonASCIIAreEscaped() {
        #expect(SubjectToken.encode("a.b") == "a%2Eb")
        #expect(SubjectToken.encode("*") == "%2A")
        #expect(SubjectToken.encode(">") == "%3E")
        #expect(SubjectToken.encode("x y\tz") == "x%20y%09z")
        #expect(SubjectToken.encode("100%") == "100%25")
        #expect(SubjectToken.encode("é") == "%C3%A9")
    }

    @Test func decodingRefusesWhatEncodingNeverMakes() {
        #expect(SubjectToken.decode("a%2eb") == nil, "lower-case hex")
        #expect(SubjectToken.decode("%41") == nil, "an escaped plain byte: two tokens for one id")
        #expect(SubjectToken.decode("%C3") == nil, "not UTF-8")
        #expect(SubjectToken.decode("a%2") == nil, "truncated")
        #expect(SubjectToken.decode("a.b") == nil, "a subject separator")
        #expect(SubjectToken.decode("a%2Eb") == "a.b")
    }

    @Test func randomIdsRoundTripAsOneToken() {
        var rng = SplitMix64(seed: 14)
        let alphabet: [String] = ["a", "Z", "0", "_", "-", ".", "*", ">", " ", "\t", "%", "é", "名", "🧾", "=", "/"]
        for _ in 0..<5_000 {
            let id = (0..<Int(rng.next() % 12 + 1)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                .joined()
            let token = SubjectToken.encode(id)
            #expect(SubjectToken.decode(token) == id)
            #expect(
                !token.isEmpty
                    && token.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x2E && $0 != 0x2A && $0 != 0x3E })
        }
    }

    @Test func partitionsSpreadIdsOverEveryPartition() {
        let p = Partitioning(count: 32)
        var counts = Array(repeating: 0, count: 32)
        for i in 0..<10_000 { counts[p.partition(ofCustomer: "customer-\(i)")] += 1 }
        // 10,000 ids over 32 partitions: about 312 each; FNV-1a spreads them within a few dozen.
        #expect(counts.allSatisfy { $0 > 200 && $0 < 430 }, "\(counts)")
        #expect(Partitioning.streamName(partition: 7) == "DAYBOOK_P07")
        #expect(Partitioning.publishSubject(customer: "a.b") == "usage.a%2Eb")
    }
}
