/*
 * sigma_cond.c - the `condition:` expression of a Sigma detection.
 *
 * A small recursive-descent parser over the grammar of the rules specification:
 *
 *     expr    := and ( "or" and )*
 *     and     := unary ( "and" unary )*
 *     unary   := "not" unary | primary
 *     primary := "(" expr ")" | quant "of" ( "them" | pattern ) | identifier
 *     quant   := "1" | "any" | "all"
 *
 * Keywords are case-insensitive; binary operators are left associative. Sigma 1 pipe
 * aggregations (`| count() by x > 5`, `| near`) are rejected as unsupported with a hint to
 * use a correlation rule instead. Checking identifiers against the search names is the
 * caller's job (sigma_parse.c), since only it knows them.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "bannin/error.h"
#include "bannin/pool.h"
#include "bannin/sigma.h"

enum tok_type {
    TOK_END = 0,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_WORD,
    TOK_PIPE,
    TOK_BAD,
};

struct cparser {
    const char *text;
    size_t len;
    size_t pos;           /* next unread byte */
    enum tok_type tok;    /* current token */
    size_t tok_off, tok_len;
    unsigned depth;
    struct bn_pool *pool;
    struct bn_diag *d;
};

static bool
is_word_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.' || c == '*';
}

static void
next_token(struct cparser *p)
{
    while (p->pos < p->len && isspace((unsigned char)p->text[p->pos]))
        p->pos++;
    p->tok_off = p->pos;
    p->tok_len = 0;
    if (p->pos >= p->len) {
        p->tok = TOK_END;
        return;
    }
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c == '(' || c == ')' || c == '|') {
        p->tok = c == '(' ? TOK_LPAREN : c == ')' ? TOK_RPAREN : TOK_PIPE;
        p->tok_len = 1;
        p->pos++;
        return;
    }
    if (is_word_char(c)) {
        while (p->pos < p->len && is_word_char((unsigned char)p->text[p->pos]))
            p->pos++;
        p->tok = TOK_WORD;
        p->tok_len = p->pos - p->tok_off;
        return;
    }
    p->tok = TOK_BAD;
    p->tok_len = 1;
    p->pos++;
}

static bool
tok_is(const struct cparser *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->tok == TOK_WORD && p->tok_len == n &&
           strncasecmp(p->text + p->tok_off, kw, n) == 0;
}

static unsigned
tok_col(const struct cparser *p)
{
    return (unsigned)p->tok_off + 1;
}

/* A printable excerpt of the current token for messages. */
static int
tok_excerpt_len(const struct cparser *p)
{
    return (int)BN_MIN(p->tok_len, 64);
}

static int
fail(struct cparser *p, int code, unsigned col, const char *msg)
{
    return bn_diag_set(p->d, code, NULL, 1, col, "%s", msg);
}

static int
unexpected(struct cparser *p, const char *expected)
{
    if (p->tok == TOK_END)
        return bn_diag_set(p->d, BN_EPARSE, NULL, 1, tok_col(p),
                           "condition ends early: expected %s", expected);
    if (p->tok == TOK_BAD) {
        unsigned char c = (unsigned char)p->text[p->tok_off];
        if (isprint(c))
            return bn_diag_set(p->d, BN_EPARSE, NULL, 1, tok_col(p),
                               "unexpected character '%c' in condition: expected %s", c,
                               expected);
        return bn_diag_set(p->d, BN_EPARSE, NULL, 1, tok_col(p),
                           "unexpected byte 0x%02x in condition: expected %s", c, expected);
    }
    return bn_diag_set(p->d, BN_EPARSE, NULL, 1, tok_col(p),
                       "unexpected '%.*s' in condition: expected %s", tok_excerpt_len(p),
                       p->text + p->tok_off, expected);
}

/* Sigma 1 aggregations start with '|': name the function so the message is actionable. */
static int
aggregation(struct cparser *p)
{
    unsigned col = tok_col(p);
    size_t i = p->pos;
    while (i < p->len && isspace((unsigned char)p->text[i]))
        i++;
    size_t start = i;
    while (i < p->len && isalnum((unsigned char)p->text[i]))
        i++;
    size_t n = BN_MIN(i - start, 32);
    while (i < p->len && isspace((unsigned char)p->text[i]))
        i++;
    bool call = i < p->len && p->text[i] == '(';
    if (n == 0)
        return fail(p, BN_EUNSUP, col,
                    "Sigma 1 aggregation '|' is not supported; rewrite it as a correlation rule");
    return bn_diag_set(p->d, BN_EUNSUP, NULL, 1, col,
                       "Sigma 1 aggregation '| %.*s%s' is not supported; rewrite it as a "
                       "correlation rule",
                       (int)n, p->text + start, call ? "()" : "");
}

static struct sigma_cond *
node_new(struct cparser *p, enum sigma_cond_op op, unsigned col)
{
    struct sigma_cond *c = bn_pool_calloc(p->pool, 1, sizeof(*c));
    if (c) {
        c->op = op;
        c->col = col;
    }
    return c;
}

static bool
is_keyword(const struct cparser *p)
{
    static const char *const kws[] = {"and", "or", "not", "of", "them"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(kws); i++)
        if (tok_is(p, kws[i]))
            return true;
    return false;
}

static int parse_or(struct cparser *p, struct sigma_cond **out);

static int
parse_primary(struct cparser *p, struct sigma_cond **out)
{
    unsigned col = tok_col(p);
    int rc;

    if (p->tok == TOK_LPAREN) {
        if (++p->depth > BN_COND_DEPTH_MAX)
            return fail(p, BN_ETOOBIG, col,
                        "condition nests parentheses or 'not' too deeply (limit "
                        "BN_COND_DEPTH_MAX)");
        next_token(p);
        if ((rc = parse_or(p, out)) != 0)
            return rc;
        if (p->tok != TOK_RPAREN)
            return bn_diag_set(p->d, BN_EPARSE, NULL, 1, p->tok == TOK_END ? col : tok_col(p),
                               "%s", p->tok == TOK_END
                                         ? "'(' is never closed: add the matching ')'"
                                         : "expected ')' or an operator ('and', 'or')");
        p->depth--;
        next_token(p);
        return 0;
    }
    if (p->tok == TOK_PIPE)
        return aggregation(p);
    if (p->tok != TOK_WORD)
        return unexpected(p, "a search identifier, 'not', '(' or '1 of'/'all of'");

    /* Quantifier: "1 of", "any of", "all of". */
    bool one = tok_is(p, "1") || tok_is(p, "any");
    bool all = tok_is(p, "all");
    if (one || all) {
        size_t save_pos = p->pos;
        next_token(p);
        if (tok_is(p, "of")) {
            next_token(p);
            struct sigma_cond *c;
            if (tok_is(p, "them")) {
                c = node_new(p, one ? SIGMA_C_ONE_OF_THEM : SIGMA_C_ALL_OF_THEM, col);
                if (!c)
                    return BN_ENOMEM;
            } else if (p->tok == TOK_WORD && !is_keyword(p)) {
                c = node_new(p, one ? SIGMA_C_ONE_OF : SIGMA_C_ALL_OF, col);
                if (!c)
                    return BN_ENOMEM;
                c->name = bn_pool_strndup(p->pool, p->text + p->tok_off, p->tok_len);
                if (!c->name)
                    return BN_ENOMEM;
            } else {
                return unexpected(p, "'them' or a search identifier pattern after 'of'");
            }
            next_token(p);
            *out = c;
            return 0;
        }
        /* Not a quantifier after all: "all" or "1" used as an identifier. */
        p->pos = save_pos;
        p->tok = TOK_WORD;
        p->tok_off = col - 1;
        p->tok_len = save_pos - p->tok_off;
    }
    if (is_keyword(p))
        return unexpected(p, "a search identifier, 'not', '(' or '1 of'/'all of'");
    if (memchr(p->text + p->tok_off, '*', p->tok_len))
        return bn_diag_set(p->d, BN_EPARSE, NULL, 1, col,
                           "wildcard in '%.*s' is only allowed in '1 of'/'all of' patterns",
                           tok_excerpt_len(p), p->text + p->tok_off);
    struct sigma_cond *c = node_new(p, SIGMA_C_ID, col);
    if (!c)
        return BN_ENOMEM;
    c->name = bn_pool_strndup(p->pool, p->text + p->tok_off, p->tok_len);
    if (!c->name)
        return BN_ENOMEM;
    next_token(p);
    *out = c;
    return 0;
}

static int
parse_unary(struct cparser *p, struct sigma_cond **out)
{
    /* Iterative over "not not not x" so the C stack does not follow the input. */
    struct sigma_cond *head = NULL, **slot = &head;
    unsigned nots = 0;
    int rc;

    while (tok_is(p, "not")) {
        if (++nots > BN_COND_DEPTH_MAX)
            return fail(p, BN_ETOOBIG, tok_col(p),
                        "condition nests parentheses or 'not' too deeply (limit "
                        "BN_COND_DEPTH_MAX)");
        struct sigma_cond *n = node_new(p, SIGMA_C_NOT, tok_col(p));
        if (!n)
            return BN_ENOMEM;
        *slot = n;
        slot = &n->a;
        next_token(p);
    }
    struct sigma_cond *prim = NULL;
    if ((rc = parse_primary(p, &prim)) != 0)
        return rc;
    *slot = prim;
    *out = head;
    return 0;
}

/*
 * A left-associative chain of one binary operator: "or" over "and" chains, "and" over unary
 * expressions (so "and" binds tighter than "or").
 */
static int
parse_chain(struct cparser *p, const char *op, struct sigma_cond **out)
{
    bool is_or = strcmp(op, "or") == 0;
    struct sigma_cond *left = NULL;
    int rc;

    if ((rc = is_or ? parse_chain(p, "and", &left) : parse_unary(p, &left)) != 0)
        return rc;
    while (tok_is(p, op)) {
        unsigned col = tok_col(p);
        next_token(p);
        struct sigma_cond *right = NULL;
        if ((rc = is_or ? parse_chain(p, "and", &right) : parse_unary(p, &right)) != 0)
            return rc;
        struct sigma_cond *n = node_new(p, is_or ? SIGMA_C_OR : SIGMA_C_AND, col);
        if (!n)
            return BN_ENOMEM;
        n->a = left;
        n->b = right;
        left = n;
    }
    *out = left;
    return 0;
}

static int
parse_or(struct cparser *p, struct sigma_cond **out)
{
    return parse_chain(p, "or", out);
}

int
sigma_cond_parse(const char *text, size_t len, struct bn_pool *pool, struct sigma_cond **out,
                 struct bn_diag *d)
{
    struct cparser p = {.text = text, .len = len, .pool = pool, .d = d};
    struct sigma_cond *root = NULL;
    int rc;

    if (out)
        *out = NULL;
    bn_diag_clear(d);
    if (!out || !pool || (!text && len))
        return bn_diag_set(d, BN_EINVAL, NULL, 0, 0, "no condition text or pool given");
    if (len > BN_COND_LEN_MAX)
        return bn_diag_set(d, BN_ETOOBIG, NULL, 1, 1,
                           "condition is %zu bytes, longer than BN_COND_LEN_MAX (%u)", len,
                           (unsigned)BN_COND_LEN_MAX);
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul)
        return bn_diag_set(d, BN_EPARSE, NULL, 1, (unsigned long)(nul - text) + 1,
                           "condition contains a NUL byte");
    next_token(&p);
    if (p.tok == TOK_END)
        return bn_diag_set(d, BN_EPARSE, NULL, 1, 1,
                           "condition is empty: name the searches to match, e.g. 'selection'");
    if ((rc = parse_or(&p, &root)) != 0)
        goto out;
    if (p.tok == TOK_PIPE) {
        rc = aggregation(&p);
        goto out;
    }
    if (p.tok == TOK_RPAREN) {
        rc = fail(&p, BN_EPARSE, tok_col(&p), "')' without a matching '('");
        goto out;
    }
    if (p.tok != TOK_END) {
        rc = unexpected(&p, "'and', 'or' or the end of the condition");
        goto out;
    }
    *out = root;
out:
    if (rc == BN_ENOMEM && d && d->code == 0)
        bn_diag_set(d, BN_ENOMEM, NULL, 0, 0, "out of memory parsing the condition");
    return rc;
}
