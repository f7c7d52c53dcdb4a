import Synchronization

/// The outcome of `body`, or nil when it has not ended within `seconds`: an async operation the
/// test must not wait on for ever (the task is then left running, abandoned).
public func within<T: Sendable>(seconds: Int, _ body: @escaping @Sendable () async throws -> T) async
    -> Result<T, any Error>?
{
    let slot = Mutex<CheckedContinuation<Result<T, any Error>?, Never>?>(nil)
    let finish: @Sendable (Result<T, any Error>?) -> Void = { outcome in
        slot.withLock { c in
            c?.resume(returning: outcome)
            c = nil
        }
    }
    return await withCheckedContinuation { continuation in
        slot.withLock { $0 = continuation }
        Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            finish(nil)
        }
    }
}

/// Polls `condition` (10 ms apart, without holding a thread of the concurrency pool) until it
/// holds or `seconds` pass; whether it held.
public func eventually(seconds: Int, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(10))  // a poll interval: the condition decides
    }
    return try condition()
}
