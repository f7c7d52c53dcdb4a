import Foundation

/// A scratch directory could not be made or is not usable; what to do is in the message.
public struct ScratchDirectoryError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let rawValue: Int
        /// Creating the directory failed (no such directory, no permission, no space).
        public static let cannotCreate = Code(rawValue: 1)
        /// The directory given holds something already.
        public static let notEmpty = Code(rawValue: 2)
    }
    public var code: Code
    public var message: String
    public var description: String { message }
}

/// A new private directory under the system temporary directory (`$TMPDIR`, else /tmp), made by
/// `mkdir(2)` under a random 128-bit name, mode 0700: created by this call — `mkdir` fails on an
/// existing path, so a directory left by an earlier run (or planted by another user) is never
/// reused (the guarantee of `mkdtemp(3)`, without its mutable C buffer).
struct ScratchDirectory {
    let path: String

    init(prefix: String) throws(ScratchDirectoryError) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(prefix).path
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<8 {
            let name = String(generator.next() as UInt64, radix: 36) + String(generator.next() as UInt64, radix: 36)
            let candidate = base + name
            if mkdir(candidate, 0o700) == 0 {
                path = candidate
                return
            }
            guard errno == EEXIST else { break }
        }
        throw ScratchDirectoryError(
            code: .cannotCreate,
            message:
                "cannot create a scratch directory \(base)…: \(String(cString: strerror(errno))); "
                + "set TMPDIR to a writable directory with free space")
    }

    /// Removes the directory and everything in it.
    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Throws unless `path` is missing or an empty directory: a scratch store must start empty, or
    /// the rebuild would add the log to whatever an earlier run left there.
    static func requireEmpty(_ path: String, purpose: String = "verify") throws(ScratchDirectoryError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        let entries = isDirectory.boolValue ? try? FileManager.default.contentsOfDirectory(atPath: path) : nil
        guard let entries, entries.isEmpty else {
            throw ScratchDirectoryError(
                code: .notEmpty,
                message:
                    "\(path) is not an empty directory; \(purpose) builds a new store into a missing or empty "
                    + "directory: remove it, or choose another")
        }
    }
}
