import Foundation

/// A new private directory under the system temporary directory (`$TMPDIR`, else /tmp), made by
/// `mkdtemp(3)`: an unpredictable name, mode 0700, never an existing path.
struct ScratchDirectory {
    let path: String

    init(prefix: String) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(prefix + "XXXXXX").path
        var template = Array(base.utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        guard let made else {
            throw OutputError(message: "cannot create a scratch directory \(base): \(String(cString: strerror(errno)))")
        }
        path = made
    }

    /// Removes the directory and everything in it.
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
