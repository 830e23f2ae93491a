/*
 * fileio.h - the few file-descriptor loops every durable writer needs: write all of a buffer
 * through short writes and EINTR, read until full or end of file, and fsync a directory so a
 * rename or a new file in it survives a power cut.
 */
#ifndef BANNIN_FILEIO_H
#define BANNIN_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all n bytes (retrying short writes and EINTR). 0 or -errno. */
int bn_write_all(int fd, const void *p, size_t n);
/* Reads up to n bytes; returns the count (short only at end of file) or -errno. */
ssize_t bn_read_full(int fd, void *p, size_t n);
/* fsyncs the directory dir. 0 or -errno. */
int bn_fsync_dir(const char *dir);
/* fsyncs the directory holding path ("/" for a name without a slash before it). 0, -errno,
 * or BN_EINVAL for a directory part of PATH_MAX or more. */
int bn_fsync_parent(const char *path);

#endif
