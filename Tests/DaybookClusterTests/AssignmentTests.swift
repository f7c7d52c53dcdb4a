import DaybookCluster
import Testing

@Suite("Partition assignment by rendezvous hashing")
struct AssignmentTests {
    let partitioning = Partitioning(count: 32)

    @Test func everyPartitionHasOneOwnerAndTheSplitIsFair() {
        let instances = ["a", "b", "c", "d"]
        var owned: [String: Int] = [:]
        for p in 0..<32 { owned[Assignment.owner(of: p, among: instances)!, default: 0] += 1 }
        #expect(owned.values.reduce(0, +) == 32)
        // 32 over 4: 8 each on average; a fair hash keeps every instance well away from 0 and 32.
        #expect(owned.count == 4 && owned.values.allSatisfy { $0 >= 3 && $0 <= 14 }, "\(owned)")
        #expect(Assignment.owner(of: 0, among: [String]()) == nil)
    }

    @Test func theAnswerDoesNotDependOnTheOrderOfTheList() {
        for p in 0..<32 {
            #expect(
                Assignment.owner(of: p, among: ["a", "b", "c"]) == Assignment.owner(of: p, among: ["c", "a", "b"]))
        }
    }

    @Test func aJoiningInstanceTakesPartitionsOnlyFromOthersAndALeavingOneGivesOnlyItsOwn() {
        let before = ["i-1", "i-2", "i-3"]
        let after = before + ["i-4"]
        var moved: [Int] = []
        for p in 0..<32 {
            let (old, new) = (Assignment.owner(of: p, among: before)!, Assignment.owner(of: p, among: after)!)
            if old != new {
                #expect(new == "i-4", "partition \(p) moved from \(old) to \(new), not to the new instance")
                moved.append(p)
            }
        }
        #expect(!moved.isEmpty && moved.count < 32)
        // What i-4 owns is exactly what moved: when it leaves, only those go back.
        #expect(Assignment.partitions(of: "i-4", among: after, partitioning) == moved)
    }
}
