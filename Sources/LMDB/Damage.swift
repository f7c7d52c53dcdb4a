internal import CLMDB

extension LMDBError.Code {
    /// Whether the code says the environment's files are damaged (or are no LMDB environment):
    /// a page of the wrong type or out of range, a truncated file, a meta page LMDB rejects, a
    /// tree deeper than any LMDB builds, or a value that runs past the end of the file.
    public var indicatesDamage: Bool {
        switch self {
        case .corrupted, .pageNotFound, .invalid, .versionMismatch, .cursorFull, .pageFull: return true
        default: return false
        }
    }
}

