/*
 * agent.bpf.c - tier 1 of bannin-agent: eBPF CO-RE programs that report process, network,
 * file, module, BPF and tamper activity into one ring buffer (records in agent_bpf.h).
 *
 * Process events come from BTF tracepoints (tp_btf, no tracefs needed): the full argv is
 * copied from the new mm at exec time so processes that exit within a millisecond still
 * have their command line. Syscall-based events (files, UDP, modules, bpf, tamper) come from
 * raw_syscalls sys_enter/sys_exit (fentry, which would run only for the watched syscalls,
 * does not load on every kernel we meet: EPERM on some VMs) and are x86-64 syscall numbers;
 * both programs look at the syscall number before anything else. File events
 * pass an in-kernel prefix filter (an LPM trie filled by user space), so bulk file traffic
 * never reaches user space; relative paths are flagged and carry the directory they start
 * from (the cwd or the dirfd, walked at the syscall), and user space joins and filters them.
 *
 * Accepted TCP connections change state in softirq, where the current task is unrelated:
 * we attribute them to the task that put the listening socket into LISTEN (remembered per
 * local port), and say so with owner_known.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "agent_bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define SOCK_DGRAM 2
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AT_FDCWD -100
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define FMODE_WRITE_BIT 0x2 /* FMODE_WRITE: include/linux/fs.h, unchanged since 2.6 */

/* x86-64 syscall numbers. */
#define NR_open 2
#define NR_close 3
#define NR_connect 42
#define NR_sendto 44
#define NR_sendmsg 46
#define NR_kill 62
#define NR_rename 82
#define NR_creat 85
#define NR_unlink 87
#define NR_chmod 90
#define NR_fchmod 91
#define NR_chown 92
#define NR_fchown 93
#define NR_lchown 94
#define NR_ptrace 101
#define NR_init_module 175
#define NR_tkill 200
#define NR_tgkill 234
#define NR_openat 257
#define NR_fchownat 260
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_fchmodat 268
#define NR_finit_module 313
#define NR_renameat2 316
#define NR_bpf 321
#define NR_openat2 437
#define NR_fchmodat2 452

#define BPF_PROG_LOAD_CMD 5

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, AB_RINGBUF_BYTES);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, AB_CNT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, AB_CFG_MAX);
    __type(key, __u32);
    __type(value, __u64);
} agent_config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 1024);
    __type(key, struct ab_prefix_key);
    __type(value, __u32);
    __uint(map_flags, BPF_F_NO_PREALLOC);
} prefixes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ab_exec);
} exec_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ab_file);
} file_scratch SEC(".maps");

/* sc_file_base at 0 (set by user space in the per-syscall mode): see sys_exit_file. */
struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} file_tail SEC(".maps");

/* connect(): the task that moved a socket to SYN_SENT, until it leaves SYN_SENT. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct ab_hdr);
} connecting SEC(".maps");

/* Listening sockets' owners by local port (accepted connections are attributed to them). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct ab_hdr);
} listeners SEC(".maps");

/* File syscalls between sys_enter and sys_exit, by thread id. */
struct pending {
    __u64 id;
    __u64 args[6];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, struct pending);
} pending SEC(".maps");

/*
 * Entries stored in pending and not yet taken back: while 0 (read-only opens store none,
 * and they are the bulk of all file traffic) the exit programs return without a hash
 * lookup, which was most of their cost. It only ever overcounts (an entry replaced or
 * evicted instead of taken back), which costs lookups, never an event.
 */
static volatile __u64 pending_live;

/* fds opened for write (key: tgid << 32 | fd), so close can be reported. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, __u8);
} wfds SEC(".maps");

/* UDP flows already reported (DNS packets are always reported). */
struct udp_flow {
    __u32 tgid;
    __u16 dport;
    __u8 family;
    __u8 pad;
    __u8 daddr[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct udp_flow);
    __type(value, __u8);
} udp_seen SEC(".maps");

static __always_inline void count(__u32 idx)
{
    __u64 *c = bpf_map_lookup_elem(&counters, &idx);

    if (c)
        *c += 1;
}

static __always_inline __u64 cfg(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&agent_config, &idx);

    return v ? *v : 0;
}

/*
 * Wakeups are batched: a record only wakes the agent's reader when at least AB_WAKEUP_BYTES
 * wait in the ring; otherwise the reader finds it on its next timed poll (collect.bpf_poll_ms,
 * collect_bpf.c). One wakeup per record cost a context switch per exec, fork and exit.
 */
#define AB_WAKEUP_BYTES (64 * 1024)

/*
 * Set by the reader (through the mmapped .bss) when its polls have found nothing for a
 * while and it has stopped polling on a timer: then every record wakes it, so an idle
 * agent is not woken ~66 times a second to find an empty ring, and the first record after
 * a quiet spell is read at once. The reader clears it when it is back to timed polls.
 */
volatile __u32 reader_idle;

static __always_inline __u64 rb_flags(void)
{
    if (reader_idle)
        return BPF_RB_FORCE_WAKEUP;
    return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= AB_WAKEUP_BYTES
               ? BPF_RB_FORCE_WAKEUP
               : BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *rec, __u64 size)
{
    if (bpf_ringbuf_output(&events, rec, size, rb_flags()))
        count(AB_CNT_DROPS);
    else
        count(AB_CNT_EVENTS);
}

/*
 * t is a BTF pointer (bpf_get_current_task_btf() or a tp_btf argument): its fields, its
 * parent's and its cred's are read with direct loads (the verifier turns them into guarded
 * loads), not a bpf_probe_read_kernel() call each; this runs for every record.
 */
static __always_inline void fill_hdr(struct ab_hdr *h, struct task_struct *t, __u32 type)
{
    struct task_struct *parent = t->real_parent;
    const struct cred *cred = t->cred;

    h->type = type;
    h->flags = 0;
    h->ts_boot_ns = bpf_ktime_get_boot_ns();
    h->pid = t->tgid;
    h->tid = t->pid;
    h->ppid = parent->tgid;
    h->uid = cred->uid.val;
    h->gid = cred->gid.val;
    h->euid = cred->euid.val;
    h->egid = cred->egid.val;
    if (bpf_core_field_exists(t->loginuid)) {
        h->loginuid = t->loginuid.val;
        h->sessionid = t->sessionid;
    } else {
        h->loginuid = (__u32)-1;
        h->sessionid = (__u32)-1;
    }
    h->pad0 = 0;
    h->start_ns = t->start_boottime;
    h->pstart_ns = parent->start_boottime;
    h->cgroup_id = 0;
    /* comm always holds its NUL (and is NUL-padded since 5.9: strscpy_pad); user space
     * reads it up to the NUL: a 16-byte direct copy, not a bpf_probe_read_kernel_str call */
    __builtin_memcpy(h->comm, t->comm, AB_COMM_LEN);
}

static __always_inline void fill_current(struct ab_hdr *h, __u32 type)
{
    fill_hdr(h, bpf_get_current_task_btf(), type);
    h->cgroup_id = bpf_get_current_cgroup_id();
}

/* ---- file paths from the kernel's own objects ---- */

/*
 * The dentry and mount fields the walk needs lie close together in both structs (on every
 * kernel we know: d_hash.pprev, d_parent, d_name and d_inode within 64 bytes; mnt_parent,
 * mnt_mountpoint and mnt.mnt_root within 32), so each is read with one bpf_probe_read_kernel
 * of a span instead of a call per field: a call costs ~100 ns, and a walk made four per
 * component (the exec storm's main eBPF cost). The offsets are CO-RE relocations: constants
 * when the program loads, so a layout where they do not fit takes the per-field reads.
 */
#define DSPAN 64
#define MSPAN 32

struct dfields {
    struct dentry *parent;
    const unsigned char *name;
    struct inode *inode;
    void *pprev;
};

/* the pointer at byte rel of a span (pointers are 8-aligned in both structs, and so is the
 * span's start) */
static __always_inline __u64 span_u64(const __u64 *buf, __u32 rel)
{
    return buf[rel / 8];
}

static __always_inline void dentry_fields(struct dentry *d, struct dfields *f)
{
    __u32 base = bpf_core_field_offset(struct dentry, d_hash.pprev);
    __u32 rp = bpf_core_field_offset(struct dentry, d_parent) - base;
    __u32 rn = bpf_core_field_offset(struct dentry, d_name.name) - base;
    __u32 ri = bpf_core_field_offset(struct dentry, d_inode) - base;
    __u64 buf[DSPAN / 8];

    if (rp <= DSPAN - 8 && rn <= DSPAN - 8 && ri <= DSPAN - 8 && base % 8 == 0 &&
        (rp | rn | ri) % 8 == 0) {
        if (bpf_probe_read_kernel(buf, sizeof(buf), (const void *)d + base)) {
            __builtin_memset(f, 0, sizeof(*f));
            return;
        }
        f->pprev = (void *)span_u64(buf, 0);
        f->parent = (struct dentry *)span_u64(buf, rp);
        f->name = (const unsigned char *)span_u64(buf, rn);
        f->inode = (struct inode *)span_u64(buf, ri);
        return;
    }
    f->pprev = BPF_CORE_READ(d, d_hash.pprev);
    f->parent = BPF_CORE_READ(d, d_parent);
    f->name = BPF_CORE_READ(d, d_name.name);
    f->inode = BPF_CORE_READ(d, d_inode);
}

/* mnt's parent mount, its mountpoint there, and the root dentry of mnt itself */
static __always_inline void mount_fields(struct mount *mnt, struct mount **parent,
                                         struct dentry **mountpoint, struct dentry **root)
{
    __u32 base = bpf_core_field_offset(struct mount, mnt_parent);
    __u32 rm = bpf_core_field_offset(struct mount, mnt_mountpoint) - base;
    __u32 rr = bpf_core_field_offset(struct mount, mnt.mnt_root) - base;
    __u64 buf[MSPAN / 8];

    if (rm <= MSPAN - 8 && rr <= MSPAN - 8 && base % 8 == 0 && (rm | rr) % 8 == 0) {
        if (bpf_probe_read_kernel(buf, sizeof(buf), (const void *)mnt + base)) {
            *parent = NULL;
            *mountpoint = NULL;
            *root = NULL;
            return;
        }
        *parent = (struct mount *)span_u64(buf, 0);
        *mountpoint = (struct dentry *)span_u64(buf, rm);
        *root = (struct dentry *)span_u64(buf, rr);
        return;
    }
    *parent = BPF_CORE_READ(mnt, mnt_parent);
    *mountpoint = BPF_CORE_READ(mnt, mnt_mountpoint);
    *root = BPF_CORE_READ(mnt, mnt.mnt_root);
}

/*
 * Walks a struct file's dentry up to the root, crossing mounts, and packs the component
 * names leaf first into nb (struct ab_dpath: dp->len bytes). Used where the name a syscall
 * was given does not say what the file is: exec through /proc/self/fd/N or
 * execveat(AT_EMPTY_PATH) of a deleted or memfd file, and finit_module, whose fd the loader
 * may close before user space looks; and for the working directory of every exec. Per
 * component: one span read and the name.
 */
/* the walk's mode bits */
#define DW_FLAGS_ONLY 0x1 /* names only for a deleted or pseudo file (see below) */
#define DW_NO_UNLINKED 0x2 /* the caller does not use AB_DP_UNLINKED: no i_nlink read */
#define DW_NLINK_KNOWN 0x4 /* the caller read the inode's i_nlink (a direct load): ... */
#define DW_NLINK0 0x8      /* ... and it was 0 */

/* A global function: the verifier checks it once, for any arguments of its prototype,
 * instead of once per call site and per state reaching it (inlined, the two walks of an
 * exec made on_exec's verification 8 times longer: ~0.9 s of agent CPU at every start). */
__noinline int dpath_walk_g(struct ab_dpath *dp, struct ab_dnames *nb, __u64 dentry,
                            __u64 vfsmnt, int mode)
{
    struct dentry *d = (struct dentry *)dentry;
    struct vfsmount *vmnt = (struct vfsmount *)vfsmnt;
    struct mount *mnt, *mp;
    struct dentry *root, *mpoint;
    struct dfields f;
    __u32 n = 0;
    int done = 0;

    if (!dp || !nb)
        return 0;
    dp->flags = 0;
    dp->n = 0;
    dp->len = 0;
    if (!d || !vmnt)
        return 0;
    dp->flags = AB_DP_VALID;
    mnt = container_of(vmnt, struct mount, mnt);
    mount_fields(mnt, &mp, &mpoint, &root);
    dentry_fields(d, &f); /* f describes d whenever d is not the mount's root */
    if (mode & DW_NLINK_KNOWN) {
        if ((mode & DW_NLINK0) || (!f.pprev && f.parent != d))
            dp->flags |= AB_DP_UNLINKED;
    } else if (!(mode & DW_NO_UNLINKED)) {
        struct inode *ino = f.inode;

        if ((ino && BPF_CORE_READ(ino, i_nlink) == 0) || (!f.pprev && f.parent != d))
            dp->flags |= AB_DP_UNLINKED;
    }
    /* DW_FLAGS_ONLY: the caller needs the names only for a deleted or pseudo file (a root
     * dentry that is not its mount's root); the flags of any other file are final here */
    if ((mode & DW_FLAGS_ONLY) && !(dp->flags & AB_DP_UNLINKED) &&
        (d == root || (f.parent && f.parent != d)))
        return 0;
#pragma unroll
    for (int i = 0; i < AB_DPATH_DEPTH + 4; i++) {
        if (d == root) {
            if (!mp || mp == mnt) {
                done = 1; /* the root of the tree (or of an internal mount) */
                break;
            }
            d = mpoint;
            mnt = mp;
            mount_fields(mnt, &mp, &mpoint, &root);
            if (d != root)
                dentry_fields(d, &f);
            continue;
        }
        if (n >= AB_DPATH_DEPTH)
            break;
        {
            /* the running length lives in dp, not in a register: the verifier then knows
             * only its bound at each step, the same on every path, and prunes; as a register
             * its range differed per path through the loop (~0.5 -> ~3 s of agent start) */
            __u32 off = dp->len;
            long l;

            if (off > AB_DNAMES_LEN - AB_DNAME_LEN)
                break;
            l = bpf_probe_read_kernel_str(&nb->b[off], AB_DNAME_LEN, f.name);
            if (l <= 0) {
                nb->b[off] = 0;
                l = 1;
            } else if (l >= AB_DNAME_LEN) {
                dp->flags |= AB_DP_TRUNC; /* a name that may have been cut: not the path */
            }
            dp->len = (__u16)(off + ((__u32)l & (2 * AB_DNAME_LEN - 1)));
        }
        n++;
        if (!f.parent || f.parent == d) {
            /* a root dentry that is not a mount root: pseudo file (memfd, anon inode) */
            dp->flags |= AB_DP_PSEUDO;
            done = 1;
            break;
        }
        d = f.parent;
        if (d != root && n < AB_DPATH_DEPTH)
            dentry_fields(d, &f);
    }
    if (!done)
        dp->flags |= AB_DP_TRUNC;
    dp->n = n;
    return 0;
}

static __always_inline void dpath_fill(struct ab_dpath *dp, struct ab_dnames *nb, struct file *f)
{
    dp->flags = 0;
    dp->n = 0;
    dp->len = 0;
    if (!f)
        return;
    dpath_walk_g(dp, nb, (__u64)BPF_CORE_READ(f, f_path.dentry),
                 (__u64)BPF_CORE_READ(f, f_path.mnt), 0);
}

/* ---- processes ---- */

/* struct inode before 6.11 (mtime a timespec64, named __i_mtime from 6.6) */
struct inode___tsmtime {
    struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

struct inode___oldmtime {
    struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

/* Device, inode, size and mtime of the executed file (see ab_exec.exe_dev). */
static __always_inline void exe_identity(struct ab_exec *e, struct file *f)
{
    struct inode *ino = f ? f->f_inode : NULL; /* f: a BTF pointer (bprm->file) */

    e->exe_dev = 0;
    e->exe_ino = 0;
    e->exe_size = 0;
    e->exe_mtime_sec = 0;
    e->exe_mtime_nsec = 0;
    if (!ino)
        return;
    e->exe_dev = ino->i_sb->s_dev;
    e->exe_ino = ino->i_ino;
    e->exe_size = ino->i_size;
    if (bpf_core_field_exists(ino->i_mtime_sec)) {
        e->exe_mtime_sec = ino->i_mtime_sec;
        e->exe_mtime_nsec = ino->i_mtime_nsec;
    } else if (bpf_core_field_exists(((struct inode___tsmtime *)ino)->__i_mtime)) {
        struct inode___tsmtime *o = (void *)ino;

        e->exe_mtime_sec = BPF_CORE_READ(o, __i_mtime.tv_sec);
        e->exe_mtime_nsec = BPF_CORE_READ(o, __i_mtime.tv_nsec);
    } else if (bpf_core_field_exists(((struct inode___oldmtime *)ino)->i_mtime)) {
        struct inode___oldmtime *o = (void *)ino;

        e->exe_mtime_sec = BPF_CORE_READ(o, i_mtime.tv_sec);
        e->exe_mtime_nsec = BPF_CORE_READ(o, i_mtime.tv_nsec);
    } else {
        e->exe_dev = 0; /* no usable mtime: no identity */
    }
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    __u32 zero = 0;
    struct ab_exec *e = bpf_map_lookup_elem(&exec_scratch, &zero);
    struct tty_struct *tty;
    struct mm_struct *mm;
    __u64 as, ae, total, want, got = 0;
    long n;
    __u32 pl, fl, cl, base;

    if (!e)
        return 0;
    fill_current(&e->h, AB_EXEC);
    e->old_pid = old_pid;
    e->tty[0] = 0;
    /* p and bprm are BTF pointers: their fields (and the fields of the structs they point
     * to) are direct loads, not a helper call each; only strings and the variably indexed
     * pid level take bpf_probe_read_kernel */
    tty = p->signal->tty;
    if (tty)
        BPF_CORE_READ_STR_INTO(&e->tty, tty, name);
    e->mnt_ns = p->nsproxy->mnt_ns->ns.inum;
    e->pid_ns = 0;
    {
        struct pid *tp = p->thread_pid;
        unsigned int lvl = tp->level;
        struct pid_namespace *pns = NULL;

        /* the host's own processes (level 0): two direct loads; only a process in a child
         * pid namespace takes the variably indexed read (two helper calls) */
        if (tp && lvl == 0) {
            pns = tp->numbers[0].ns;
            if (pns)
                e->pid_ns = pns->ns.inum;
        } else if (tp && lvl < 64 &&
                   bpf_probe_read_kernel(&pns, sizeof(pns), &tp->numbers[lvl].ns) == 0 && pns) {
            e->pid_ns = BPF_CORE_READ(pns, ns.inum);
        }
    }
    n = bpf_probe_read_kernel_str(e->data, AB_PATH_LEN, bprm->filename);
    if (n <= 0) {
        e->data[0] = 0;
        n = 1;
    }
    pl = (__u32)n;
    if (pl > AB_PATH_LEN)
        pl = AB_PATH_LEN;
    e->path_len = pl;
    {
        struct file *f = bprm->file;
        /* User space takes the executed file's own path (this walk) only where the name
         * exec was given does not say what ran: relative, /proc/.../fd, /dev/fd, deleted or
         * pseudo (memfd) files. For an ordinary absolute name only the flags are needed. */
        int plain = e->data[0] == '/' &&
                    !(e->data[1] == 'p' && e->data[2] == 'r' && e->data[3] == 'o' &&
                      e->data[4] == 'c' && e->data[5] == '/') &&
                    !(e->data[1] == 'd' && e->data[2] == 'e' && e->data[3] == 'v' &&
                      e->data[4] == '/' && e->data[5] == 'f' && e->data[6] == 'd' &&
                      e->data[7] == '/');

        struct path fp = {}, cwd = {};

        /* The walks start from plain addresses (one read of each struct path), not BTF
         * pointers: a walk whose first dentry is a BTF pointer and whose later ones are
         * not gives the verifier states it cannot prune (the agent's start took ~1.5 s) */
        if (f)
            bpf_probe_read_kernel(&fp, sizeof(fp), &f->f_path);
        /* the names of both walks go right after the filename: a record is as long as
         * what it carries */
        e->file.flags = e->file.n = e->file.len = 0;
        /* the executed file's inode is its dentry's (vfs_open: d_backing_inode, the same
         * but for union mounts, which mainline does not have): its i_nlink is a direct load
         * here, a helper call in the walk */
        if (fp.dentry) {
            struct inode *ino = f->f_inode;
            int mode = plain ? DW_FLAGS_ONLY : 0;

            if (ino)
                mode |= DW_NLINK_KNOWN | (ino->i_nlink == 0 ? DW_NLINK0 : 0);
            dpath_walk_g(&e->file, (struct ab_dnames *)&e->data[pl], (__u64)fp.dentry,
                         (__u64)fp.mnt, mode);
        }
        fl = e->file.len;
        if (fl > AB_DNAMES_LEN)
            fl = AB_DNAMES_LEN;
        exe_identity(e, f);
        /* the working directory, so user space needs no readlink of /proc/<pid>/cwd (which
         * does not look at whether it was removed: AB_DP_UNLINKED is not set for it) */
        bpf_probe_read_kernel(&cwd, sizeof(cwd), &p->fs->pwd);
        dpath_walk_g(&e->cwd, (struct ab_dnames *)&e->data[pl + fl], (__u64)cwd.dentry,
                     (__u64)cwd.mnt, DW_NO_UNLINKED);
        cl = e->cwd.len;
        if (cl > AB_DNAMES_LEN)
            cl = AB_DNAMES_LEN;
    }
    base = pl + fl + cl; /* argv's offset in data */

    mm = p->mm;
    as = mm->arg_start;
    ae = mm->arg_end;
    total = ae > as ? ae - as : 0;
    if (total > 0xffffffffull)
        total = 0xffffffffull;
    e->args_total = (__u32)total;
    want = total;
    if (want > AB_ARGS_LEN) {
        want = AB_ARGS_LEN;
        e->h.flags |= AB_F_ARGS_TRUNC;
    }
    /* Chunks: a page that cannot be read costs that chunk, not the whole argv. */
    for (__u32 i = 0; i < AB_ARGS_LEN / AB_ARGS_CHUNK; i++) {
        __u64 off = (__u64)i * AB_ARGS_CHUNK;
        __u64 len;
        __u32 dst;

        if (off >= want)
            break;
        len = want - off;
        if (len > AB_ARGS_CHUNK)
            len = AB_ARGS_CHUNK;
        dst = base + (__u32)off;
        if (dst > AB_PATH_LEN + 2 * AB_DNAMES_LEN + AB_ARGS_LEN - AB_ARGS_CHUNK)
            break;
        if (bpf_probe_read_user(&e->data[dst], len, (const void *)(as + off))) {
            e->h.flags |= AB_F_ARGS_FAULT;
            break;
        }
        got = off + len;
    }
    e->args_len = (__u32)got;
    if (got > AB_ARGS_LEN)
        got = AB_ARGS_LEN;
    submit(e, __builtin_offsetof(struct ab_exec, data) + base + got);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p, bool group_dead)
{
    struct ab_exit *e;

    if (p->pid != p->tgid) /* p: a BTF pointer, direct loads */
        return 0;
    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count(AB_CNT_DROPS);
        return 0;
    }
    fill_hdr(&e->h, p, AB_EXIT);
    e->exit_code = (__u32)p->exit_code;
    e->pad = 0;
    bpf_ringbuf_submit(e, rb_flags());
    count(AB_CNT_EVENTS);
    return 0;
}

/*
 * User space learns a process's parent from its exec record (ab_hdr.ppid, pstart_ns) and
 * only counted fork records, so a fork is a per-CPU counter, not a record: a ring-buffer
 * record per fork cost every fork ~0.4 us here (reserve, header, commit) and the reader a
 * record to take.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    /* child is a BTF pointer: a direct load (no helper call) */
    if (child->pid != child->tgid)
        return 0; /* a new thread, not a process */
    count(AB_CNT_FORKS);
    return 0;
}

/* ---- TCP ---- */

static __always_inline void sock_addrs(const struct sock *sk, struct ab_net *e)
{
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

    e->family = (__u8)family;
    e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
    e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    __builtin_memset(e->saddr, 0, sizeof(e->saddr));
    __builtin_memset(e->daddr, 0, sizeof(e->daddr));
    if (family == AF_INET) {
        __u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        __u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);

        __builtin_memcpy(e->saddr, &s, 4);
        __builtin_memcpy(e->daddr, &d, 4);
    } else {
        BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    }
}

static __always_inline void emit_tcp(const struct sock *sk, const struct ab_hdr *owner, __u8 kind)
{
    struct ab_net *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

    if (!e) {
        count(AB_CNT_DROPS);
        return;
    }
    if (owner) {
        e->h = *owner;
        e->owner_known = 1;
    } else {
        __builtin_memset(&e->h, 0, sizeof(e->h));
        e->owner_known = 0;
    }
    e->h.type = AB_TCP;
    e->h.ts_boot_ns = bpf_ktime_get_boot_ns();
    e->kind = kind;
    e->proto = IPPROTO_TCP;
    sock_addrs(sk, e);
    e->payload_len = 0;
    e->pad = 0;
    bpf_ringbuf_submit(e, rb_flags());
    count(AB_CNT_EVENTS);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
    __u64 key = (__u64)sk;
    __u16 family;

    if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
        return 0;
    family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != AF_INET && family != AF_INET6)
        return 0;

    if (newstate == TCP_SYN_SENT) {
        struct ab_hdr h;

        fill_current(&h, AB_TCP);
        bpf_map_update_elem(&connecting, &key, &h, BPF_ANY);
    } else if (oldstate == TCP_SYN_SENT) {
        struct ab_hdr *h = bpf_map_lookup_elem(&connecting, &key);

        emit_tcp(sk, h, newstate == TCP_ESTABLISHED ? AB_TCP_CONNECT : AB_TCP_CONNECT_FAIL);
        if (h)
            bpf_map_delete_elem(&connecting, &key);
    } else if (newstate == TCP_LISTEN) {
        struct ab_hdr h;
        __u32 port = BPF_CORE_READ(sk, __sk_common.skc_num);

        fill_current(&h, AB_TCP);
        bpf_map_update_elem(&listeners, &port, &h, BPF_ANY);
        emit_tcp(sk, &h, AB_TCP_LISTEN);
    } else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
        __u32 port = BPF_CORE_READ(sk, __sk_common.skc_num);

        emit_tcp(sk, bpf_map_lookup_elem(&listeners, &port), AB_TCP_ACCEPT);
    }
    return 0;
}

/* ---- syscalls ---- */

static __always_inline struct socket *fd_socket(__s64 fd)
{
    struct task_struct *t = bpf_get_current_task_btf();
    struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
    struct file **fds;
    struct file *f = NULL;
    __u32 mode;

    if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
        return NULL;
    fds = BPF_CORE_READ(fdt, fd);
    if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
        return NULL;
    mode = BPF_CORE_READ(f, f_inode, i_mode);
    if ((mode & S_IFMT) != S_IFSOCK)
        return NULL;
    return (struct socket *)BPF_CORE_READ(f, private_data);
}

/* A UDP send or connect: report new flows and every DNS packet with its payload prefix. */
static __always_inline void udp_send(__s64 fd, const void *uaddr, const void *ubuf, __u64 len)
{
    struct socket *so = fd_socket(fd);
    struct sock *sk;
    struct ab_net *e;
    struct udp_flow fl = {};
    __u8 one = 1;
    int dns;

    if (!so)
        return;
    sk = BPF_CORE_READ(so, sk);
    if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
        return;
    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count(AB_CNT_DROPS);
        return;
    }
    sock_addrs(sk, e);
    if (uaddr) {
        __u16 fam = 0, port = 0;

        bpf_probe_read_user(&fam, sizeof(fam), uaddr);
        bpf_probe_read_user(&port, sizeof(port), uaddr + 2);
        if (fam == AF_INET) {
            e->family = AF_INET;
            __builtin_memset(e->daddr, 0, sizeof(e->daddr));
            bpf_probe_read_user(e->daddr, 4, uaddr + 4);
            e->dport = bpf_ntohs(port);
        } else if (fam == AF_INET6) {
            e->family = AF_INET6;
            bpf_probe_read_user(e->daddr, 16, uaddr + 8);
            e->dport = bpf_ntohs(port);
        }
    }
    if (e->family != AF_INET && e->family != AF_INET6) {
        bpf_ringbuf_discard(e, 0);
        return;
    }
    dns = e->dport == 53;
    fl.tgid = bpf_get_current_pid_tgid() >> 32;
    fl.dport = e->dport;
    fl.family = e->family;
    __builtin_memcpy(fl.daddr, e->daddr, 16);
    if (!dns && bpf_map_lookup_elem(&udp_seen, &fl)) {
        bpf_ringbuf_discard(e, 0);
        return;
    }
    if (!dns)
        bpf_map_update_elem(&udp_seen, &fl, &one, BPF_ANY);
    fill_current(&e->h, AB_UDP);
    e->kind = 0;
    e->proto = IPPROTO_UDP;
    e->owner_known = 1;
    e->payload_len = 0;
    e->pad = 0;
    if (dns && ubuf && len) {
        if (len > AB_PAYLOAD_LEN)
            len = AB_PAYLOAD_LEN;
        if (bpf_probe_read_user(e->payload, len, ubuf) == 0)
            e->payload_len = (__u32)len;
    }
    bpf_ringbuf_submit(e, rb_flags());
    count(AB_CNT_EVENTS);
}

static __always_inline void udp_sendmsg(__s64 fd, const struct user_msghdr *umsg)
{
    struct user_msghdr m;
    struct iovec iov = {};

    if (bpf_probe_read_user(&m, sizeof(m), umsg))
        return;
    if (m.msg_iov && m.msg_iovlen > 0)
        bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov);
    udp_send(fd, m.msg_name, iov.iov_base, iov.iov_len);
}

static __always_inline void tamper(long nr, __u32 target, __u32 arg)
{
    __u64 agent = cfg(AB_CFG_AGENT_TGID);
    struct ab_misc *e;

    if (!agent || target != agent || (bpf_get_current_pid_tgid() >> 32) == agent)
        return;
    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count(AB_CNT_DROPS);
        return;
    }
    fill_current(&e->h, AB_TAMPER);
    e->syscall = (__u32)nr;
    e->fd = -1;
    e->target_pid = target;
    e->arg = arg;
    e->name[0] = 0;
    e->file.flags = 0;
    e->file.n = 0;
    e->file.len = 0;
    bpf_ringbuf_submit(e, rb_flags());
    count(AB_CNT_EVENTS);
}

/* The current task's struct file for fd, or NULL. */
static __always_inline struct file *fd_file(__s64 fd)
{
    /* the task and its fd table are BTF pointers (direct loads); the fd array holds plain
     * pointers, read with one helper call */
    struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
    struct file **fds;
    struct file *f = NULL;

    if (!fdt || fd < 0 || fd >= fdt->max_fds)
        return NULL;
    fds = fdt->fd;
    if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
        return NULL;
    return f;
}

static __always_inline void misc(__u32 type, long nr, __s32 fd, __u32 arg, const void *uname)
{
    struct ab_misc *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

    if (!e) {
        count(AB_CNT_DROPS);
        return;
    }
    fill_current(&e->h, type);
    e->syscall = (__u32)nr;
    e->fd = fd;
    e->target_pid = 0;
    e->arg = arg;
    e->name[0] = 0;
    if (uname)
        bpf_probe_read_user_str(e->name, sizeof(e->name), uname);
    e->file.flags = 0;
    e->file.n = 0;
    e->file.len = 0;
    if (type == AB_MODULE && fd >= 0)
        dpath_fill(&e->file, (struct ab_dnames *)e->names, fd_file(fd));
    bpf_ringbuf_submit(e, rb_flags());
    count(AB_CNT_EVENTS);
}

static __always_inline int is_file_syscall(long id)
{
    switch (id) {
    case NR_open: case NR_openat: case NR_openat2: case NR_creat:
    case NR_unlink: case NR_unlinkat:
    case NR_rename: case NR_renameat: case NR_renameat2:
    case NR_chmod: case NR_fchmod: case NR_fchmodat: case NR_fchmodat2:
    case NR_chown: case NR_fchown: case NR_lchown: case NR_fchownat:
        return 1;
    }
    return 0;
}

/*
 * The syscalls we watch, at entry: everything but the file syscalls is handled here; file
 * syscalls are handled at exit, when their result is known (sys_exit_file), with their
 * arguments kept by thread id in between.
 */
static __always_inline int sys_enter_body(long id, __u64 a0, __u64 a1, __u64 a2, __u64 a3,
                                          __u64 a4)
{
    switch (id) {
    case NR_close: {
        __u64 key = (bpf_get_current_pid_tgid() & 0xffffffff00000000ull) | (__u32)a0;
        struct ab_file *e;
        __u32 zero = 0;

        struct file *f = fd_file((__s64)a0);

        /* only a file open for writing can be in wfds: most closes are of read-only files
         * (libraries, configuration), and their f_mode costs less than a hash lookup */
        if (!f || !(BPF_CORE_READ(f, f_mode) & FMODE_WRITE_BIT))
            return 0;
        if (!bpf_map_lookup_elem(&wfds, &key))
            return 0;
        bpf_map_delete_elem(&wfds, &key);
        e = bpf_map_lookup_elem(&file_scratch, &zero);
        if (!e)
            return 0;
        fill_current(&e->h, AB_FILE);
        e->op = AB_FOP_CLOSE_WRITE;
        e->fd = (__s32)a0;
        e->dirfd = AT_FDCWD;
        e->mode = 0;
        e->uid = e->gid = (__u32)-1;
        e->path_len = e->path2_len = 0;
        e->base.flags = e->base.n = e->base.len = 0;
        submit(e, __builtin_offsetof(struct ab_file, data));
        return 0;
    }
    case NR_connect:
        udp_send((__s64)a0, (const void *)a1, NULL, 0);
        return 0;
    case NR_sendto:
        udp_send((__s64)a0, (const void *)a4, (const void *)a1, a2);
        return 0;
    case NR_sendmsg:
        udp_sendmsg((__s64)a0, (const struct user_msghdr *)a1);
        return 0;
    case NR_kill:
    case NR_tkill:
        tamper(id, (__u32)a0, (__u32)a1);
        return 0;
    case NR_tgkill:
        tamper(id, (__u32)a0, (__u32)a2);
        return 0;
    case NR_ptrace:
        tamper(id, (__u32)a1, (__u32)a0);
        return 0;
    case NR_init_module:
        misc(AB_MODULE, id, -1, 0, (const void *)a2);
        return 0;
    case NR_finit_module:
        misc(AB_MODULE, id, (__s32)a0, 0, (const void *)a1);
        return 0;
    case NR_bpf: {
        __u32 ptype = 0;

        if (a0 != BPF_PROG_LOAD_CMD ||
            (bpf_get_current_pid_tgid() >> 32) == cfg(AB_CFG_AGENT_TGID))
            return 0;
        bpf_probe_read_user(&ptype, sizeof(ptype), (const void *)a1);
        misc(AB_BPF, id, -1, ptype, (const void *)(a1 + 48)); /* bpf_attr.prog_name */
        return 0;
    }
    }

    return 0;
}

/* Whether a file syscall is worth looking at (not the agent's own, not a read-only open). */
static __always_inline int file_syscall_wanted(long id, __u64 a1, __u64 a2)
{
    /* a read-only open (most file syscalls) is decided from its flags alone, before the
     * helper call and map lookup that tell the agent's own calls */
    if (id == NR_open || id == NR_openat) {
        __u64 flags = id == NR_open ? a1 : a2;

        if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)))
            return 0;
    }
    if ((bpf_get_current_pid_tgid() >> 32) == cfg(AB_CFG_AGENT_TGID))
        return 0;
    if (id == NR_open || id == NR_openat)
        return 1;
    if (id == NR_openat2) {
        __u64 flags = 0;

        bpf_probe_read_user(&flags, sizeof(flags), (const void *)a2); /* open_how.flags */
        return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
    }
    return 1;
}

/* State of the <dir>/<user>/.ssh/ scan over a prefix key (see path_wanted). */
struct ssh_scan {
    struct ab_prefix_key *k;
    __u32 i;
    int result;
};

static long ssh_step(__u32 idx, void *arg)
{
    struct ssh_scan *c = arg;
    __u32 i = c->i;
    __u8 *d = c->k->data;

    if (i >= AB_PREFIX_LEN - 5)
        return 1;
    if (d[i] == 0)
        return 1;
    if (d[i] == '/') {
        c->result = d[i + 1] == '.' && d[i + 2] == 's' && d[i + 3] == 's' && d[i + 4] == 'h' &&
                    (d[i + 5] == '/' || d[i + 5] == 0);
        return 1;
    }
    c->i = i + 1;
    return 0;
}

/*
 * Whether an absolute path is of interest is decided from its first AB_PREFIX_LEN bytes:
 * the longest matching prefix in the trie wins; no match means not interesting. This is
 * the verdict on a key whose data and prefixlen are set.
 */
static __always_inline int key_wanted(struct ab_prefix_key *k)
{
    __u32 *v = bpf_map_lookup_elem(&prefixes, k);

    if (!v)
        return 0;
    if ((*v & 0xff) == AB_PF_HOME_SSH) {
        struct ssh_scan c = {.k = k, .i = (*v >> 8) + 1, .result = 0};

        /* bpf_loop: the callback is verified once, not once per byte and call site */
        bpf_loop(AB_PREFIX_LEN, ssh_step, &c, 0);
        return c.result;
    }
    return (*v & 0xff) == AB_PF_INCLUDE;
}

/* The verdict on a path in kernel memory (the record) of len bytes with its NUL. */
static __always_inline int path_wanted(const char *path, __u32 len)
{
    struct ab_prefix_key k;
    __u32 n = len;

    if (cfg(AB_CFG_FILE_ALL))
        return 1;
    if (n > 0)
        n--; /* the NUL */
    if (n > AB_PREFIX_LEN)
        n = AB_PREFIX_LEN;
    __builtin_memset(k.data, 0, sizeof(k.data));
    if (bpf_probe_read_kernel(k.data, sizeof(k.data), path))
        return 0;
    k.prefixlen = n * 8;
    return key_wanted(&k);
}

/*
 * At syscall entry: whether a user path is absolute and outside every prefix, so the
 * syscall needs no look at its exit (no pending entry, no record). The same verdict as
 * path_wanted on the same first AB_PREFIX_LEN bytes; relative or unreadable paths are
 * left to the exit (and to user space, which knows the cwd).
 */
static __always_inline int upath_unwanted(const void *upath)
{
    struct ab_prefix_key k;
    char buf[AB_PREFIX_LEN + 8];
    long n;

    if (!upath || cfg(AB_CFG_FILE_ALL))
        return 0;
    __builtin_memset(buf, 0, sizeof(buf));
    n = bpf_probe_read_user_str(buf, AB_PREFIX_LEN + 1, upath);
    if (n <= 1 || buf[0] != '/')
        return 0;
    n--; /* the NUL */
    if (n > AB_PREFIX_LEN)
        n = AB_PREFIX_LEN;
    __builtin_memcpy(k.data, buf, AB_PREFIX_LEN);
    k.prefixlen = (__u32)n * 8;
    return !key_wanted(&k);
}

/*
 * Whether file syscall id with these arguments can be dropped at entry: its path (both, for
 * a rename) absolute and unwanted. fchmod/fchown name only an fd: never dropped here.
 */
static __always_inline int file_syscall_unwanted(long id, __u64 a0, __u64 a1, __u64 a2,
                                                 __u64 a3)
{
    switch (id) {
    case NR_open: case NR_creat: case NR_unlink: case NR_chmod: case NR_chown:
    case NR_lchown:
        return upath_unwanted((const void *)a0);
    case NR_openat: case NR_openat2: case NR_unlinkat: case NR_fchmodat: case NR_fchmodat2:
    case NR_fchownat:
        return upath_unwanted((const void *)a1);
    case NR_rename:
        return upath_unwanted((const void *)a0) && upath_unwanted((const void *)a1);
    case NR_renameat:
    case NR_renameat2:
        return upath_unwanted((const void *)a1) && upath_unwanted((const void *)a3);
    }
    return 0;
}

/*
 * A watched syscall at entry (raw or per-syscall tracepoint alike): file syscalls remember
 * their arguments for sys_exit_watched (read-only opens, the bulk of all file traffic, stop
 * here); the others are handled now. Inlined with a constant id into each per-syscall
 * program, so each keeps only its own branch.
 */
static __always_inline int sys_enter_watched(long id, __u64 a0, __u64 a1, __u64 a2, __u64 a3,
                                             __u64 a4)
{
    if (!is_file_syscall(id))
        return sys_enter_body(id, a0, a1, a2, a3, a4);
    if (!file_syscall_wanted(id, a1, a2))
        return 0;
    if (file_syscall_unwanted(id, a0, a1, a2, a3)) {
        count(AB_CNT_FILTERED);
        return 0;
    }
    {
        struct pending p = {};
        __u32 tid = (__u32)bpf_get_current_pid_tgid();

        p.id = id;
        p.args[0] = a0;
        p.args[1] = a1;
        p.args[2] = a2;
        p.args[3] = a3;
        p.args[4] = a4;
        if (id == NR_openat2) {
            __u64 flags = 0;

            bpf_probe_read_user(&flags, sizeof(flags), (const void *)a2);
            p.args[2] = flags;
        }
        if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY) == 0)
            __sync_fetch_and_add(&pending_live, 1);
    }
    return 0;
}

/*
 * Raw syscall programs (the fallback when per-syscall tracepoints cannot be attached: see
 * the sc_* programs below). They run on every syscall of every process; the syscall
 * number is tested before anything else.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
    if (id != NR_close && id != NR_connect && id != NR_sendto && id != NR_sendmsg &&
        id != NR_kill && id != NR_tkill && id != NR_tgkill && id != NR_ptrace &&
        id != NR_init_module && id != NR_finit_module && id != NR_bpf && !is_file_syscall(id))
        return 0;
    return sys_enter_watched(id, BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si),
                             BPF_CORE_READ(regs, dx), BPF_CORE_READ(regs, r10),
                             BPF_CORE_READ(regs, r8));
}

/* Reads a user path into the scratch at off; sets flags for relative paths. Returns len. */
static __always_inline __u32 read_path(struct ab_file *e, __u32 off, const void *upath,
                                       __s64 dirfd)
{
    long n;

    if (off > AB_PATH_LEN)
        return 0;
    n = bpf_probe_read_user_str(&e->data[off], AB_PATH_LEN, upath);
    if (n <= 0) {
        e->data[off] = 0;
        return 1;
    }
    if (n >= AB_PATH_LEN)
        e->h.flags |= AB_F_PATH_TRUNC;
    if (e->data[off] != '/') {
        if (dirfd == AT_FDCWD)
            e->h.flags |= AB_F_RELATIVE;
        else
            e->h.flags |= AB_F_DIRFD;
    }
    return (__u32)n & (AB_PATH_LEN * 2 - 1);
}

static __always_inline int wanted(struct ab_file *e, __u32 off, __u32 len)
{
    if (off > AB_PATH_LEN)
        return 0;
    if (e->data[off] != '/')
        return 1; /* relative: user space resolves the cwd and applies the filter */
    return path_wanted(&e->data[off], len);
}

/*
 * The directory a file record's relative path starts from, walked now into e->base (names at
 * e->data[off]): by the time user space reads /proc/<pid>/cwd or fd/<dirfd> a short-lived
 * process (the assembler writing obj/x.o, rm -rf's unlinkat) has exited and the path could
 * not be resolved. The same base user space used: the dirfd when a path was relative to a
 * dirfd (AB_F_DIRFD), else the cwd. A global function, verified once for any record and
 * offset (inlined into each file syscall's exit program it made the agent's start ~0.8 s of
 * CPU longer). Returns the bytes of names written.
 */
__noinline int file_base_g(struct ab_file *e, __u64 off)
{
    struct path bp = {};

    if (!e)
        return 0;
    e->base.flags = e->base.n = e->base.len = 0;
    if (off > 2 * AB_PATH_LEN) /* 64-bit: a u32 argument's upper half is unknown to the verifier */
        return 0;
    /* plain addresses, as on_exec's walks start */
    if (e->h.flags & AB_F_DIRFD) {
        struct file *f = fd_file(e->dirfd);

        if (f)
            bpf_probe_read_kernel(&bp, sizeof(bp), &f->f_path);
    } else {
        bpf_probe_read_kernel(&bp, sizeof(bp), &bpf_get_current_task_btf()->fs->pwd);
    }
    if (!bp.dentry)
        return 0;
    dpath_walk_g(&e->base, (struct ab_dnames *)&e->data[off], (__u64)bp.dentry, (__u64)bp.mnt,
                 DW_NO_UNLINKED);
    return e->base.len;
}

/* File syscall id that returned ret >= 0, with its arguments in *ap (a constant id leaves
 * only its own case in a per-syscall program). */
static __always_inline int sys_exit_file(long id, const struct pending *ap, long ret, void *ctx,
                                         int tail)
{
    struct pending a = *ap;
    struct ab_file *e;
    __u32 zero = 0, l1 = 0, l2 = 0, l3 = 0;
    int keep = 0;

    e = bpf_map_lookup_elem(&file_scratch, &zero);
    if (!e)
        return 0;
    fill_current(&e->h, AB_FILE);
    e->fd = -1;
    e->dirfd = AT_FDCWD;
    e->mode = 0;
    e->uid = e->gid = (__u32)-1;
    e->base.flags = e->base.n = e->base.len = 0;

    switch (id) {
    case NR_open:
    case NR_creat:
    case NR_openat:
    case NR_openat2:
        if (id == NR_open) {
            l1 = read_path(e, 0, (const void *)a.args[0], AT_FDCWD);
            e->mode = (__u32)a.args[1];
        } else if (id == NR_creat) {
            l1 = read_path(e, 0, (const void *)a.args[0], AT_FDCWD);
            e->mode = O_CREAT | O_WRONLY | O_TRUNC;
        } else {
            e->dirfd = (__s32)a.args[0];
            l1 = read_path(e, 0, (const void *)a.args[1], (__s64)(__s32)a.args[0]);
            e->mode = (__u32)a.args[2];
        }
        e->op = AB_FOP_OPEN_WRITE;
        e->fd = (__s32)ret;
        keep = wanted(e, 0, l1);
        if (keep && (e->mode & (O_WRONLY | O_RDWR))) {
            __u64 key = (bpf_get_current_pid_tgid() & 0xffffffff00000000ull) | (__u32)ret;
            __u8 one = 1;

            bpf_map_update_elem(&wfds, &key, &one, BPF_ANY);
        }
        break;
    case NR_unlink:
        l1 = read_path(e, 0, (const void *)a.args[0], AT_FDCWD);
        e->op = AB_FOP_DELETE;
        keep = wanted(e, 0, l1);
        break;
    case NR_unlinkat:
        e->dirfd = (__s32)a.args[0];
        l1 = read_path(e, 0, (const void *)a.args[1], (__s64)(__s32)a.args[0]);
        e->op = AB_FOP_DELETE;
        keep = wanted(e, 0, l1);
        break;
    case NR_rename:
        l1 = read_path(e, 0, (const void *)a.args[0], AT_FDCWD);
        if (l1 > AB_PATH_LEN)
            l1 = AB_PATH_LEN;
        l2 = read_path(e, l1, (const void *)a.args[1], AT_FDCWD);
        e->op = AB_FOP_RENAME;
        keep = wanted(e, 0, l1) || wanted(e, l1, l2);
        break;
    case NR_renameat:
    case NR_renameat2:
        e->dirfd = (__s32)a.args[0];
        l1 = read_path(e, 0, (const void *)a.args[1], (__s64)(__s32)a.args[0]);
        if (l1 > AB_PATH_LEN)
            l1 = AB_PATH_LEN;
        l2 = read_path(e, l1, (const void *)a.args[3], (__s64)(__s32)a.args[2]);
        e->op = AB_FOP_RENAME;
        keep = wanted(e, 0, l1) || wanted(e, l1, l2);
        break;
    case NR_chmod:
        l1 = read_path(e, 0, (const void *)a.args[0], AT_FDCWD);
        e->op = AB_FOP_CHMOD;
        e->mode = (__u32)a.args[1];
        keep = wanted(e, 0, l1);
        break;
    case NR_fchmodat:
    case NR_fchmodat2:
        e->dirfd = (__s32)a.args[0];
        l1 = read_path(e, 0, (const void *)a.args[1], (__s64)(__s32)a.args[0]);
        e->op = AB_FOP_CHMOD;
        e->mode = (__u32)a.args[2];
        keep = wanted(e, 0, l1);
        break;
    case NR_fchmod:
        e->op = AB_FOP_CHMOD;
        e->fd = (__s32)a.args[0];
        e->mode = (__u32)a.args[1];
        keep = 1; /* path known only to user space (/proc/<pid>/fd) */
        break;
    case NR_chown:
    case NR_lchown:
        l1 = read_path(e, 0, (const void *)a.args[0], AT_FDCWD);
        e->op = AB_FOP_CHOWN;
        e->uid = (__u32)a.args[1];
        e->gid = (__u32)a.args[2];
        keep = wanted(e, 0, l1);
        break;
    case NR_fchownat:
        e->dirfd = (__s32)a.args[0];
        l1 = read_path(e, 0, (const void *)a.args[1], (__s64)(__s32)a.args[0]);
        e->op = AB_FOP_CHOWN;
        e->uid = (__u32)a.args[2];
        e->gid = (__u32)a.args[3];
        keep = wanted(e, 0, l1);
        break;
    case NR_fchown:
        e->op = AB_FOP_CHOWN;
        e->fd = (__s32)a.args[0];
        e->uid = (__u32)a.args[1];
        e->gid = (__u32)a.args[2];
        keep = 1;
        break;
    default:
        return 0;
    }
    if (!keep) {
        count(AB_CNT_FILTERED);
        return 0;
    }
    if (l1 > AB_PATH_LEN)
        l1 = AB_PATH_LEN;
    if (l2 > AB_PATH_LEN)
        l2 = AB_PATH_LEN;
    e->path_len = l1;
    e->path2_len = l2;
    if (e->h.flags & (AB_F_RELATIVE | AB_F_DIRFD)) {
        /* a per-syscall program hands the record to sc_file_base, which walks the base and
         * submits: verified there once, not in each of the 15 exit programs (~31k
         * instructions each: ~0.8 s of the agent's start). Only if that is not possible (the
         * raw program, or no tail program) is the walk done here, or not at all. */
        if (tail) { /* a constant once inlined: the raw program passes 0 */
            bpf_tail_call(ctx, &file_tail, 0);
            goto out;
        }
        file_base_g(e, (__u64)l1 + l2);
        l3 = e->base.len; /* a u16 load: bounded for the verifier, unlike the return value */
        if (l3 > AB_DNAMES_LEN)
            l3 = AB_DNAMES_LEN;
    }
out:
    submit(e, __builtin_offsetof(struct ab_file, data) + l1 + l2 + l3);
    return 0;
}

/*
 * The end of a file record with a relative path, tail-called by the per-syscall exit
 * programs (sys_exit_file; collect_bpf.c puts it in file_tail): the record waits in this
 * CPU's file_scratch with its paths; the base directory is walked and the record submitted.
 */
SEC("tracepoint")
int sc_file_base(void *ctx)
{
    __u32 zero = 0, l1, l2, l3;
    struct ab_file *e = bpf_map_lookup_elem(&file_scratch, &zero);

    if (!e)
        return 0;
    l1 = e->path_len;
    l2 = e->path2_len;
    if (l1 > AB_PATH_LEN)
        l1 = AB_PATH_LEN;
    if (l2 > AB_PATH_LEN)
        l2 = AB_PATH_LEN;
    file_base_g(e, (__u64)l1 + l2);
    l3 = e->base.len;
    if (l3 > AB_DNAMES_LEN)
        l3 = AB_DNAMES_LEN;
    submit(e, __builtin_offsetof(struct ab_file, data) + l1 + l2 + l3);
    return 0;
}

/* A watched file syscall at exit (id: -1 = whichever its entry kept): the arguments its
 * entry kept, if any. */
static __always_inline int sys_exit_watched(long id, long ret, void *ctx, int tail)
{
    __u32 tid;
    struct pending *p;
    struct pending a;

    if (!pending_live)
        return 0;
    tid = (__u32)bpf_get_current_pid_tgid();
    p = bpf_map_lookup_elem(&pending, &tid);
    if (!p)
        return 0;
    a = *p;
    if (bpf_map_delete_elem(&pending, &tid) == 0)
        __sync_fetch_and_sub(&pending_live, 1);
    if (ret < 0 || (id >= 0 && (long)a.id != id))
        return 0;
    return sys_exit_file(id >= 0 ? id : (long)a.id, &a, ret, ctx, tail);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
    /* the syscall number first: most syscalls are none of ours (no map lookup for them) */
    if (!is_file_syscall(regs->orig_ax)) /* a BTF pointer: a direct load, no helper call */
        return 0;
    return sys_exit_watched(-1, ret, NULL, 0);
}

/*
 * Per-syscall tracepoints (tracepoint/syscalls/sys_{enter,exit}_<name>), the default: the
 * kernel runs a BPF program only for the syscalls attached, so the other syscalls of every
 * process pay no BPF program run (they still take the syscall-tracing slow path while any
 * syscall tracepoint is on). collect_bpf.c attaches these (those whose tracepoint exists:
 * a kernel without modules has no init_module tracepoint, and no such syscall) or, when
 * tracefs or the attach fails, the raw pair above instead; never both.
 */
/* A syscall's record holds only its own arguments (reading past them fails the attach):
 * nargs is how many it has, the others are 0. */
#define SC_ARG(n, nargs) ((nargs) > (n) ? ctx->args[n] : 0)
#define SC_ENTER(name, nargs)                                                               \
    SEC("tracepoint/syscalls/sys_enter_" #name)                                             \
    int sc_enter_##name(struct trace_event_raw_sys_enter *ctx)                              \
    {                                                                                       \
        return sys_enter_watched(NR_##name, SC_ARG(0, nargs), SC_ARG(1, nargs),             \
                                 SC_ARG(2, nargs), SC_ARG(3, nargs), SC_ARG(4, nargs));     \
    }
#define SC_EXIT(name)                                                                       \
    SEC("tracepoint/syscalls/sys_exit_" #name)                                              \
    int sc_exit_##name(struct trace_event_raw_sys_exit *ctx)                                \
    {                                                                                       \
        return sys_exit_watched(NR_##name, ctx->ret, ctx, 1);                               \
    }
#define SC_FILE(name, nargs) SC_ENTER(name, nargs) SC_EXIT(name)

SC_ENTER(close, 1)
SC_ENTER(connect, 3)
SC_ENTER(sendto, 6)
SC_ENTER(sendmsg, 3)
SC_ENTER(kill, 2)
SC_ENTER(tkill, 2)
SC_ENTER(tgkill, 3)
SC_ENTER(ptrace, 4)
SC_ENTER(init_module, 3)
SC_ENTER(finit_module, 3)
SC_ENTER(bpf, 3)
SC_FILE(open, 3)
SC_FILE(openat, 4)
SC_FILE(openat2, 4)
SC_FILE(creat, 2)
SC_FILE(unlink, 1)
SC_FILE(unlinkat, 3)
SC_FILE(rename, 2)
SC_FILE(renameat, 4)
SC_FILE(renameat2, 5)
SC_FILE(chmod, 2)
SC_FILE(fchmod, 2)
SC_FILE(fchmodat, 3)
SC_FILE(fchmodat2, 4)
SC_FILE(chown, 3)
SC_FILE(fchown, 3)
SC_FILE(lchown, 3)
SC_FILE(fchownat, 5)
