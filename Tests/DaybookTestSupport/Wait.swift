import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// Polls `condition` until it holds or `seconds` pass: a bounded wait on a condition, never a
/// sleep used as synchronisation. Returns whether the condition held.
public func waitUntil(seconds: Int = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds) * 1_000_000_000
    while DispatchTime.now().uptimeNanoseconds < deadline {
        if try condition() { return true }
        sched_yield()
    }
    return try condition()
}
