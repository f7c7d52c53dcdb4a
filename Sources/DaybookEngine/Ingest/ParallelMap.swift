import Dispatch

/// Maps `items` through a pure function on every core, keeping order.
///
/// Used for the CPU-bound, I/O-free part of ingest (strict JSON parsing, validation, metric
/// evaluation, record encoding) so that the single LMDB writer only does what must be serial.
func parallelMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @Sendable (T) -> R) -> [R] {
    let n = items.count
    let chunks = 8
    guard n >= 2_048 else { return items.map(transform) }
    return Array(unsafeUninitializedCapacity: n) { buffer, initialized in
        // Each chunk initializes a disjoint index range, so the writes never overlap.
        nonisolated(unsafe) let base = buffer.baseAddress!
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (n * c / chunks)..<(n * (c + 1) / chunks) {
                (base + i).initialize(to: transform(items[i]))
            }
        }
        initialized = n
    }
}
