import Foundation

/// A scratch directory could not be made or is not usable; what to do is in the message.
public struct ScratchDirectoryError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let rawValue: Int
        /// `mkdtemp` failed (no such directory, no permission, no space).
        public static let cannotCreate = Code(rawValue: 1)
        /// The directory given holds something already.
        public static let notEmpty = Code(rawValue: 2)
    }
    public var code: Code
    public var message: String
    public var description: String { message }
}

/// A new private directory under the system temporary directory (`$TMPDIR`, else /tmp), made by
/// `mkdtemp(3)`: an unpredictable name, mode 0700, created by this call — never an existing path,
/// so a directory left by an earlier run (or planted by another user) is never reused.
struct ScratchDirectory {
    let path: String

    init(prefix: String) throws(ScratchDirectoryError) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(prefix + "XXXXXX").path
        var template = Array(base.utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        guard let made else {
            throw ScratchDirectoryError(
                code: .cannotCreate,
                message:
                    "cannot create a scratch directory \(base): \(String(cString: strerror(errno))); "
                    + "set TMPDIR to a writable directory with free space")
        }
        path = made
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
