import Dispatch
import Synchronization

/// Maps `items` through a pure function on every core, keeping order.
///
/// Used for the CPU-bound, I/O-free part of replay and explain (strict JSON parsing, validation,
/// metric evaluation) so that the single LMDB writer only does what must be serial. Each of 8
/// slices is mapped into its own array; the slices are joined in order.
func parallelMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @Sendable (T) -> R) -> [R] {
    let n = items.count
    let chunks = 8
    guard n >= 2_048 else { return items.map(transform) }
    let results = Mutex<[[R]]>(Array(repeating: [], count: chunks))
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let slice = items[(n * c / chunks)..<(n * (c + 1) / chunks)].map(transform)
        results.withLock { $0[c] = slice }
    }
    return results.withLock { parts in
        var all: [R] = []
        all.reserveCapacity(n)
        for part in parts { all += part }
        return all
    }
}
