import Foundation

/// A file-system error from Foundation (`CocoaError`, `POSIXError`, as `FileManager` and
/// `FileHandle` throw them) as a message naming the path and the cause, never the raw
/// `Error Domain=NSCocoaErrorDomain Code=…` text, with its exit code (SPEC §7): 2 when the path
/// given is the problem (missing, a directory, a file where a directory is needed, already there,
/// not permitted), 1 for a runtime failure (I/O error, disk full, …).
struct FileProblem: Error, CustomStringConvertible {
    /// What the path is, as the user gave it (`--out out/`, `events.ndjson`), or nil when unknown.
    var subject: String?
    /// What failed, e.g. `cannot read`, `cannot create the directory`.
    var action: String?
    /// The system's reason (`Is a directory`, `Permission denied`).
    var cause: String
    var exitCode: Int32

    /// Describes `error`, or nil when it is not a Foundation file-system error. Without a
    /// `subject`, the path recorded in the error (if any) names it.
    init?(_ error: any Error, subject: String? = nil, action: String? = nil) {
        if let problem = error as? FileProblem {
            self = problem
            if let subject { self.subject = subject }
            if let action { self.action = action }
            return
        }
        let ns = error as NSError
        var code: Int32?
        switch ns.domain {
        case NSPOSIXErrorDomain:
            code = Int32(ns.code)
        case NSCocoaErrorDomain:
            // swift-foundation puts a `POSIXError` there, corelibs an `NSError`.
            if let posix = ns.userInfo[NSUnderlyingErrorKey] as? POSIXError {
                code = posix.code.rawValue
            } else if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error {
                let bridged = underlying as NSError
                if bridged.domain == NSPOSIXErrorDomain { code = Int32(bridged.code) }
            }
        default:
            return nil
        }
        let recordedPath = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        self.subject = subject ?? recordedPath
        self.action = action
        if let code {
            cause = String(cString: strerror(code))
            exitCode = Self.pathErrors.contains(code) ? 2 : 1
        } else {
            let cocoa = CocoaError.Code(rawValue: ns.code)
            cause = Self.causes[cocoa] ?? "error \(ns.code) (\(ns.domain))"
            exitCode = Self.pathCodes.contains(cocoa) ? 2 : 1
        }
    }

    var description: String {
        ([subject, action].compactMap { $0 } + [cause]).joined(separator: ": ")
    }

    /// `errno` values that say the path given is wrong: bad usage.
    static let pathErrors: Set<Int32> = [ENOENT, EEXIST, EISDIR, ENOTDIR, EACCES, EPERM, ENAMETOOLONG, ELOOP]

    static let pathCodes: Set<CocoaError.Code> = [
        .fileNoSuchFile, .fileReadNoSuchFile, .fileWriteFileExists, .fileReadNoPermission, .fileWriteNoPermission,
        .fileReadInvalidFileName, .fileWriteInvalidFileName,
    ]

    static let causes: [CocoaError.Code: String] = [
        .fileNoSuchFile: "No such file or directory", .fileReadNoSuchFile: "No such file or directory",
        .fileWriteFileExists: "File exists", .fileReadNoPermission: "Permission denied",
        .fileWriteNoPermission: "Permission denied", .fileWriteOutOfSpace: "No space left on device",
        .fileReadInvalidFileName: "invalid file name", .fileWriteInvalidFileName: "invalid file name",
        .fileWriteVolumeReadOnly: "Read-only file system",
    ]
}

/// Checks an input path before anything is opened: bad usage (exit 2) naming the path when it is
/// missing, unreadable or a directory.
enum InputFile {
    /// - Parameter what: what the file should hold, for the message (`a file of events`).
    static func require(_ path: String, holding what: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw UsageError("\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        if info.st_mode & S_IFMT == S_IFDIR { throw UsageError("\(path): is a directory, not \(what)") }
        guard access(path, R_OK) == 0 else {
            throw UsageError("\(path): cannot read: \(String(cString: strerror(errno)))")
        }
    }
}
