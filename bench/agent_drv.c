/*
 * agent_drv.c - workload drivers for bench/bench_agent.sh (compiled by the script with gcc;
 * not part of the CMake build). Every mode prints one line of numbers on stdout.
 *
 *   agent_drv exec N PATH             N x (posix_spawn PATH; wait): "<execs> <seconds>"
 *   agent_drv rate R SECS PATH [P]    P driver processes (default 1), each spawning PATH with
 *                                     vfork + execve paced at R/P per second for SECS s (at
 *                                     most 256 children in flight per driver; R 0 = as fast
 *                                     as possible): "<execs> <seconds>"
 *   agent_drv files N DIR             N x (open O_CREAT, write 64 B, close, unlink): "<n> <s>"
 *   agent_drv sys KIND N [PATH]       N syscalls of one kind in a loop, KIND getppid, open_ro
 *                                     (open PATH read-only + close), open_w (open PATH for
 *                                     write + close): "<n> <ns wall per op> <ns CPU per op>"
 *   agent_drv cpu CMD [ARG...]        runs CMD and waits for it: "<wall s> <user+sys s>
 *                                     <voluntary> <involuntary context switches>" of CMD's
 *                                     whole process tree (every process waited for by its
 *                                     parent: wait4 rusage of the children)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now(clockid_t c)
{
    struct timespec t;

    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double
tv(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static void
spawn(const char *path)
{
    pid_t pid;
    char *argv[] = {(char *)path, NULL};
    int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);

    if (rc) {
        fprintf(stderr, "posix_spawn %s: %s\n", path, strerror(rc));
        exit(1);
    }
}

/* One paced driver: rate per second (0 = unpaced) for secs; returns the execs done. */
static long
drive(double rate, double secs, const char *path)
{
    char *argv[] = {(char *)path, NULL};
    double t0 = now(CLOCK_MONOTONIC), end = t0 + secs;
    long done = 0, inflight = 0;

    for (;;) {
        double t = now(CLOCK_MONOTONIC);
        long due = rate > 0 ? (long)((t - t0) * rate) : done + 1;

        if (t >= end)
            break;
        while (inflight > 0 && waitpid(-1, NULL, WNOHANG) > 0)
            inflight--;
        if (done >= due) {
            usleep(50);
            continue;
        }
        while (done < due && (rate <= 0 || now(CLOCK_MONOTONIC) < end)) {
            pid_t pid;

            while (inflight >= 256)
                if (wait(NULL) > 0)
                    inflight--;
            pid = vfork();
            if (pid < 0) {
                perror("vfork");
                exit(1);
            }
            if (pid == 0) {
                execve(path, argv, environ);
                _exit(127);
            }
            done++, inflight++;
            while (inflight > 0 && waitpid(-1, NULL, WNOHANG) > 0)
                inflight--;
            if (rate <= 0)
                break;
        }
    }
    while (inflight > 0 && wait(NULL) > 0)
        inflight--;
    return done;
}

static int
mode_rate(int argc, char **argv)
{
    double rate = strtod(argv[2], NULL), secs = strtod(argv[3], NULL);
    long procs = argc > 5 ? strtol(argv[5], NULL, 10) : 1, total = 0;
    int fds[2];
    double t0;
    int status;

    if (procs < 1 || procs > 64 || pipe(fds) != 0)
        return 2;
    /* one exec first: a target that cannot run is an error, not a rate */
    spawn(argv[4]);
    if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
        fprintf(stderr, "%s does not run\n", argv[4]);
        return 1;
    }
    t0 = now(CLOCK_MONOTONIC);
    for (long i = 0; i < procs; i++) {
        pid_t pid = fork();

        if (pid < 0)
            return 1;
        if (pid == 0) {
            long done = drive(rate / (double)procs, secs, argv[4]);

            if (write(fds[1], &done, sizeof(done)) != (ssize_t)sizeof(done))
                _exit(1);
            _exit(0);
        }
    }
    close(fds[1]);
    for (long i = 0; i < procs; i++) {
        long d = 0;

        if (read(fds[0], &d, sizeof(d)) == (ssize_t)sizeof(d))
            total += d;
    }
    while (wait(NULL) > 0)
        ;
    printf("%ld %.6f\n", total, now(CLOCK_MONOTONIC) - t0);
    return 0;
}

static int
mode_sys(int argc, char **argv)
{
    long n = strtol(argv[3], NULL, 10);
    const char *path = argc > 4 ? argv[4] : "/etc/hostname";
    double w0, c0, w1, c1;

    if (n <= 0)
        return 2;
    w0 = now(CLOCK_MONOTONIC);
    c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    if (!strcmp(argv[2], "getppid")) {
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid); /* not cached by libc */
    } else if (!strcmp(argv[2], "open_ro") || !strcmp(argv[2], "open_w")) {
        int flags = argv[2][5] == 'r' ? O_RDONLY : O_WRONLY | O_CREAT;

        for (long i = 0; i < n; i++) {
            int fd = open(path, flags | O_CLOEXEC, 0600);

            if (fd < 0) {
                perror(path);
                return 1;
            }
            close(fd);
        }
    } else {
        return 2;
    }
    c1 = now(CLOCK_PROCESS_CPUTIME_ID);
    w1 = now(CLOCK_MONOTONIC);
    printf("%ld %.1f %.1f\n", n, (w1 - w0) / (double)n * 1e9, (c1 - c0) / (double)n * 1e9);
    return 0;
}

static int
mode_cpu(char **argv)
{
    double t0 = now(CLOCK_MONOTONIC), t1;
    struct rusage ru;
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return 1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (null >= 0)
            dup2(null, 1); /* the command's own output is not ours */
        execvp(argv[0], argv);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0)
        return 1;
    t1 = now(CLOCK_MONOTONIC);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s failed (status %d)\n", argv[0], status);
        return 1;
    }
    /* and the tree's voluntary / involuntary context switches (preemptions) */
    printf("%.6f %.6f %ld %ld\n", t1 - t0, tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_nvcsw,
           ru.ru_nivcsw);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "cpu"))
        return mode_cpu(argv + 2);
    if (argc >= 4 && !strcmp(argv[1], "sys"))
        return mode_sys(argc, argv);
    if (argc >= 5 && !strcmp(argv[1], "rate"))
        return mode_rate(argc, argv);
    if (argc == 4 && !strcmp(argv[1], "exec")) {
        long n = strtol(argv[2], NULL, 10), done = 0;
        double t0 = now(CLOCK_MONOTONIC);

        for (; done < n; done++) {
            spawn(argv[3]);
            while (wait(NULL) < 0 && errno == EINTR)
                ;
        }
        printf("%ld %.6f\n", done, now(CLOCK_MONOTONIC) - t0);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "files")) {
        static const char data[64] = "bannin agent bench file storm payload 0123456789abcdef";
        long n = strtol(argv[2], NULL, 10), done = 0;
        double t0 = now(CLOCK_MONOTONIC);
        char p[4096];

        for (; done < n; done++) {
            int fd;

            snprintf(p, sizeof(p), "%s/f%ld", argv[3], done);
            fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data)) {
                perror(p);
                return 1;
            }
            close(fd);
            unlink(p);
        }
        printf("%ld %.6f\n", done, now(CLOCK_MONOTONIC) - t0);
        return 0;
    }
    fprintf(stderr, "usage: see the head of agent_drv.c\n");
    return 2;
}
