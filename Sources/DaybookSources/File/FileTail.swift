import DaybookCore
import DaybookEngine
import Foundation
import Logging
import Synchronization

/// Follows a growing NDJSON file like `tail -F` (SPEC §7 `daybook tail --file`): lines are
/// batched by count and by a short time window and submitted to the ``Writer``; each batch's
/// checkpoint — the file's identity (device, inode), the byte offset just past its last line and
/// the line count — commits in the same transaction as its events, so a restart resumes exactly
/// where the last commit stopped. A partial last line is never ingested before its `\n`.
///
/// - Rotation by rename: once a new file appears under the path, the old one is read to its end
///   (the writer may still be appending through its open descriptor: the old file must have been
///   quiet for ``Settings/rotationQuiet``), an unterminated last line of it is ingested as the
///   final record, then the new file is read from its start.
/// - Truncation (the same file shorter than what was read): reading starts again at offset 0.
/// - A path that does not exist yet is waited for.
/// - Restart after a rotation the tail did not see: the checkpointed file is looked for in the
///   same directory (`events.ndjson.1`) by its identity and read to its end first.
///
/// Dead letters and log entries name their position as `line N` of the file.
public final class FileTail: Source {
    /// How the tail batches and polls.
    public struct Settings: Sendable {
        /// Records per batch at most.
        public var batchSize = 10_000
        /// A batch is submitted at the latest this long after its first line was read.
        public var window: Duration = .milliseconds(50)
        /// How often the end of the file is looked at for growth, truncation and rotation.
        public var pollInterval: Duration = .milliseconds(10)
        /// How long a rotated-away file must have stopped growing before the tail moves on.
        public var rotationQuiet: Duration = .milliseconds(500)
        /// Batches submitted ahead of their commit (parsed on other cores meanwhile).
        public var inFlight = 2
        public init() {}
    }

    /// `file:` + the absolute path.
    public let name: String
    /// The absolute path followed.
    public let path: String
    private let settings: Settings
    private let clock: @Sendable () -> Timestamp
    private let stopped = Atomic<Bool>(false)
    private let logger = Logger(label: "daybook.tail.file")

    /// - Parameters:
    ///   - path: the file to follow; a relative path is made absolute against the working directory,
    ///     so the checkpoint is found again from anywhere.
    ///   - clock: the engine clock, read once per batch.
    public init(path: String, settings: Settings = Settings(), clock: @escaping @Sendable () -> Timestamp) {
        let absolute =
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        self.path = URL(fileURLWithPath: absolute).standardizedFileURL.path
        self.name = "file:" + self.path
        self.settings = settings
        self.clock = clock
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }
    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Follows the file until ``stop()``; then submits the complete lines read so far, waits for
    /// every submitted batch to commit and returns.
    ///
    /// - Throws: the writer's error for a batch that could not be stored (nothing after it is
    ///   submitted; the checkpoint stays at the last committed batch), ``FileTailError`` when the
    ///   path exists but cannot be read.
    public func run(into writer: Writer) throws {
        let name = self.name
        let committed = try writer.perform { engine in try engine.sourcePosition(source: name) }
        let submitter = BatchSubmitter(
            writer: writer, source: name, inFlight: settings.inFlight, clock: clock, stored: committed)
        defer { submitter.finish() }
        var reader: Reader?
        var resume: (identity: FileIdentity, offset: UInt64, lines: UInt64)?
        if case .file(let device, let inode, let offset, let lines)? = committed?.place {
            resume = (FileIdentity(device: device, inode: inode), offset, lines)
        }
        // A checkpointed file no longer at the path (rotated while no tail ran): read its rest first.
        if let resume, FileIdentity(path: path) != resume.identity,
            let rotated = FileIdentity.find(resume.identity, besideOf: path)
        {
            logger.info("resuming \(rotated): the file checkpointed last, rotated away from \(path)")
            reader = try Reader(path: rotated, identity: resume.identity, offset: resume.offset, lines: resume.lines)
            reader?.rotatedAway = true
        }
        while !isStopped {
            if reader == nil {
                guard let identity = FileIdentity(path: path) else {
                    submitter.flushIfDue(window: settings.window, force: true)
                    try submitter.check()
                    sleep(settings.pollInterval)
                    continue
                }
                if let r = resume, r.identity == identity, r.offset <= identity.size {
                    reader = try Reader(path: path, identity: identity, offset: r.offset, lines: r.lines)
                } else {
                    if let r = resume, r.identity == identity {
                        logger.warning(
                            "\(path) is shorter than its checkpoint (\(r.offset) bytes): truncated, reading from the start"
                        )
                    } else if resume != nil {
                        logger.warning(
                            "\(path) is not the file checkpointed last and that file is not beside it: reading \(path) from the start"
                        )
                    }
                    reader = try Reader(path: path, identity: identity, offset: 0, lines: 0)
                }
                resume = nil
            }
            let r = reader!
            let records = try r.read()
            if !records.isEmpty || r.advanced {
                submitter.add(records, position: r.position)
                if submitter.pendingCount >= settings.batchSize || submitter.pendingBytes >= Self.maxPendingBytes {
                    submitter.lag = r.lag
                    submitter.flush()
                }
                try submitter.check()
                continue
            }
            // At the end of the file for now.
            submitter.lag = r.lag
            submitter.flushIfDue(window: settings.window)
            try submitter.check()
            let now = FileIdentity(path: path)
            if let now, now == r.identity {
                if now.size < r.offset {
                    logger.warning("\(path) was truncated to \(now.size) bytes: reading from the start")
                    submitter.flush()
                    let restarted = try Reader(path: path, identity: now, offset: 0, lines: 0)
                    // The checkpoint moves back to the start at once: a restart must not look for line N.
                    submitter.add([], position: restarted.position)
                    submitter.flush()
                    reader = restarted
                    continue
                }
            } else if now != nil || r.rotatedAway {
                // Another file under the path: finish the old one once it is quiet. Read it once
                // more first: the read that found its end may be long past (a flush can wait on
                // commits), and the producer may have written its last lines and renamed it since.
                let before = r.offset
                let late = try r.read()
                if r.offset != before {
                    submitter.add(late, position: r.position)
                    continue
                }
                if r.quietFor(settings.rotationQuiet) {
                    let last = r.finish()
                    submitter.add(last, position: r.position)
                    submitter.flush()
                    logger.info("\(path) was rotated: reading the new file from its start")
                    reader = nil
                    continue
                }
            }
            sleep(settings.pollInterval)
        }
        submitter.flush()
        submitter.finish()
        try submitter.check()
    }

    /// Complete lines kept before a batch is submitted regardless of its count.
    static let maxPendingBytes = 32 << 20

    private func sleep(_ d: Duration) { Thread.sleep(forTimeInterval: d.timeInterval) }

    /// One open file being read.
    private final class Reader {
        let identity: FileIdentity
        private let handle: FileHandle
        private var lines: LineAccumulator
        /// Bytes read from the file so far (the read offset).
        private(set) var offset: UInt64
        private var lastGrowth = ContinuousClock.now
        /// Whether the last read completed a line (possibly only blank ones).
        private(set) var advanced = false
        /// The file is known not to be at the path any more.
        var rotatedAway = false
        private let path: String

        init(path: String, identity: FileIdentity, offset: UInt64, lines: UInt64) throws {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw FileTailError(path: path, message: "cannot open the file for reading (permissions?)")
            }
            // The file opened must be the one identified (it may have been replaced in between).
            guard let opened = FileIdentity(handle: handle), opened == identity else {
                throw FileTailError(
                    path: path, message: "the file changed while it was being opened; start the tail again")
            }
            try handle.seek(toOffset: offset)
            self.handle = handle
            self.identity = identity
            self.offset = offset
            self.lines = LineAccumulator(offset: offset, lines: lines)
            self.path = path
        }

        deinit { try? handle.close() }

        /// The records of the lines completed by what the file holds beyond the read offset (up to 1 MiB).
        func read() throws -> [IngestRecord] {
            let before = lines.completedOffset
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw FileTailError(path: path, message: "cannot read: \(error.localizedDescription)")
            }
            if !chunk.isEmpty {
                offset += UInt64(chunk.count)
                lastGrowth = .now
            }
            let records = chunk.isEmpty ? [] : lines.feed(chunk)
            advanced = lines.completedOffset != before
            return records
        }

        /// The unterminated last line of a file that will not grow any more.
        func finish() -> [IngestRecord] {
            let records = lines.finish()
            return records
        }

        func quietFor(_ d: Duration) -> Bool { ContinuousClock.now - lastGrowth >= d }

        /// The checkpoint reached: the offset just past the last complete line, and the line count.
        var position: SourcePosition.Place {
            .file(
                device: identity.device, inode: identity.inode, offset: lines.completedOffset,
                lines: lines.completedLines)
        }

        /// Bytes of the file beyond the last complete line.
        var lag: UInt64 {
            let size = FileIdentity(handle: handle)?.size ?? offset
            return size > lines.completedOffset ? size - lines.completedOffset : 0
        }
    }
}

/// Why a file tail stopped.
public struct FileTailError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
