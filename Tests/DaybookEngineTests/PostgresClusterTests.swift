import DaybookTestSupport
import Foundation
import Testing

/// The throwaway PostgreSQL server the warehouse tests run against: it starts, answers SQL on
/// its loopback port, keeps what is written, and is gone after stop().
@Suite("PostgreSQL test cluster")
struct PostgresClusterTests {
    @Test func startsAnswersAndStops() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        #expect(try pg.psql("show server_version_num").trimmingCharacters(in: .whitespacesAndNewlines).count == 6)
        try pg.psql("create table t (day date primary key, amount numeric not null)")
        try pg.psql("insert into t values ('2026-10-01', 12.340000000001), ('2026-10-02', 0)")
        #expect(try pg.psql("select sum(amount) from t") == "12.340000000001\n", "numeric is exact")
        #expect(throws: PostgresCluster.Failure.self) { try pg.psql("insert into t values ('2026-10-01', 1)") }
        let directory = pg.directory
        pg.stop()
        #expect(!FileManager.default.fileExists(atPath: directory), "the cluster's directory is removed")
        #expect(throws: PostgresCluster.Failure.self) { try pg.psql("select 1") }
    }
}
