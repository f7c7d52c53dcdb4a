#ifndef DAYBOOK_CLMDB_SHIM_H
#define DAYBOOK_CLMDB_SHIM_H
#include <lmdb.h>

#if defined(__linux__)
#include <sys/types.h>
/* fallocate(2) is declared by <fcntl.h> only under _GNU_SOURCE, which the Swift Glibc module is
   built without. FALLOC_FL_KEEP_SIZE (linux/falloc.h) allocates the blocks without changing the
   file size, so LMDB still sees the size it expects. Returns 0, or -1 with errno set. */
extern int fallocate(int fd, int mode, off_t offset, off_t len);
static inline int daybook_allocate_keeping_size(int fd, off_t offset, off_t length) {
    return fallocate(fd, 0x01 /* FALLOC_FL_KEEP_SIZE */, offset, length);
}
#endif

#endif
