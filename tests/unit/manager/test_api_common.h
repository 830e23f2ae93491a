/*
 * test_api_common.h - what the API tests share: a temporary data directory with tenants and
 * one user per role, a running API server, bearer tokens minted straight into the store, an
 * HTTP client (libcurl) and a YAML-to-JSON loader (libyaml) for docs/openapi.yaml.
 */
#ifndef TEST_API_COMMON_H
#define TEST_API_COMMON_H

#include <ftw.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <yaml.h>

#include "manager/api.h"
#include "manager/auth.h"
#include "manager/store.h"
#include "bannin/error.h"

enum {
    T_PA = 0,    /* provider_admin */
    T_AN,        /* analyst */
    T_CA_A,      /* customer_admin of tenant A */
    T_CV_A,      /* customer_viewer of tenant A */
    T_CA_B,      /* customer_admin of tenant B */
    T_CV_B,      /* customer_viewer of tenant B */
    T_USERS
};

struct tenv {
    char dir[64];
    struct store *st;
    struct api *api;
    struct mgr_metrics metrics;
    int64_t tenant_a, tenant_b;
    int64_t uid[T_USERS];
    char pwhash[192];
    char base[64];
    unsigned counter;
    _Atomic unsigned changed;     /* api_change bits reported by on_change */
};

static inline void
tenv_on_change(void *ctx, unsigned what)
{
    struct tenv *e = ctx;
    atomic_fetch_or(&e->changed, what);
}

static const char *const tenv_user_names[T_USERS] = {"pa", "an", "ca_a", "cv_a", "ca_b", "cv_b"};
static const int tenv_user_roles[T_USERS] = {STORE_ROLE_PROVIDER_ADMIN, STORE_ROLE_ANALYST,
                                             STORE_ROLE_CUSTOMER_ADMIN, STORE_ROLE_CUSTOMER_VIEWER,
                                             STORE_ROLE_CUSTOMER_ADMIN,
                                             STORE_ROLE_CUSTOMER_VIEWER};
#define TENV_PASSWORD "rbac-test-password-1"
#define TENV_MARK_A "zz-tenant-a-zz"

static inline int64_t
tenv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int
tenv_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline int
tenv_tenant(struct tenv *e, const char *name, int64_t *id)
{
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.notify_min_severity = 3;
    t.retention_days = 30;
    t.created_ns = tenv_now();
    return store_tenant_create(e->st, &t, id);
}

static inline int
tenv_user(struct tenv *e, const char *name, int role, int64_t tenant, int64_t *id)
{
    struct store_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", name);
    u.role = role;
    u.tenant_id = tenant;
    snprintf(u.pwhash, sizeof(u.pwhash), "%s", e->pwhash);
    u.created_ns = tenv_now();
    return store_user_create(e->st, &u, id);
}

/* Sets up the directory, tenants A and B, one user per role, and starts the API. */
static inline int
tenv_setup(struct tenv *e)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/bn-api-test-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    struct store_err err;
    int rc = store_open(&e->st, e->dir, &err);
    if (rc < 0) {
        fprintf(stderr, "store_open: %s\n", err.msg);
        return rc;
    }
    /* One Argon2id hash shared by all test users: hashing is deliberately slow. */
    if ((rc = auth_password_hash(TENV_PASSWORD, e->pwhash, sizeof(e->pwhash))) < 0 ||
        (rc = tenv_tenant(e, "tenant-" TENV_MARK_A, &e->tenant_a)) < 0 ||
        (rc = tenv_tenant(e, "tenant-b", &e->tenant_b)) < 0)
        return rc;
    for (int i = 0; i < T_USERS; i++) {
        int64_t tid = i < T_CA_A ? 0 : i < T_CA_B ? e->tenant_a : e->tenant_b;
        if ((rc = tenv_user(e, tenv_user_names[i], tenv_user_roles[i], tid, &e->uid[i])) < 0)
            return rc;
    }
    /* One shipped rule for GET /api/v1/rules. */
    char rdir[128], rfile[160];
    snprintf(rdir, sizeof(rdir), "%s/shipped", e->dir);
    snprintf(rfile, sizeof(rfile), "%s/r1.yml", rdir);
    FILE *rf = mkdir(rdir, 0700) == 0 ? fopen(rfile, "w") : NULL;
    if (!rf)
        return -1;
    fputs("title: Shipped netcat listener\nid: shipped-rule-1\nlevel: high\n"
          "tags: [attack.command_and_control]\nlogsource: {product: linux, category: "
          "process_creation}\ndetection:\n  sel:\n    Image|endswith: /nc\n  condition: sel\n",
          rf);
    fclose(rf);
    const char *rule_paths[] = {rdir};
    struct api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rule_paths = rule_paths;
    cfg.nrule_paths = 1;
    cfg.data_dir = e->dir;
    cfg.listen_host = "127.0.0.1";
    cfg.port = 0;
    cfg.threads = 2;
    cfg.metrics = &e->metrics;
    cfg.on_change = tenv_on_change;
    cfg.on_change_ctx = e;
    if ((rc = api_start(&cfg, &e->api)) < 0)
        return rc;
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", (unsigned)api_port(e->api));
    return 0;
}

static inline void
tenv_teardown(struct tenv *e)
{
    api_stop(e->api);
    store_close(e->st);
    if (e->dir[0])
        nftw(e->dir, tenv_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Mints a fresh API token for user uid straight into the store. */
static inline int
tenv_token(struct tenv *e, int64_t uid, char *tok, size_t size)
{
    char hash[AUTH_HASH_HEX_LEN + 1];
    int rc = auth_token_new('a', tok, size);
    if (rc < 0)
        return rc;
    auth_sha256_hex(tok, strlen(tok), hash);
    int64_t id;
    return store_auth_create(e->st, STORE_AUTH_API_TOKEN, uid, hash, "test", tenv_now(), 0, &id);
}

struct tresp {
    long status;
    char *body;
    size_t len;
};

static inline size_t
tenv_write(char *p, size_t sz, size_t n, void *ud)
{
    struct tresp *r = ud;
    size_t add = sz * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

/* Sends method path with an optional bearer token and body; fills out (body owned). */
static inline int
tenv_http(struct tenv *e, const char *method, const char *path, const char *token,
          const char *body, size_t body_len, struct tresp *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[8192];
    snprintf(url, sizeof(url), "%s%s", e->base, path);
    struct curl_slist *h = NULL;
    char auth[512];
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tenv_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        fprintf(stderr, "curl %s %s: %s\n", method, path, curl_easy_strerror(cc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!out->body)
        out->body = calloc(1, 1);
    return cc == CURLE_OK ? 0 : -1;
}

/* ---- YAML (libyaml document) to jansson --------------------------------------------- */

static inline json_t *
yaml_node_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    if (!n || depth > 64)
        return NULL;
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)n->data.scalar.value;
        size_t len = n->data.scalar.length;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if (strcmp(v, "true") == 0)
                return json_true();
            if (strcmp(v, "false") == 0)
                return json_false();
            if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0)
                return json_null();
            char *end = NULL;
            long long x = strtoll(v, &end, 10);
            if (len > 0 && end && *end == '\0')
                return json_integer(x);
        }
        return json_stringn(v, len);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++)
            json_array_append_new(a, yaml_node_json(doc, yaml_document_get_node(doc, *it),
                                                    depth + 1));
        return a;
    }
    if (n->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE)
                continue;
            json_object_set_new(o, (const char *)k->data.scalar.value,
                                yaml_node_json(doc, yaml_document_get_node(doc, p->value),
                                               depth + 1));
        }
        return o;
    }
    return NULL;
}

static inline json_t *
load_openapi(void)
{
    const char *src = getenv("BN_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/docs/openapi.yaml", src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open '%s'\n", path);
        return NULL;
    }
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    json_t *j = NULL;
    if (yaml_parser_load(&p, &doc)) {
        j = yaml_node_json(&doc, yaml_document_get_root_node(&doc), 0);
        yaml_document_delete(&doc);
    } else {
        fprintf(stderr, "%s:%zu: %s\n", path, p.problem_mark.line + 1,
                p.problem ? p.problem : "YAML error");
    }
    yaml_parser_delete(&p);
    fclose(f);
    return j;
}

#endif
