import Foundation
import NIOCore
import PostgresNIO
import Synchronization

extension Warehouse {
    /// How long a body may go on after its connection closed before it is given up.
    static let closedConnectionGrace: Duration = .seconds(2)

    /// Runs `body` on this warehouse and returns what it returns; when the connection closes and
    /// `body` has not ended ``closedConnectionGrace`` later, throws `.connectionLost` instead.
    ///
    /// Why: with postgres-nio 1.33, a statement or `COPY` sent on a connection the server has
    /// just ended (`pg_terminate_backend`, `idle_in_transaction_session_timeout`) can wait for a
    /// reply for ever (reproduced against PostgreSQL 15: a `COPY` sent after the server's FATAL
    /// never returns, and neither does a query sent in the same instant). The abandoned body's task
    /// stays suspended, holding what it captured; that is the price of not hanging the caller.
    func guarded<T: Sendable>(_ body: @escaping @Sendable (Warehouse) async throws -> T) async throws -> T {
        let address = url.address
        return try await withCheckedThrowingContinuation { continuation in
            let once = ResumeOnce(continuation)
            let work = Task {
                do { once.resume(.success(try await body(self))) } catch { once.resume(.failure(error)) }
            }
            connection.closeFuture.whenComplete { _ in
                Task {
                    try? await Task.sleep(for: Self.closedConnectionGrace)
                    let lost = WarehouseError.connectionLost(
                        address: address, reason: "the server closed the connection and the statement never ended")
                    if once.resume(.failure(lost)) { work.cancel() }
                }
            }
        }
    }
}

/// A continuation resumed by whichever of two tasks comes first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }

    /// Resumes with `result` unless resumed already; whether this call did.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        guard
            let c = continuation.withLock({ c -> CheckedContinuation<T, any Error>? in
                defer { c = nil }; return c
            })
        else { return false }
        c.resume(with: result)
        return true
    }
}
