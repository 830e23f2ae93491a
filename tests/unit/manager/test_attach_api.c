/*
 * test_attach_api.c - GET /api/v1/attachments/{id} over a real API server: a file larger
 * than the hashing piece (64 KiB) is streamed byte for byte with its SHA-256 in the
 * X-Content-SHA256 header; a file changed on disk (same size) or truncated is a 500 naming
 * the damage, and nothing of it is served; every download is audited.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "test_api_common.h"
#include "bannin/hex.h"

static size_t
keep_sha(char *p, size_t sz, size_t n, void *ud)
{
    char *sha = ud;
    static const char name[] = "X-Content-SHA256: ";
    size_t len = sz * n;
    if (len >= sizeof(name) - 1 + 64 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        memcpy(sha, p + sizeof(name) - 1, 64);
        sha[64] = '\0';
    }
    return len;
}

/* GET path as token; the body into out, the X-Content-SHA256 header into sha ("" if none). */
static long
get(struct tenv *e, const char *path, const char *token, struct tresp *out, char sha[65])
{
    memset(out, 0, sizeof(*out));
    sha[0] = '\0';
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[512], auth[512];
    snprintf(url, sizeof(url), "%s%s", e->base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tenv_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_sha);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, sha);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!out->body)
        out->body = calloc(1, 1);
    return out->status;
}

static void
write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void
test_download_streamed_and_checked(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);

    /* 300,001 bytes: several hashing pieces and a short last one */
    size_t n = 300001;
    uint8_t *blob = malloc(n);
    assert_non_null(blob);
    for (size_t i = 0; i < n; i++)
        blob[i] = (uint8_t)(i * 2654435761u >> 13);
    uint8_t h[32];
    unsigned hl = 0;
    EVP_Digest(blob, n, h, &hl, EVP_sha256(), NULL);

    char dir[128], path[256];
    snprintf(dir, sizeof(dir), "%s/attachments", e.dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/attachments/t-1", e.dir);
    write_file(path, blob, n);

    struct store_attachment att;
    memset(&att, 0, sizeof(att));
    att.tenant_id = e.tenant_a;
    att.agent_id = 1;
    att.incident_id = 1;
    att.action_id = 1;
    snprintf(att.name, sizeof(att.name), "forensics-t.tar.zst");
    snprintf(att.path, sizeof(att.path), "attachments/t-1");
    att.size = (int64_t)n;
    bn_hex_encode(h, 32, att.sha256);
    int64_t id = 0;
    assert_int_equal(store_attachment_create(e.st, &att, &id), 0);

    char tok[128], url[64], sha[65];
    assert_int_equal(tenv_token(&e, e.uid[T_CA_A], tok, sizeof(tok)), 0);
    snprintf(url, sizeof(url), "/api/v1/attachments/%lld", (long long)id);

    struct tresp r;
    assert_int_equal(get(&e, url, tok, &r, sha), 200);
    assert_int_equal(r.len, n);
    assert_memory_equal(r.body, blob, n);
    assert_string_equal(sha, att.sha256);
    free(r.body);

    /* one byte changed, same size: refused before a byte is sent */
    blob[123456] ^= 0x5a;
    write_file(path, blob, n);
    assert_int_equal(get(&e, url, tok, &r, sha), 500);
    assert_non_null(strstr(r.body, "damaged"));
    assert_true(r.len < 1000); /* a JSON error, not the file */
    assert_string_equal(sha, "");
    free(r.body);

    /* truncated */
    write_file(path, blob, n / 2);
    assert_int_equal(get(&e, url, tok, &r, sha), 500);
    assert_non_null(strstr(r.body, "not the stored size"));
    free(r.body);

    /* gone */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(get(&e, url, tok, &r, sha), 500);
    free(r.body);

    /* the one good download is audited */
    assert_int_equal(tenv_http(&e, "GET", "/api/v1/audit?limit=50", tok, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    const char *first = strstr(r.body, "attachment.download");
    assert_non_null(first);
    assert_null(strstr(first + 1, "attachment.download"));
    free(r.body);

    free(blob);
    tenv_teardown(&e);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download_streamed_and_checked),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
