/*
 * agent_bpf.h - the records bannin-agent's eBPF programs (agent.bpf.c) write into the ring
 * buffer and the keys of the maps user space fills (collect_bpf.c). Included by both
 * sides: the BPF side gets its fixed-width types from vmlinux.h, user space from
 * <linux/types.h>, so only __u8/__u16/__u32/__u64 appear here.
 *
 * Every record starts with struct ab_hdr; the type says which struct follows. Records are
 * variable length only at their tail (argv, paths, payload): the *_len fields say how much
 * of the tail is valid, and user space checks every length against the record size.
 */
#ifndef BANNIN_AGENT_BPF_H
#define BANNIN_AGENT_BPF_H

#define AB_COMM_LEN 16
#define AB_TTY_LEN 64
#define AB_PATH_LEN 4096         /* power of two: masks bound verifier offsets */
#define AB_ARGS_LEN 16384        /* argv bytes kept per exec; more is flagged truncated */
#define AB_ARGS_CHUNK 4096       /* argv is copied in chunks of this size */
#define AB_PAYLOAD_LEN 512       /* UDP payload prefix copied for DNS parsing */
#define AB_PREFIX_LEN 64         /* bytes of a path used for the prefix filter */
#define AB_RINGBUF_BYTES (2u << 20)
#define AB_DNAME_LEN 64          /* bytes kept of one path component (dentry name) */
#define AB_DPATH_DEPTH 12        /* path components walked up from a struct file */

enum ab_type {
    AB_EXEC = 1,
    AB_EXIT = 2,
    AB_FORK = 3,                 /* no longer written (forks are counted: AB_CNT_FORKS) */
    AB_TCP = 4,
    AB_UDP = 5,
    AB_FILE = 6,
    AB_MODULE = 7,
    AB_BPF = 8,
    AB_TAMPER = 9,
};

/* Flags in ab_hdr.flags. */
#define AB_F_ARGS_TRUNC 0x1      /* argv longer than AB_ARGS_LEN */
#define AB_F_PATH_TRUNC 0x2      /* a path did not fit AB_PATH_LEN */
#define AB_F_ARGS_FAULT 0x4      /* part of argv could not be read */
#define AB_F_RELATIVE 0x8        /* path is relative to the process's cwd (dirfd AT_FDCWD) */
#define AB_F_DIRFD 0x10          /* path is relative to a directory fd (ab_file.dirfd) */

/* Flags in ab_dpath.flags. */
#define AB_DP_VALID 0x1          /* a struct file was there and was walked */
#define AB_DP_UNLINKED 0x2       /* inode i_nlink == 0 or the dentry is unhashed (deleted) */
#define AB_DP_TRUNC 0x4          /* more than AB_DPATH_DEPTH components (the top is missing),
                                    or a component of AB_DNAME_LEN - 1 bytes or more (cut) */
#define AB_DP_PSEUDO 0x8         /* no parent mount: pseudo file system (memfd, anon inode) */

#define AB_DNAMES_LEN (AB_DPATH_DEPTH * AB_DNAME_LEN) /* most bytes one walk's names take */

/*
 * The path of a struct file as the kernel sees it, from its dentry and mount: up to
 * AB_DPATH_DEPTH component names, leaf first (the first is the file's own name), each
 * NUL-terminated and cut at AB_DNAME_LEN - 1 bytes, packed one after the other (len bytes
 * in all) in the record's tail. User space joins them with '/'. Read at event time, so it
 * is there even when the file is gone or the fd closed. (Until 2026-11-26 each walk was
 * 12 fixed 64-byte slots: 776 bytes, twice in every exec record, mostly zeros.)
 */
struct ab_dpath {
    __u32 flags;                 /* AB_DP_* */
    __u16 n;                     /* components */
    __u16 len;                   /* bytes of their packed names, NULs included */
};

/* Where the kernel's walk writes the packed names (the BPF side only). */
struct ab_dnames {
    char b[AB_DNAMES_LEN];
};

/* The acting task, filled by every program. */
struct ab_hdr {
    __u32 type;                  /* enum ab_type */
    __u32 flags;
    __u64 ts_boot_ns;            /* bpf_ktime_get_boot_ns() */
    __u32 pid;                   /* thread-group id (user-space pid) */
    __u32 tid;
    __u32 ppid;                  /* real_parent's tgid */
    __u32 uid, gid, euid, egid;
    __u32 loginuid;
    __u32 sessionid;
    __u32 pad0;
    __u64 start_ns;              /* task start, boot-relative (start_boottime) */
    __u64 pstart_ns;             /* real_parent's start, same clock */
    __u64 cgroup_id;
    char comm[AB_COMM_LEN];
};

struct ab_exec {
    struct ab_hdr h;
    __u32 path_len;              /* bytes in path, including the NUL */
    __u32 args_len;              /* bytes in args (NUL-separated argv) */
    __u32 args_total;            /* arg_end - arg_start (what the process really had) */
    __u32 old_pid;
    char tty[AB_TTY_LEN];        /* "" when there is no controlling tty */
    __u32 mnt_ns;                /* inode number of the task's mount namespace */
    __u32 pid_ns;                /* inode number of the task's (active) pid namespace */
    /* identity of bprm->file, so user space finds the executable's SHA-256 in its cache
     * without a stat(); exe_dev is the kernel's encoding (major << 20 | minor), 0 = none */
    __u32 exe_dev;
    __u32 exe_mtime_nsec;
    __u64 exe_ino;
    __u64 exe_size;
    __s64 exe_mtime_sec;
    struct ab_dpath file;        /* bprm->file: the file really executed (names only where
                                    user space needs them, else n == 0) */
    struct ab_dpath cwd;         /* the working directory (user space reads /proc/<pid>/cwd
                                    only when this walk was cut: AB_DP_TRUNC); AB_DP_UNLINKED
                                    is not looked for here */
    /* bprm->filename (path_len bytes), the names of file (file.len bytes), those of cwd
     * (cwd.len bytes), then argv (args_len bytes); the record ends there */
    char data[AB_PATH_LEN + 2 * AB_DNAMES_LEN + AB_ARGS_LEN];
};

struct ab_exit {
    struct ab_hdr h;
    __u32 exit_code;             /* wait status: (code << 8) | signal */
    __u32 pad;
};

/* TCP events (inet_sock_set_state). */
enum ab_tcp_kind {
    AB_TCP_CONNECT = 1,          /* SYN_SENT -> ESTABLISHED, task from the connect() call */
    AB_TCP_CONNECT_FAIL = 2,     /* SYN_SENT -> CLOSE */
    AB_TCP_ACCEPT = 3,           /* SYN_RECV -> ESTABLISHED, task = listener's owner */
    AB_TCP_LISTEN = 4,
};

struct ab_net {
    struct ab_hdr h;
    __u8 kind;                   /* enum ab_tcp_kind, or 0 for UDP */
    __u8 family;                 /* AF_INET / AF_INET6 */
    __u8 proto;                  /* IPPROTO_TCP / IPPROTO_UDP */
    __u8 owner_known;            /* accept: 1 if the listener's owner was recorded */
    __u16 sport, dport;          /* host byte order */
    __u8 saddr[16], daddr[16];   /* IPv4 in the first 4 bytes */
    __u32 payload_len;           /* UDP to port 53: bytes of the DNS payload copied */
    __u32 pad;
    __u8 payload[AB_PAYLOAD_LEN];
};

enum ab_file_op {
    AB_FOP_CREATE = 1,           /* open with O_CREAT succeeded */
    AB_FOP_OPEN_WRITE = 2,       /* open for write succeeded: user space remembers fd->path */
    AB_FOP_CLOSE_WRITE = 3,      /* close of an fd opened for write */
    AB_FOP_DELETE = 4,
    AB_FOP_RENAME = 5,
    AB_FOP_CHMOD = 6,
    AB_FOP_CHOWN = 7,
};

struct ab_file {
    struct ab_hdr h;
    __u32 op;                    /* enum ab_file_op */
    __s32 fd;                    /* OPEN_WRITE / CLOSE_WRITE / fchmod / fchown */
    __s32 dirfd;                 /* with AB_F_DIRFD */
    __u32 mode;                  /* chmod mode, open flags for CREATE/OPEN_WRITE */
    __u32 uid, gid;              /* chown (-1: unchanged) */
    __u32 path_len;              /* including the NUL; 0 when only fd is known */
    __u32 path2_len;             /* rename target */
    struct ab_dpath base;        /* with AB_F_RELATIVE / AB_F_DIRFD: the directory the
                                    relative path(s) start from (the cwd or dirfd), walked
                                    at the syscall, so user space needs no readlink of
                                    /proc/<pid>/cwd or fd/<dirfd>, which is gone once a
                                    short-lived process (as, rm) has exited; AB_DP_VALID
                                    clear when not walked */
    /* path (path_len bytes), then the rename target (path2_len bytes), then base's names
     * (base.len bytes); the record ends there */
    char data[2 * AB_PATH_LEN + AB_DNAMES_LEN];
};

struct ab_misc {
    struct ab_hdr h;
    __u32 syscall;               /* the syscall number that triggered it */
    __s32 fd;                    /* finit_module fd */
    __u32 target_pid;            /* tamper: the signalled/traced pid */
    __u32 arg;                   /* tamper: signal or ptrace request; bpf: prog type */
    char name[64];               /* module params or BPF program name */
    struct ab_dpath file;        /* finit_module: the module file behind fd */
    char names[AB_DNAMES_LEN];   /* file's names (file.len bytes; the record is this size) */
};

/* Key of the path prefix filter (LPM trie over the first AB_PREFIX_LEN bytes of a path). */
struct ab_prefix_key {
    __u32 prefixlen;             /* in bits */
    __u8 data[AB_PREFIX_LEN];
};

/* Values of the prefix filter: the longest matching prefix decides. */
#define AB_PF_EXCLUDE 0
#define AB_PF_INCLUDE 1
#define AB_PF_HOME_SSH 2         /* include only <prefix><name>/.ssh/...: "/home/" + "*" + "/.ssh/"; */
                                 /* the value's bits 8.. hold the prefix length in bytes */

/* Indices of the per-CPU counters map. */
enum ab_counter {
    AB_CNT_DROPS = 0,            /* ring buffer reserve/output failures */
    AB_CNT_EVENTS = 1,           /* records written */
    AB_CNT_FILTERED = 2,         /* file operations dropped by the prefix filter */
    AB_CNT_FORKS = 3,            /* processes forked (counted, no record: see on_fork) */
    AB_CNT_MAX = 4,
};

/* Config slots in the config array map. */
enum ab_config {
    AB_CFG_AGENT_TGID = 0,       /* the agent's own pid: tamper target, excluded from files */
    AB_CFG_FILE_ALL = 1,         /* 1: send every file operation (no prefix filter) */
    AB_CFG_MAX = 4,
};

#ifndef __bpf__
#include <stdbool.h>
#include <stddef.h>

/*
 * Joins the path of a kernel walk (dp, with its packed names: avail bytes of the record
 * from names on) into out as "/a/b/c"; a pseudo file is "/<name>". Borrows everything.
 * Returns false, with out "", when the record holds no usable path: no file, no
 * component, a walk cut short (AB_DP_TRUNC), or names that do not fit their length.
 */
bool agent_bpf_dpath_join(const struct ab_dpath *dp, const char *names, size_t avail,
                          char *out, size_t size);
#endif

#endif
