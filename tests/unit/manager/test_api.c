/*
 * test_api.c - the API's behaviour beyond roles: the JSON body limits and their errors,
 * credentials (Argon2id, tokens stored hashed, login/logout, expiry of revoked tokens),
 * privilege escalation attempts, audit entries for state changes, the counters on /metrics,
 * the incident workflow, rule upload validation and IOC import from CSV and STIX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>

#include "test_api_common.h"
#include "notify_peers.h"
#include "manager/api_int.h"
#include "manager/enroll.h"
#include "bannin/alloc.h"
#include "bannin/limits.h"

/* ---- body parser (no server) ---------------------------------------------------------- */

static void
test_body_parse_limits(void **state)
{
    (void)state;
    struct api_error e;
    json_t *j = api_body_parse("{\"a\":1}", 7, 100, &e);
    assert_non_null(j);
    json_decref(j);

    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse("{\"a\":1", 6, 100, &e));
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "invalid_json");
    assert_non_null(strstr(e.message, "body:1:"));

    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse("[1,2]", 5, 100, &e));
    assert_string_equal(e.code, "invalid_json");
    assert_non_null(strstr(e.message, "object"));

    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse("{\"a\":1}", 7, 3, &e));
    assert_int_equal(e.status, 413);

    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse("", 0, 100, &e));
    assert_int_equal(e.status, 400);

    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse("{\"a\":1,\"a\":2}", 13, 100, &e));
    assert_string_equal(e.code, "invalid_json");

    /* Nesting past the limit is refused with its line and column. */
    char deep[256];
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (int i = 0; i < BN_API_JSON_DEPTH_MAX + 2; i++)
        deep[n++] = '[';
    for (int i = 0; i < BN_API_JSON_DEPTH_MAX + 2; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse(deep, n, sizeof(deep), &e));
    assert_string_equal(e.code, "invalid_json");
    assert_non_null(strstr(e.message, "deeper"));

    /* Brackets inside strings do not count as nesting. */
    const char *s = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
    j = api_body_parse(s, strlen(s), 1000, &e);
    assert_non_null(j);
    json_decref(j);

    /* Invalid UTF-8 and NUL bytes are refused. */
    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse("{\"a\":\"\xff\"}", 9, 100, &e));
    memset(&e, 0, sizeof(e));
    assert_null(api_body_parse("{\"a\":\"\\u0000\"}", 14, 100, &e));
}

static void
test_body_fields(void **state)
{
    (void)state;
    struct api_error e;
    json_t *j = json_loads("{\"name\":\"x\",\"n\":5,\"b\":true,\"s\":3,\"e\":\"\"}", 0, NULL);
    const char *str;
    int64_t v = 0;
    int b = 0;
    static const char *const keys[] = {"name", "n", "b", "s", "e", NULL};
    static const char *const fewer[] = {"name", NULL};
    assert_int_equal(api_body_keys(j, keys, &e), 0);
    memset(&e, 0, sizeof(e));
    assert_int_equal(api_body_keys(j, fewer, &e), BN_EINVAL);
    assert_string_equal(e.code, "unknown_field");
    assert_true(strlen(e.field) > 0);

    assert_int_equal(api_body_str(j, "name", 1, 10, &str, &e), 0);
    assert_string_equal(str, "x");
    assert_int_equal(api_body_str(j, "missing", 0, 10, &str, &e), 0);
    assert_null(str);
    memset(&e, 0, sizeof(e));
    assert_int_equal(api_body_str(j, "missing", 1, 10, &str, &e), BN_EINVAL);
    assert_string_equal(e.code, "missing_field");
    assert_string_equal(e.field, "missing");
    memset(&e, 0, sizeof(e));
    assert_int_equal(api_body_str(j, "s", 1, 10, &str, &e), BN_EINVAL);
    assert_string_equal(e.code, "invalid_field");
    assert_int_equal(api_body_str(j, "e", 1, 10, &str, &e), BN_EINVAL);

    assert_int_equal(api_body_int(j, "n", 1, 0, 10, &v, &e), 0);
    assert_int_equal(v, 5);
    memset(&e, 0, sizeof(e));
    assert_int_equal(api_body_int(j, "n", 1, 6, 10, &v, &e), BN_EINVAL);
    assert_non_null(strstr(e.message, "6..10"));
    assert_int_equal(api_body_int(j, "name", 1, 0, 10, &v, &e), BN_EINVAL);
    assert_int_equal(api_body_bool(j, "b", 1, &b, &e), 0);
    assert_int_equal(b, 1);
    assert_int_equal(api_body_bool(j, "n", 1, &b, &e), BN_EINVAL);
    json_decref(j);
}

static void
test_auth_helpers(void **state)
{
    (void)state;
    char h[AUTH_PWHASH_MAX];
    assert_int_equal(auth_password_hash("correct horse battery", h, sizeof(h)), 0);
    assert_non_null(strstr(h, "$argon2id$"));
    assert_int_equal(auth_password_verify(h, "correct horse battery"), 0);
    assert_int_equal(auth_password_verify(h, "correct horse batterY"), BN_EDENIED);
    assert_int_equal(auth_password_verify("", "x"), BN_EDENIED);
    const char *why;
    assert_int_equal(auth_password_policy("short", &why), BN_EINVAL);
    assert_non_null(why);
    assert_int_equal(auth_password_policy("long enough pass", &why), 0);

    char t1[AUTH_TOKEN_LEN + 1], t2[AUTH_TOKEN_LEN + 1];
    assert_int_equal(auth_token_new('a', t1, sizeof(t1)), 0);
    assert_int_equal(auth_token_new('a', t2, sizeof(t2)), 0);
    assert_int_equal(strlen(t1), AUTH_TOKEN_LEN);
    assert_memory_equal(t1, "bna_", 4);
    assert_string_not_equal(t1, t2);
    assert_int_equal(auth_token_new('x', t1, sizeof(t1)), BN_EINVAL);
    char hex[AUTH_HASH_HEX_LEN + 1];
    auth_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    struct auth_principal p = {.tenant_id = 0, .role = STORE_ROLE_ANALYST};
    assert_true(auth_tenant_allowed(&p, 7));
    p.tenant_id = 3;
    p.role = STORE_ROLE_CUSTOMER_ADMIN;
    assert_true(auth_tenant_allowed(&p, 3));
    assert_false(auth_tenant_allowed(&p, 7));
    assert_false(auth_tenant_allowed(&p, 0));
}

/* ---- against a running server --------------------------------------------------------- */

static json_t *
call(struct tenv *e, const char *method, const char *path, const char *tok, const char *body,
     long want)
{
    struct tresp r;
    assert_int_equal(tenv_http(e, method, path, tok, body, body ? strlen(body) : 0, &r), 0);
    if (r.status != want)
        fprintf(stderr, "%s %s: want %ld, got %ld: %s\n", method, path, want, r.status, r.body);
    assert_int_equal(r.status, want);
    json_t *j = json_loads(r.body, 0, NULL);
    if (!j)
        j = json_string(r.body);
    free(r.body);
    return j;
}

static const char *
err_code(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

static uint64_t
metric(struct tenv *e, enum mgr_metric m)
{
    return mgr_metric_get(&e->metrics, m);
}

static void
test_login_logout(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    json_t *j = call(&e, "POST", "/api/v1/auth/login", NULL,
                     "{\"username\":\"ca_a\",\"password\":\"" TENV_PASSWORD "\"}", 200);
    const char *tok = json_string_value(json_object_get(j, "token"));
    assert_non_null(tok);
    char session[128];
    snprintf(session, sizeof(session), "%s", tok);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "user"), "role")),
                        "customer_admin");
    json_decref(j);

    j = call(&e, "GET", "/api/v1/me", session, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(j, "username")), "ca_a");
    json_decref(j);

    /* Only the SHA-256 of the session is stored: the token itself is nowhere in the DB. */
    char dbpath[128];
    snprintf(dbpath, sizeof(dbpath), "%s/bannin.db", e.dir);
    FILE *f = fopen(dbpath, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_null(memmem(buf, n, session, strlen(session)));

    uint64_t auth_failed = metric(&e, MGR_M_API_AUTH_FAILED);
    j = call(&e, "POST", "/api/v1/auth/login", NULL,
             "{\"username\":\"ca_a\",\"password\":\"wrong-password-123\"}", 401);
    assert_string_equal(err_code(j), "unauthorized");
    json_decref(j);
    j = call(&e, "POST", "/api/v1/auth/login", NULL,
             "{\"username\":\"nobody\",\"password\":\"wrong-password-123\"}", 401);
    json_decref(j);
    assert_int_equal(metric(&e, MGR_M_API_AUTH_FAILED), auth_failed + 2);

    /* An expired token is refused. */
    char old_tok[AUTH_TOKEN_LEN + 1], old_hash[AUTH_HASH_HEX_LEN + 1];
    int64_t old_id;
    assert_int_equal(auth_token_new('s', old_tok, sizeof(old_tok)), 0);
    auth_sha256_hex(old_tok, strlen(old_tok), old_hash);
    assert_int_equal(store_auth_create(e.st, STORE_AUTH_SESSION, e.uid[T_PA], old_hash, "",
                                       tenv_now() - 7200000000000LL,
                                       tenv_now() - 3600000000000LL, &old_id),
                     0);
    j = call(&e, "GET", "/api/v1/me", old_tok, NULL, 401);
    json_decref(j);

    /* Five wrong passwords for a user hold its logins back, even with the right one. */
    for (int k = 0; k < 5; k++) {
        j = call(&e, "POST", "/api/v1/auth/login", NULL,
                 "{\"username\":\"cv_b\",\"password\":\"guess-guess-guess\"}", 401);
        json_decref(j);
    }
    j = call(&e, "POST", "/api/v1/auth/login", NULL,
             "{\"username\":\"cv_b\",\"password\":\"" TENV_PASSWORD "\"}", 429);
    assert_string_equal(err_code(j), "too_many_attempts");
    json_decref(j);

    j = call(&e, "POST", "/api/v1/auth/logout", session, NULL, 200);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/me", session, NULL, 401);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/me", "bna_not-a-real-token", NULL, 401);
    json_decref(j);

    /* A disabled user's tokens stop working at once. */
    char tok2[128];
    assert_int_equal(tenv_token(&e, e.uid[T_CV_A], tok2, sizeof(tok2)), 0);
    j = call(&e, "GET", "/api/v1/me", tok2, NULL, 200);
    json_decref(j);
    char admin[128], path[64];
    assert_int_equal(tenv_token(&e, e.uid[T_CA_A], admin, sizeof(admin)), 0);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", (long long)e.uid[T_CV_A]);
    j = call(&e, "PATCH", path, admin, "{\"disabled\":true}", 200);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/me", tok2, NULL, 401);
    json_decref(j);

    /* An API token created through the API works and can be revoked by its owner. */
    j = call(&e, "POST", "/api/v1/tokens", admin, "{\"name\":\"ci\",\"expires_in_s\":3600}", 201);
    char api_tok[128];
    snprintf(api_tok, sizeof(api_tok), "%s", json_string_value(json_object_get(j, "token")));
    json_int_t tid = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    j = call(&e, "GET", "/api/v1/me", api_tok, NULL, 200);
    assert_true(json_is_true(json_object_get(j, "via_api_token")));
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/tokens/%lld", (long long)tid);
    j = call(&e, "DELETE", path, admin, NULL, 200);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/me", api_tok, NULL, 401);
    json_decref(j);
    tenv_teardown(&e);
}

static void
test_bad_bodies_counted(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    char tok[128];
    assert_int_equal(tenv_token(&e, e.uid[T_PA], tok, sizeof(tok)), 0);
    uint64_t bad = metric(&e, MGR_M_API_BAD_BODY);

    json_t *j = call(&e, "POST", "/api/v1/tenants", tok, "{\"name\": \"x\",", 400);
    assert_string_equal(err_code(j), "invalid_json");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(j, "error"),
                                                             "message")),
                            "body:1:"));
    json_decref(j);
    j = call(&e, "POST", "/api/v1/tenants", tok, "{\"name\":\"x\",\"colour\":\"red\"}", 400);
    assert_string_equal(err_code(j), "unknown_field");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "field")), "colour");
    json_decref(j);
    j = call(&e, "POST", "/api/v1/tenants", tok, "{\"name\":\"x\",\"notify_min_severity\":9}",
             400);
    assert_string_equal(err_code(j), "invalid_field");
    json_decref(j);
    j = call(&e, "POST", "/api/v1/tenants", tok, "{}", 400);
    assert_string_equal(err_code(j), "missing_field");
    json_decref(j);
    j = call(&e, "POST", "/api/v1/tenants", tok, NULL, 400);
    json_decref(j);

    /* Over the 1 MiB limit: refused before the body is parsed. */
    size_t big = BN_API_BODY_MAX + 10;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    struct tresp r;
    assert_int_equal(tenv_http(&e, "POST", "/api/v1/tenants", tok, body, big, &r), 0);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "body_too_large"));
    free(r.body);
    /* Without credentials the same body is refused on the headers (401), not buffered. */
    assert_int_equal(tenv_http(&e, "POST", "/api/v1/rules", NULL, body, big, &r), 0);
    assert_int_equal(r.status, 401);
    free(r.body);
    free(body);
    assert_int_equal(metric(&e, MGR_M_API_BAD_BODY), bad + 6);

    /* The counters are on /metrics. */
    j = call(&e, "GET", "/metrics", tok, NULL, 200);
    const char *text = json_string_value(j);
    assert_non_null(text);
    char want[64];
    snprintf(want, sizeof(want), "bannin_api_bad_body_total %llu",
             (unsigned long long)(bad + 6));
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "# TYPE bannin_ingest_events_total counter"));
    assert_non_null(strstr(text, "bannin_store_disk_full 0"));
    json_decref(j);

    j = call(&e, "GET", "/api/v1/nope", tok, NULL, 404);
    json_decref(j);
    j = call(&e, "PUT", "/api/v1/tenants", tok, "{}", 405);
    assert_string_equal(err_code(j), "method_not_allowed");
    json_decref(j);
    j = call(&e, "GET", "/api/v1/agents?limit=x", tok, NULL, 200); /* unknown arg: ignored */
    json_decref(j);
    j = call(&e, "GET", "/api/v1/alerts?limit=0", tok, NULL, 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "field")), "limit");
    json_decref(j);
    j = call(&e, "GET", "/api/v1/events?from=yesterday", tok, NULL, 400);
    json_decref(j);
    tenv_teardown(&e);
}

static void
test_no_escalation(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    char ca[128], an[128], pa[128], path[128], body[512];
    assert_int_equal(tenv_token(&e, e.uid[T_CA_A], ca, sizeof(ca)), 0);
    assert_int_equal(tenv_token(&e, e.uid[T_AN], an, sizeof(an)), 0);
    assert_int_equal(tenv_token(&e, e.uid[T_PA], pa, sizeof(pa)), 0);

    /* A customer admin cannot create provider users, nor users of another tenant. */
    json_t *j = call(&e, "POST", "/api/v1/users", ca,
                     "{\"username\":\"evil\",\"password\":\"long-enough-pass\",\"role\":"
                     "\"provider_admin\"}",
                     403);
    json_decref(j);
    snprintf(body, sizeof(body),
             "{\"username\":\"evil2\",\"password\":\"long-enough-pass\",\"role\":"
             "\"customer_admin\",\"tenant_id\":%lld}",
             (long long)e.tenant_b);
    j = call(&e, "POST", "/api/v1/users", ca, body, 403);
    json_decref(j);
    /* ... nor promote anyone (itself included) to a provider role. */
    snprintf(path, sizeof(path), "/api/v1/users/%lld", (long long)e.uid[T_CV_A]);
    j = call(&e, "PATCH", path, ca, "{\"role\":\"analyst\"}", 403);
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", (long long)e.uid[T_CA_A]);
    j = call(&e, "PATCH", path, ca, "{\"role\":\"provider_admin\"}", 403);
    json_decref(j);
    /* ... nor touch provider users (not even visible). */
    snprintf(path, sizeof(path), "/api/v1/users/%lld", (long long)e.uid[T_PA]);
    j = call(&e, "PATCH", path, ca, "{\"disabled\":true}", 404);
    json_decref(j);
    j = call(&e, "DELETE", path, ca, NULL, 404);
    json_decref(j);
    /* Weak passwords are refused, and the user cannot delete itself. */
    j = call(&e, "POST", "/api/v1/users", ca,
             "{\"username\":\"weak\",\"password\":\"short\",\"role\":\"customer_viewer\"}", 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "field")), "password");
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", (long long)e.uid[T_CA_A]);
    j = call(&e, "DELETE", path, ca, NULL, 409);
    json_decref(j);
    j = call(&e, "PATCH", path, ca, "{\"disabled\":true}", 409);
    json_decref(j);
    j = call(&e, "PATCH", path, ca, "{\"role\":\"customer_viewer\"}", 409);
    json_decref(j);
    j = call(&e, "PATCH", path, ca, "{\"password\":\"a-new-long-password\"}", 403);
    json_decref(j);
    j = call(&e, "PATCH", path, ca,
             "{\"password\":\"a-new-long-password\",\"current_password\":\"wrong-one-123\"}",
             403);
    json_decref(j);
    /* A session of ca_a opened before the change ends with it; the caller's own goes on. */
    j = call(&e, "POST", "/api/v1/auth/login", NULL,
             "{\"username\":\"ca_a\",\"password\":\"" TENV_PASSWORD "\"}", 200);
    char other[128];
    snprintf(other, sizeof(other), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    j = call(&e, "PATCH", path, ca,
             "{\"password\":\"a-new-long-password\",\"current_password\":\"" TENV_PASSWORD
             "\"}",
             200);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/me", other, NULL, 401);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/me", ca, NULL, 200);
    json_decref(j);
    j = call(&e, "POST", "/api/v1/auth/login", NULL,
             "{\"username\":\"ca_a\",\"password\":\"a-new-long-password\"}", 200);
    json_decref(j);
    /* A customer admin creates a viewer of its own tenant without naming it. */
    j = call(&e, "POST", "/api/v1/users", ca,
             "{\"username\":\"viewer2\",\"password\":\"long-enough-pass\",\"role\":"
             "\"customer_viewer\"}",
             201);
    assert_int_equal(json_integer_value(json_object_get(j, "tenant_id")), e.tenant_a);
    json_decref(j);
    /* Analysts do no user or tenant administration. */
    j = call(&e, "GET", "/api/v1/users", an, NULL, 403);
    json_decref(j);
    j = call(&e, "POST", "/api/v1/tenants", an, "{\"name\":\"t\"}", 403);
    json_decref(j);
    /* The provider admin sees both tenants; a customer only its own. */
    j = call(&e, "GET", "/api/v1/tenants", pa, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/tenants", ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);

    /* Every state change above left an audit entry naming its actor. */
    j = call(&e, "GET", "/api/v1/audit", pa, NULL, 200);
    json_t *items = json_object_get(j, "items");
    int found = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (strcmp(json_string_value(json_object_get(it, "action")), "user.create") == 0 &&
            strstr(json_string_value(json_object_get(it, "actor")), "ca_a"))
            found = 1;
    }
    assert_true(found);
    json_decref(j);
    int64_t bad_id = 0;
    assert_int_equal(store_audit_verify(e.st, &bad_id), 0);
    tenv_teardown(&e);
}

static void
test_workflow(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    char an[128], ca[128], path[160], body[2048];
    assert_int_equal(tenv_token(&e, e.uid[T_AN], an, sizeof(an)), 0);
    assert_int_equal(tenv_token(&e, e.uid[T_CA_A], ca, sizeof(ca)), 0);
    int64_t now = tenv_now();
    char *dump;

    /* An incident of tenant A with one alert. */
    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.tenant_id = e.tenant_a;
    snprintf(inc.title, sizeof(inc.title), "credential access on web1");
    inc.severity = 3;
    snprintf(inc.group_key, sizeof(inc.group_key), "web1");
    snprintf(inc.tactics, sizeof(inc.tactics), "execution,credential_access");
    inc.first_ns = inc.last_ns = inc.created_ns = now - 60000000000LL;
    inc.notified_severity = -1;
    int64_t iid, aid;
    assert_int_equal(store_incident_create(e.st, &inc, &iid), 0);
    struct store_alert al;
    memset(&al, 0, sizeof(al));
    al.tenant_id = e.tenant_a;
    snprintf(al.rule_id, sizeof(al.rule_id), "r-shadow");
    snprintf(al.rule_title, sizeof(al.rule_title), "shadow read");
    al.level = 3;
    snprintf(al.dedupe_key, sizeof(al.dedupe_key), "k1");
    al.count = 1;
    al.first_ns = al.last_ns = now - 50000000000LL;
    al.event_ts_ns = now - 51000000000LL;
    al.incident_id = iid;
    snprintf(al.host, sizeof(al.host), "web1");
    snprintf(al.source, sizeof(al.source), "central");
    al.json = "{\"CommandLine\":\"cat /etc/shadow\"}";
    int merged;
    assert_int_equal(store_alert_upsert(e.st, &al, 0, &aid, &merged), 0);
    struct store_scope all = {.all = 1};
    assert_int_equal(store_alert_set_incident(e.st, &all, aid, iid), 0);

    /* Status and assignee; MTTA is stamped by the first move out of "new". */
    snprintf(path, sizeof(path), "/api/v1/incidents/%lld", (long long)iid);
    snprintf(body, sizeof(body), "{\"status\":\"acknowledged\",\"assignee_id\":%lld}",
             (long long)e.uid[T_AN]);
    json_t *j = call(&e, "PATCH", path, an, body, 200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "acknowledged");
    assert_int_equal(json_integer_value(json_object_get(j, "assignee_id")), e.uid[T_AN]);
    assert_false(json_is_null(json_object_get(j, "acknowledged_at")));
    json_decref(j);
    /* A user of tenant B cannot be assigned A's incident. */
    snprintf(body, sizeof(body), "{\"assignee_id\":%lld}", (long long)e.uid[T_CA_B]);
    j = call(&e, "PATCH", path, an, body, 400);
    json_decref(j);
    j = call(&e, "PATCH", path, an, "{\"status\":\"closed\"}", 400);
    json_decref(j);

    snprintf(path, sizeof(path), "/api/v1/incidents/%lld/notes", (long long)iid);
    j = call(&e, "POST", path, ca, "{\"text\":\"rotated the root password\"}", 201);
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/incidents/%lld", (long long)iid);
    j = call(&e, "GET", path, ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "notes")), 1);
    assert_int_equal(json_array_size(json_object_get(j, "tactics")), 2);
    assert_true(json_array_size(json_object_get(j, "hosts")) >= 1);
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/incidents/%lld/timeline", (long long)iid);
    j = call(&e, "GET", path, ca, NULL, 200);
    json_t *first = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "kind")), "alert");
    assert_string_equal(json_string_value(json_object_get(first, "rule_id")), "r-shadow");
    json_decref(j);
    j = call(&e, "GET", "/api/v1/incidents?status=open", ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);

    /* Suppression from the alert in one call. */
    snprintf(path, sizeof(path), "/api/v1/alerts/%lld/suppress", (long long)aid);
    j = call(&e, "POST", path, ca, "{\"reason\":\"admin's nightly audit\",\"expires_in_s\":600}",
             201);
    assert_string_equal(json_string_value(json_object_get(j, "rule_id")), "r-shadow");
    assert_string_equal(json_string_value(json_object_get(j, "host")), "web1");
    json_decref(j);
    j = call(&e, "GET", "/api/v1/suppressions", ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);

    /* Rule upload: validated by the Sigma parser and compiler, errors with line:column. */
    j = call(&e, "POST", "/api/v1/rules", an,
             "{\"yaml\":\"title: t\\nid: bad-rule-1\\nlogsource: {product: linux}\\n"
             "detection:\\n  sel:\\n    Image|endswith: /nc\\n  condition: sel and nope\\n\"}",
             422);
    assert_string_equal(err_code(j), "invalid_rule");
    json_decref(j);
    j = call(&e, "POST", "/api/v1/rules", an,
             "{\"yaml\":\"title: netcat\\nid: good-rule-1\\nlevel: high\\nlogsource: {product: "
             "linux, category: process_creation}\\ndetection:\\n  sel:\\n    Image|endswith: "
             "/nc\\n  condition: sel\\n\"}",
             201);
    assert_string_equal(json_string_value(json_object_get(j, "rule_id")), "good-rule-1");
    json_decref(j);
    assert_true(atomic_load(&e.changed) & API_CHANGE_RULES);
    j = call(&e, "PATCH", "/api/v1/rules/good-rule-1", ca, "{\"enabled\":false}", 200);
    assert_true(atomic_load(&e.changed) & API_CHANGE_RULE_STATE);
    assert_int_equal(json_integer_value(json_object_get(j, "tenant_id")), e.tenant_a);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/rules", ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "states")), 1);
    json_decref(j);

    /* Shipped rules show their effective state: the tenant's row, else the all-tenants row. */
    j = call(&e, "GET", "/api/v1/rules?q=NETCAT", ca, NULL, 200);
    json_t *rl = json_array_get(json_object_get(j, "rules"), 0);
    assert_string_equal(json_string_value(json_object_get(rl, "rule_id")), "shipped-rule-1");
    assert_string_equal(json_string_value(json_object_get(rl, "level")), "high");
    assert_true(json_is_true(json_object_get(rl, "enabled")));
    json_decref(j);
    j = call(&e, "GET", "/api/v1/rules?q=no-such-rule", ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "rules")), 0);
    json_decref(j);
    j = call(&e, "PATCH", "/api/v1/rules/shipped-rule-1", an, "{\"enabled\":false}", 200);
    assert_int_equal(json_integer_value(json_object_get(j, "tenant_id")), 0);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/rules", ca, NULL, 200);
    rl = json_array_get(json_object_get(j, "rules"), 0);
    assert_false(json_is_true(json_object_get(rl, "enabled")));
    json_decref(j);
    j = call(&e, "PATCH", "/api/v1/rules/shipped-rule-1", ca, "{\"enabled\":true}", 200);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/rules", ca, NULL, 200);
    rl = json_array_get(json_object_get(j, "rules"), 0);
    assert_true(json_is_true(json_object_get(rl, "enabled")));
    json_decref(j);
    j = call(&e, "GET", "/api/v1/rules", an, NULL, 200); /* all-tenants view */
    rl = json_array_get(json_object_get(j, "rules"), 0);
    assert_false(json_is_true(json_object_get(rl, "enabled")));
    json_decref(j);

    /* IOC import from CSV and from a STIX bundle; skips are counted. */
    j = call(&e, "POST", "/api/v1/ioc-lists", ca,
             "{\"name\":\"feed\",\"format\":\"csv\",\"content\":\"type,value\\nip,203.0.113.7\\n"
             "domain,Evil.Example.\\nsha256,E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495"
             "991B7852B855\\nip,10.0.0.0/8\\nbogus,1\\n\"}",
             201);
    assert_int_equal(json_integer_value(json_object_get(j, "entries")), 4);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "skipped"), "type")), 1);
    json_int_t lid = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/ioc-lists/%lld/entries", (long long)lid);
    j = call(&e, "GET", path, ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 4);
    dump = json_dumps(j, 0);
    assert_non_null(strstr(dump, "\"evil.example\""));
    assert_non_null(strstr(dump, "10.0.0.0/8"));
    free(dump);
    json_decref(j);
    j = call(&e, "POST", "/api/v1/ioc-lists", ca,
             "{\"name\":\"stix\",\"format\":\"stix\",\"content\":\"{\\\"type\\\":\\\"bundle\\\","
             "\\\"id\\\":\\\"bundle--1\\\",\\\"objects\\\":[{\\\"type\\\":\\\"indicator\\\","
             "\\\"spec_version\\\":\\\"2.1\\\",\\\"id\\\":\\\"indicator--1\\\",\\\"pattern\\\":"
             "\\\"[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'bad.example']\\\","
             "\\\"pattern_type\\\":\\\"stix\\\",\\\"valid_from\\\":\\\"2024-01-01T00:00:00Z\\\"}"
             "]}\"}",
             201);
    assert_int_equal(json_integer_value(json_object_get(j, "entries")), 2);
    json_decref(j);
    assert_true(atomic_load(&e.changed) & API_CHANGE_IOC);
    j = call(&e, "POST", "/api/v1/ioc-lists", ca,
             "{\"name\":\"bad\",\"format\":\"stix\",\"content\":\"not json\"}", 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "field")), "content");
    json_decref(j);
    /* Customers cannot create global lists: tenant 0 becomes their own tenant or is refused. */
    j = call(&e, "POST", "/api/v1/ioc-lists", ca,
             "{\"name\":\"g\",\"tenant_id\":0,\"format\":\"entries\",\"entries\":[{\"type\":"
             "\"ip\",\"value\":\"192.0.2.1\"}]}",
             201);
    assert_int_equal(json_integer_value(json_object_get(j, "tenant_id")), e.tenant_a);
    json_decref(j);

    /* Enrolment token: shown once, listed without the secret. */
    j = call(&e, "POST", "/api/v1/enrollment-tokens", ca, "{\"uses\":2}", 201);
    const char *et = json_string_value(json_object_get(j, "token"));
    assert_non_null(et);
    char secret[128];
    snprintf(secret, sizeof(secret), "%s", et);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/enrollment-tokens", ca, NULL, 200);
    dump = json_dumps(j, 0);
    assert_null(strstr(dump, secret));
    free(dump);
    json_decref(j);
    /* The token pins the server CA and carries the secret whose hash the store keeps. */
    char hash[ENROLL_FP_HEX], fp[ENROLL_FP_HEX], server_fp[ENROLL_FP_HEX];
    assert_int_equal(enroll_token_parse(secret, strlen(secret), hash, fp), 0);
    assert_int_equal(enroll_server_fp_read(e.dir, server_fp), 0);
    assert_string_equal(fp, server_fp);
    int64_t tenant = 0;
    assert_int_equal(store_token_consume(e.st, hash, tenv_now(), &tenant), 0);
    assert_int_equal(tenant, e.tenant_a);

    /* SOC metrics: the alert came 1 s after its event (MTTD), the incident was acknowledged
     * about 60 s after it opened (MTTA), and it is not resolved (no MTTR yet). */
    j = call(&e, "GET", "/api/v1/soc-metrics?per_rule=1", an, NULL, 200);
    json_t *items = json_object_get(j, "items");
    json_t *tot = NULL, *per = NULL;
    size_t k;
    json_t *row;
    json_array_foreach(items, k, row) {
        if (json_integer_value(json_object_get(row, "tenant_id")) != e.tenant_a)
            continue;
        if (json_is_null(json_object_get(row, "rule_id")) || !json_object_get(row, "rule_id"))
            tot = row;
        else if (strcmp(json_string_value(json_object_get(row, "rule_id")), "r-shadow") == 0)
            per = row;
    }
    assert_non_null(tot);
    assert_non_null(per);
    json_t *mttd = json_object_get(tot, "mttd"), *mtta = json_object_get(tot, "mtta");
    assert_true(json_integer_value(json_object_get(mttd, "n")) >= 1);
    double d = json_real_value(json_object_get(mttd, "avg_s"));
    assert_true(d > 0.5 && d < 1.5);
    assert_int_equal(json_integer_value(json_object_get(mtta, "n")), 1);
    double a = json_real_value(json_object_get(mtta, "avg_s"));
    assert_true(a > 50 && a < 120);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(tot, "mttr"), "n")), 0);
    json_decref(j);
    tenv_teardown(&e);
}

static void
test_event_search(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    char ca[128], cvb[128], an[128];
    assert_int_equal(tenv_token(&e, e.uid[T_CA_A], ca, sizeof(ca)), 0);
    assert_int_equal(tenv_token(&e, e.uid[T_CV_B], cvb, sizeof(cvb)), 0);
    assert_int_equal(tenv_token(&e, e.uid[T_AN], an, sizeof(an)), 0);
    struct store_agent ag;
    memset(&ag, 0, sizeof(ag));
    ag.tenant_id = e.tenant_a;
    snprintf(ag.uid, sizeof(ag.uid), "search-agent");
    snprintf(ag.hostname, sizeof(ag.hostname), "web1");
    snprintf(ag.cert_fp, sizeof(ag.cert_fp), "fp-search");
    ag.enrolled_ns = tenv_now();
    int64_t agent;
    assert_int_equal(store_agent_create(e.st, &ag, &agent), 0);

    /* 25 process events, every fifth one running curl. */
    static char js[25][256];
    struct store_event ev[25];
    int64_t t0 = 1700000000LL * 1000000000LL;
    for (int i = 0; i < 25; i++) {
        memset(&ev[i], 0, sizeof(ev[i]));
        snprintf(js[i], sizeof(js[i]),
                 "{\"EventID\":1,\"Image\":\"/usr/bin/%s\",\"CommandLine\":\"%s %d\","
                 "\"User\":\"root\",\"Computer\":\"web1\"}",
                 i % 5 == 0 ? "curl" : "ls", i % 5 == 0 ? "curl" : "ls", i);
        ev[i].tenant_id = e.tenant_a;
        ev[i].agent_id = agent;
        ev[i].seq = i + 1;
        ev[i].ts_ns = t0 + (int64_t)i * 1000000000LL;
        ev[i].received_ns = ev[i].ts_ns + 1000000;
        ev[i].event_id = 1;
        ev[i].host = "web1";
        ev[i].image = i % 5 == 0 ? "/usr/bin/curl" : "/usr/bin/ls";
        ev[i].user = "root";
        ev[i].json = js[i];
        ev[i].json_len = strlen(js[i]);
    }
    size_t ins, dups;
    assert_int_equal(store_begin(e.st), 0);
    assert_int_equal(store_events_insert(e.st, ev, 25, &ins, &dups), 0);
    assert_int_equal(store_commit(e.st), 0);
    assert_int_equal(ins, 25);

    json_t *j = call(&e, "GET", "/api/v1/events?host=web1&image=curl", ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 5);
    json_t *first = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(first, "event"), "CommandLine")),
                        "curl 20"); /* newest first */
    json_decref(j);
    j = call(&e, "GET", "/api/v1/events?field.CommandLine=ls%203", ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/events?contains.CommandLine=curl&from=1700000005&to=1700000016",
             ca, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 3); /* curl 5, 10, 15 */
    json_decref(j);

    /* Paging: 25 events in pages of 10 come back whole, once each. */
    char path[256] = "/api/v1/events?limit=10";
    int seen = 0, pages = 0;
    for (;;) {
        j = call(&e, "GET", path, an, NULL, 200);
        seen += (int)json_array_size(json_object_get(j, "items"));
        pages++;
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        if (!next) {
            json_decref(j);
            break;
        }
        snprintf(path, sizeof(path), "/api/v1/events?limit=10&cursor=%s", next);
        json_decref(j);
        assert_true(pages < 10);
    }
    assert_int_equal(seen, 25);

    /* Tenant B sees none of it, and may not ask for tenant A. */
    j = call(&e, "GET", "/api/v1/events?host=web1", cvb, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/events?tenant_id=%lld", (long long)e.tenant_a);
    j = call(&e, "GET", path, cvb, NULL, 403);
    json_decref(j);
    j = call(&e, "GET", "/api/v1/events?cursor=garbage", ca, NULL, 400);
    json_decref(j);
    tenv_teardown(&e);
}

/* Every allocation of a request, in turn, fails: the server answers 5xx or drops the
 * connection, never crashes or leaks, and serves the next request normally. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    char tok[128];
    assert_int_equal(tenv_token(&e, e.uid[T_CA_A], tok, sizeof(tok)), 0);
    static const char *const paths[][3] = {
        {"GET", "/api/v1/incidents", NULL},
        {"POST", "/api/v1/tokens", "{\"name\":\"alloc\"}"},
        {"GET", "/metrics", NULL},
    };
    for (size_t p = 0; p < BN_ARRAY_SIZE(paths); p++) {
        const char *t = p == 2 ? NULL : tok;
        char pa[128];
        if (p == 2) {
            assert_int_equal(tenv_token(&e, e.uid[T_PA], pa, sizeof(pa)), 0);
            t = pa;
        }
        int ok_at = 0;
        for (unsigned long n = 1; n < 400 && !ok_at; n++) {
            struct tresp r;
            bn_alloc_fail_after(n);
            int rc = tenv_http(&e, paths[p][0], paths[p][1], t, paths[p][2],
                               paths[p][2] ? strlen(paths[p][2]) : 0, &r);
            bn_alloc_fail_after(0);
            if (rc == 0 && r.status >= 200 && r.status < 300)
                ok_at = (int)n;
            else if (rc == 0 && !(r.status >= 500 || r.status == 401))
                fail_msg("allocation %lu failing: %s %s answered %ld %s", n, paths[p][0],
                         paths[p][1], r.status, r.body);
            free(r.body);
            /* the server is still fine */
            assert_int_equal(tenv_http(&e, "GET", "/api/v1/health", NULL, NULL, 0, &r), 0);
            assert_int_equal(r.status, 200);
            free(r.body);
        }
        assert_true(ok_at > 0);
    }
    tenv_teardown(&e);
}

/* "Send test" delivers at once to a real loopback webhook, and reports a refusal. */
static void
test_channel_send_test(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    struct http_peer h;
    assert_int_equal(http_peer_start(&h, 0, 200), 0);
    char ca[128], cv[128], body[512], path[128];
    assert_int_equal(tenv_token(&e, e.uid[T_CA_A], ca, sizeof(ca)), 0);
    assert_int_equal(tenv_token(&e, e.uid[T_CV_A], cv, sizeof(cv)), 0);
    snprintf(body, sizeof(body),
             "{\"name\":\"soc\",\"type\":\"webhook\",\"config\":{\"url\":"
             "\"http://127.0.0.1:%d/hook\"}}",
             h.port);
    json_t *j = call(&e, "POST", "/api/v1/channels", ca, body, 201);
    json_int_t cid = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/channels/%lld/test", (long long)cid);
    j = call(&e, "POST", path, ca, NULL, 200);
    assert_true(json_is_true(json_object_get(j, "delivered")));
    json_decref(j);
    assert_int_equal(http_peer_count(&h), 1);
    pthread_mutex_lock(&h.mu);
    assert_non_null(h.reqs[0].body);
    assert_non_null(strstr(h.reqs[0].body, "\"test\""));
    pthread_mutex_unlock(&h.mu);
    /* The channel refuses: 502 with its answer; viewers may not send tests. */
    atomic_store(&h.status, 503);
    j = call(&e, "POST", path, ca, NULL, 502);
    assert_string_equal(err_code(j), "delivery_failed");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(j, "error"),
                                                             "message")),
                           "503"));
    json_decref(j);
    j = call(&e, "POST", path, cv, NULL, 403);
    json_decref(j);
    http_peer_stop(&h);
    http_peer_free(&h);
    tenv_teardown(&e);
}

/* ---- concurrent clients --------------------------------------------------------------- */

struct conc {
    struct tenv *e;
    char tok[128];
    int errors;
    int n;
};

static void *
conc_main(void *arg)
{
    struct conc *c = arg;
    for (int i = 0; i < c->n; i++) {
        struct tresp r;
        const char *path = i % 3 == 0 ? "/api/v1/me" : i % 3 == 1 ? "/api/v1/tenants"
                                                                  : "/api/v1/incidents";
        if (tenv_http(c->e, "GET", path, c->tok, NULL, 0, &r) < 0 || r.status != 200)
            c->errors++;
        free(r.body);
        if (i % 10 == 0) {
            char body[128];
            snprintf(body, sizeof(body), "{\"name\":\"t-%p-%d\"}", (void *)c, i);
            if (tenv_http(c->e, "POST", "/api/v1/tokens", c->tok, body, strlen(body), &r) < 0 ||
                r.status != 201)
                c->errors++;
            free(r.body);
        }
    }
    return NULL;
}

static void
test_concurrent_clients(void **state)
{
    (void)state;
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    struct conc c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        c[i].e = &e;
        c[i].n = 60;
        assert_int_equal(tenv_token(&e, e.uid[i], c[i].tok, sizeof(c[i].tok)), 0);
        assert_int_equal(pthread_create(&th[i], NULL, conc_main, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].errors, 0);
    }
    assert_true(mgr_metric_get(&e.metrics, MGR_M_API_REQUESTS) >= 4 * 66);
    assert_int_equal(mgr_metric_get(&e.metrics, MGR_M_API_5XX), 0);
    tenv_teardown(&e);
}

/* ---- the `bannin api` client against the same server ---------------------------------- */

static char cli_path[4096];

/* Runs `bannin api ARGS` with env assignments; returns the exit status, output in out. */
static int
cli(const char *env, const char *args, char *out, size_t size)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s '%s' api %s 2>&1", env, cli_path, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_cli(void **state)
{
    (void)state;
    if (access(cli_path, X_OK) != 0) {
        fprintf(stderr, "skipping: no bannin binary at '%s'\n", cli_path);
        skip();
    }
    struct tenv e;
    assert_int_equal(tenv_setup(&e), 0);
    char pa[128], cv[128], env[1024], out[65536], args[1024];
    assert_int_equal(tenv_token(&e, e.uid[T_PA], pa, sizeof(pa)), 0);
    assert_int_equal(tenv_token(&e, e.uid[T_CV_A], cv, sizeof(cv)), 0);

    snprintf(env, sizeof(env), "BANNIN_SERVER=%s BANNIN_TOKEN=%s", e.base, pa);
    assert_int_equal(cli(env, "tenants list", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "tenant-b"));
    assert_non_null(strstr(out, "retention_days"));
    assert_int_equal(cli(env, "tenants create acme --mode full --notify-min 2", out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "\"acme\""));
    assert_int_equal(cli(env, "tenants create acme", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "409"));
    assert_int_equal(cli(env, "tenants create bad --notify-min 9", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "notify_min_severity"));

    /* Users: the new password comes from the environment, never argv. */
    char env2[1200];
    snprintf(env2, sizeof(env2), "%s BANNIN_NEW_PASSWORD=cli-user-password-1", env);
    snprintf(args, sizeof(args), "users create bob --role customer_admin --tenant %lld",
             (long long)e.tenant_a);
    assert_int_equal(cli(env2, args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"bob\""));
    assert_int_equal(cli(env, "users list", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "bob"));

    /* Login prints a session token usable as BANNIN_TOKEN. */
    snprintf(env2, sizeof(env2), "BANNIN_SERVER=%s BANNIN_PASSWORD=cli-user-password-1",
             e.base);
    assert_int_equal(cli(env2, "login bob", out, sizeof(out)), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_memory_equal(out, "bns_", 4);
    assert_true(strlen(out) < 100);
    char session[100];
    memcpy(session, out, strlen(out) + 1);
    snprintf(env2, sizeof(env2), "BANNIN_SERVER=%s BANNIN_TOKEN=%s", e.base, session);
    assert_int_equal(cli(env2, "whoami", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "customer_admin"));
    assert_int_equal(cli(env2, "enroll create --uses 3", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"token\": \"bnt1."));
    assert_int_equal(cli(env2, "enroll list", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "uses_left"));

    /* A viewer is refused administration, with the server's reason. */
    snprintf(env2, sizeof(env2), "BANNIN_SERVER=%s BANNIN_TOKEN=%s", e.base, cv);
    assert_int_equal(cli(env2, "tenants create nope", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "403 forbidden"));
    assert_int_equal(cli(env2, "--json incidents list", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"items\""));

    /* Rules: upload from a file, then disable. */
    char rule[128];
    snprintf(rule, sizeof(rule), "%s/rule.yml", e.dir);
    FILE *f = fopen(rule, "w");
    assert_non_null(f);
    fputs("title: curl to a raw IP\nid: cli-rule-1\nlevel: medium\nlogsource:\n  product: "
          "linux\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: "
          "/curl\n  condition: sel\n",
          f);
    fclose(f);
    snprintf(args, sizeof(args), "rules upload %s", rule);
    assert_int_equal(cli(env, args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "cli-rule-1"));
    assert_int_equal(cli(env, "rules disable cli-rule-1", out, sizeof(out)), 0);
    assert_int_equal(cli(env, "rules list", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "cli-rule-1"));
    assert_non_null(strstr(out, "shipped-rule-1"));
    assert_int_equal(cli(env, "rules list --search zzz", out, sizeof(out)), 0);
    assert_null(strstr(out, "shipped-rule-1"));
    assert_int_equal(cli(env, "agents list", out, sizeof(out)), 0);
    assert_int_equal(cli(env, "events search --host web1 --field CommandLine=x --limit 5", out,
                         sizeof(out)),
                     0);
    assert_non_null(strstr(out, "event_id"));
    assert_int_equal(cli(env, "events search --field broken", out, sizeof(out)), 2);
    assert_int_equal(cli(env, "audit list --limit 5", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "rule.disable"));
    assert_int_equal(cli(env, "raw GET /api/v1/health", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"ok\""));
    assert_int_equal(cli(env, "users get notanid", out, sizeof(out)), 2);
    assert_int_equal(cli("BANNIN_SERVER=http://127.0.0.1:1", "whoami", out, sizeof(out)), 2);
    tenv_teardown(&e);
}

int
main(int argc, char **argv)
{
    (void)argc;
    /* The bannin binary is built next to this test. */
    snprintf(cli_path, sizeof(cli_path), "%s", argv[0]);
    char *slash = strrchr(cli_path, '/');
    if (slash)
        snprintf(slash + 1, sizeof(cli_path) - (size_t)(slash + 1 - cli_path), "bannin");
    else
        snprintf(cli_path, sizeof(cli_path), "./bannin");
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_parse_limits), cmocka_unit_test(test_body_fields),
        cmocka_unit_test(test_auth_helpers),      cmocka_unit_test(test_login_logout),
        cmocka_unit_test(test_bad_bodies_counted), cmocka_unit_test(test_no_escalation),
        cmocka_unit_test(test_workflow),          cmocka_unit_test(test_event_search),
        cmocka_unit_test(test_channel_send_test),
        cmocka_unit_test(test_concurrent_clients), cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_cli),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
