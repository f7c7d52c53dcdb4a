import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A tmpfs of a given size mounted on a fresh temporary directory, for tests of a full disk.
///
/// Mounting needs root (`CAP_SYS_ADMIN`); tests that need one are enabled with
/// `.enabled(if: Tmpfs.available, …)`, so they show as skipped where it cannot be had. The file
/// system is unmounted and its directory removed by ``unmount()``, called from `deinit` too, so
/// every path out of a test tears it down.
public final class Tmpfs {
    /// The mount point.
    public let path: String
    private var mounted = false

    /// Mounts a tmpfs of `kibibytes` KiB on a new directory under the temporary directory.
    public init(kibibytes: Int) throws {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("daybook-tmpfs-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        #if os(Linux)
            guard Glibc.mount("tmpfs", path, "tmpfs", 0, "size=\(kibibytes)k,mode=0755") == 0 else {
                let error = errno
                rmdir(path)
                throw TmpfsError(message: "mount -t tmpfs on \(path): \(String(cString: strerror(error)))")
            }
            mounted = true
        #else
            rmdir(path)
            throw TmpfsError(message: "tmpfs mounts are Linux only")
        #endif
    }

    /// Changes the size of the mounted file system (`mount -o remount,size=…`): frees space without
    /// touching the files on it.
    public func resize(kibibytes: Int) throws {
        #if os(Linux)
            guard Glibc.mount("tmpfs", path, "tmpfs", UInt(MS_REMOUNT), "size=\(kibibytes)k") == 0 else {
                throw TmpfsError(message: "remount of \(path): \(String(cString: strerror(errno)))")
            }
        #endif
    }

    /// Writes zeros to `name` on the file system until it is full; returns the file's path.
    @discardableResult
    public func fill(_ name: String = "filler") throws -> String {
        let file = path + "/" + name
        let fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw TmpfsError(message: "cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: 4096)
        while true {
            let written = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < zeros.count { break }  // ENOSPC, or a short write at the very end
        }
        return file
    }

    /// Unmounts the file system (lazily if something still holds it) and removes the mount point.
    /// Idempotent.
    public func unmount() {
        guard mounted else { return }
        mounted = false
        #if os(Linux)
            if umount2(path, 0) != 0 { umount2(path, Int32(MNT_DETACH)) }
        #endif
        rmdir(path)
    }

    deinit { unmount() }

    /// Why a tmpfs cannot be mounted here, or nil when it can (tried once per process).
    public static let unavailable: String? = {
        do {
            let probe = try Tmpfs(kibibytes: 64)
            probe.unmount()
            return nil
        } catch {
            return "\(error)"
        }
    }()

    /// Whether tests can mount a tmpfs (root, or CAP_SYS_ADMIN).
    public static var available: Bool { unavailable == nil }
}

/// A tmpfs could not be mounted or changed.
public struct TmpfsError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
