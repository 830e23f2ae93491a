/*
 * test_respond_forensic.c - the forensics action (respond_forensic.h) in-process: builds a
 * package with chosen files, recent events, a watch list and a listening socket of our own,
 * then opens it with tar -I zstd and checks the members, the manifest (member sizes and
 * SHA-256 against the extracted bytes), the archive's SHA-256 and the contents.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "agent/respond_forensic.h"
#include "bannin/error.h"

static char dir[64];
static struct resp_forensic *mod;

static void
put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs a shell command, returns its stdout (malloc'd) and exit status. */
static char *
sh(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    *status = pclose(p);
    return buf;
}

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/bn-rfor-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof(p), "%s/state", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/watch", dir);
    mkdir(p, 0700);
    put("watch/evil.service", "[Service]\nExecStart=/tmp/x\n");
    put("chosen.txt", "chosen file contents\n");
    FILE *f;
    snprintf(p, sizeof(p), "%s/events.jsonl", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 1; i <= 50; i++)
        fprintf(f, "{\"EventID\":1,\"n\":%d}\n", i);
    fclose(f);
    snprintf(p, sizeof(p), "%s/state", dir);
    struct respond_paths paths = {.state_dir = p};
    assert_int_equal(resp_forensic_new(&mod, &paths), 0);
    return 0;
}

static int
teardown(void **state)
{
    resp_forensic_free(mod);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    int st;
    free(sh(cmd, &st));
    return 0;
}

static json_t *
call(const char *params, int want_rc)
{
    struct bn_buf out;
    bn_buf_init(&out, 16u << 20);
    int rc = resp_forensics(mod, params, strlen(params), &out);
    if (rc != want_rc)
        printf("  rc %d, result %.500s\n", rc, out.p ? out.p : "");
    assert_int_equal(rc, want_rc);
    json_t *r = json_loadb(out.p, out.len, 0, NULL);
    bn_buf_release(&out);
    assert_non_null(r);
    return r;
}

static json_t *
member(json_t *manifest, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(manifest, "members"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
            return m;
    }
    return NULL;
}

static void
test_package(void **state)
{
    /* a listening socket of ours: its row in connections.json must name our pid */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 1), 0);
    socklen_t sl = sizeof(sa);
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    int port = ntohs(sa.sin_port);

    char params[1024];
    snprintf(params, sizeof(params),
             "{\"files\":[\"%s/chosen.txt\",\"%s/missing.txt\"],\"events\":10,"
             "\"events_path\":\"%s/events.jsonl\",\"watch\":[\"%s/watch\"]}",
             dir, dir, dir, dir);
    json_t *r = call(params, 0);
    close(ls);
    assert_true(json_is_true(json_object_get(r, "ok")));
    const char *path = json_string_value(json_object_get(r, "path"));
    assert_non_null(path);
    assert_non_null(strstr(path, "/state/forensics/forensics-"));
    assert_non_null(strstr(path, ".tar.zst"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, json_integer_value(json_object_get(r, "size")));
    assert_int_equal(st.st_mode & 0777, 0600);

    /* the archive's SHA-256 */
    char cmd[1024];
    int status;
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    char *o = sh(cmd, &status);
    assert_int_equal(status, 0);
    assert_memory_equal(o, json_string_value(json_object_get(r, "sha256")), 64);
    free(o);

    /* members, as tar lists them */
    snprintf(cmd, sizeof(cmd), "tar -I zstd -tf '%s'", path);
    o = sh(cmd, &status);
    assert_int_equal(status, 0);
    printf("%s", o);
    const char *want[] = {"processes.json", "open_files.json", "connections.json",
                          "users.json", "persistence.json", "events.jsonl", "manifest.json"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_non_null(strstr(o, want[i]));
    char chosen[256];
    snprintf(chosen, sizeof(chosen), "files%s/chosen.txt", dir);
    assert_non_null(strstr(o, chosen));
    free(o);

    /* the manifest in the archive equals the result's, and every member's size and hash
     * match the extracted bytes */
    json_t *manifest = json_object_get(r, "manifest");
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' manifest.json", path);
    o = sh(cmd, &status);
    assert_int_equal(status, 0);
    json_t *inarch = json_loads(o, 0, NULL);
    free(o);
    assert_non_null(inarch);
    assert_true(json_equal(inarch, manifest));
    json_decref(inarch);
    assert_string_equal(json_string_value(json_object_get(manifest, "format")),
                        "bannin-forensics/1");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(manifest, "members"), i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' '%s' | sha256sum", path, name);
        o = sh(cmd, &status);
        assert_int_equal(status, 0);
        assert_memory_equal(o, json_string_value(json_object_get(m, "sha256")), 64);
        free(o);
    }

    /* the missing chosen file is a note, not a failure */
    json_t *notes = json_object_get(manifest, "notes");
    bool noted = false;
    json_array_foreach(notes, i, m)
    {
        noted |= strstr(json_string_value(json_object_get(m, "detail")), "missing.txt") != NULL;
    }
    assert_true(noted);

    /* events: exactly the last 10 lines */
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' events.jsonl", path);
    o = sh(cmd, &status);
    int lines = 0;
    for (char *p = o; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 10);
    assert_true(strncmp(o, "{\"EventID\":1,\"n\":41}\n", 21) == 0);
    assert_non_null(strstr(o, "\"n\":50}\n"));
    free(o);
    assert_int_equal(json_integer_value(json_object_get(member(manifest, "events.jsonl"),
                                                        "lines")),
                     10);

    /* the chosen file, byte for byte */
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' '%s'", path, chosen);
    o = sh(cmd, &status);
    assert_string_equal(o, "chosen file contents\n");
    free(o);

    /* processes: ours with its exe; connections: our listener with our pid */
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' processes.json", path);
    o = sh(cmd, &status);
    json_t *procs = json_loads(o, 0, NULL);
    free(o);
    assert_true(json_is_array(procs));
    bool me = false;
    json_array_foreach(procs, i, m)
    {
        if (json_integer_value(json_object_get(m, "pid")) == getpid()) {
            me = json_integer_value(json_object_get(m, "ppid")) == getppid() &&
                 json_is_string(json_object_get(m, "exe"));
        }
    }
    assert_true(me);
    json_decref(procs);
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' connections.json", path);
    o = sh(cmd, &status);
    json_t *conns = json_loads(o, 0, NULL);
    free(o);
    bool found = false;
    json_array_foreach(conns, i, m)
    {
        if (json_integer_value(json_object_get(m, "lport")) == port &&
            strcmp(json_string_value(json_object_get(m, "proto")), "tcp") == 0) {
            assert_string_equal(json_string_value(json_object_get(m, "local")), "127.0.0.1");
            assert_string_equal(json_string_value(json_object_get(m, "state")), "LISTEN");
            json_t *pids = json_object_get(m, "pids");
            found = json_array_size(pids) >= 1 &&
                    json_integer_value(json_array_get(pids, 0)) == getpid();
        }
    }
    assert_true(found);
    json_decref(conns);

    /* persistence: the watched unit with its SHA-256 */
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' persistence.json", path);
    o = sh(cmd, &status);
    json_t *pers = json_loads(o, 0, NULL);
    free(o);
    found = false;
    json_array_foreach(pers, i, m)
    {
        const char *pp = json_string_value(json_object_get(m, "path"));
        if (strstr(pp, "/watch/evil.service")) {
            /* sha256 of "[Service]\nExecStart=/tmp/x\n" */
            snprintf(cmd, sizeof(cmd), "sha256sum '%s'", pp);
            o = sh(cmd, &status);
            assert_memory_equal(o, json_string_value(json_object_get(m, "sha256")), 64);
            assert_string_equal(json_string_value(json_object_get(m, "type")), "file");
            free(o);
            found = true;
        }
    }
    assert_true(found);
    json_decref(pers);
    json_decref(r);
}

/* a name past ustar's 100 bytes (pax record) and a file over the per-file cap (sparse) */
static void
test_long_name_and_cap(void **state)
{
    char deep[512], big[256];
    snprintf(deep, sizeof(deep),
             "%s/a-directory-with-a-long-name-to-pass-one-hundred-bytes/and-one-more-level-"
             "below",
             dir);
    char cmd[1400];
    int status;
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", deep);
    free(sh(cmd, &status));
    assert_int_equal(status, 0);
    size_t dl = strlen(deep);
    snprintf(deep + dl, sizeof(deep) - dl, "/a-file-with-a-long-name-as-well.conf");
    FILE *f = fopen(deep, "w");
    assert_non_null(f);
    fputs("deep contents\n", f);
    fclose(f);
    snprintf(big, sizeof(big), "%s/sparse.img", dir);
    f = fopen(big, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (33 << 20) + 5), 0);
    fclose(f);
    char params[1200];
    snprintf(params, sizeof(params), "{\"files\":[\"%s\",\"%s\"],\"watch\":[\"%s/watch\"]}",
             deep, big, dir);
    json_t *r = call(params, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    const char *path = json_string_value(json_object_get(r, "path"));
    char name[700];
    snprintf(name, sizeof(name), "files%s", deep);
    assert_true(strlen(name) > 100);
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' '%s'", path, name);
    char *o = sh(cmd, &status);
    assert_int_equal(status, 0);
    assert_string_equal(o, "deep contents\n");
    free(o);
    json_t *m = member(json_object_get(r, "manifest"), name);
    assert_non_null(m);
    snprintf(name, sizeof(name), "files%s", big);
    m = member(json_object_get(r, "manifest"), name);
    assert_non_null(m);
    assert_true(json_is_true(json_object_get(m, "truncated")));
    assert_int_equal(json_integer_value(json_object_get(m, "size")), 32 << 20);
    assert_int_equal(json_integer_value(json_object_get(m, "source_size")), (33 << 20) + 5);
    snprintf(cmd, sizeof(cmd), "tar -I zstd -xOf '%s' '%s' | wc -c", path, name);
    o = sh(cmd, &status);
    assert_int_equal(strtol(o, NULL, 10), 32 << 20);
    free(o);
    json_decref(r);
}

static void
test_bad_params(void **state)
{
    json_t *r = call("{\"files\":\"/etc/passwd\"}", BN_EINVAL);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "files"));
    json_decref(r);
    r = call("{\"files\":[\"etc/passwd\"]}", BN_EINVAL);
    json_decref(r);
    r = call("{\"files\":[\"/tmp/../etc/passwd\"]}", BN_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), ".."));
    json_decref(r);
    r = call("{\"events\":-1}", BN_EINVAL);
    json_decref(r);
    r = call("{\"events_path\":\"relative\"}", BN_EINVAL);
    json_decref(r);
    r = call("not json", BN_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "params:1:"));
    json_decref(r);
}

int
main(void)
{
    if (system("command -v tar >/dev/null && command -v zstd >/dev/null && "
               "command -v sha256sum >/dev/null") != 0) {
        printf("skipped: needs tar, zstd and sha256sum to open the package\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_package),
        cmocka_unit_test(test_long_name_and_cap),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
