/*
 * evtx_build.h - builds small EVTX files byte by byte for the reader's unit tests: a file
 * header, chunks with correct checksums, records and BinXML (elements, attributes, inline
 * and shared names, template definitions inline or by reference, substitution arrays).
 *
 * Static functions in a header on purpose: only tests/unit/evtx includes it.
 */
#ifndef BN_TEST_EVTX_BUILD_H
#define BN_TEST_EVTX_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define EB_FILE_HDR 4096u
#define EB_CHUNK 65536u
#define EB_MAX_CHUNKS 4

struct eb_name {
    const char *s;
    uint32_t off;
};

struct eb {
    unsigned char file[EB_FILE_HDR + EB_MAX_CHUNKS * EB_CHUNK];
    unsigned nchunks;
    unsigned char *c;    /* current chunk */
    uint32_t pos;        /* write position in the chunk */
    uint32_t rec_start;  /* current record */
    uint64_t rec_id;
    uint64_t first_id;
    struct eb_name names[128];
    unsigned nnames;
    bool shared_names;   /* refer to names already written instead of inlining again */
};

static void
eb_u8(struct eb *b, unsigned v)
{
    b->c[b->pos++] = (unsigned char)v;
}

static void
eb_u16(struct eb *b, unsigned v)
{
    eb_u8(b, v & 0xff);
    eb_u8(b, (v >> 8) & 0xff);
}

static void
eb_u32(struct eb *b, uint32_t v)
{
    eb_u16(b, v & 0xffff);
    eb_u16(b, v >> 16);
}

static void
eb_u64(struct eb *b, uint64_t v)
{
    eb_u32(b, (uint32_t)v);
    eb_u32(b, (uint32_t)(v >> 32));
}

static void
eb_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void
eb_put64(unsigned char *p, uint64_t v)
{
    eb_put32(p, (uint32_t)v);
    eb_put32(p + 4, (uint32_t)(v >> 32));
}

static void
eb_utf16(struct eb *b, const char *s)
{
    for (; *s; s++)
        eb_u16(b, (unsigned char)*s);
}

/* Writes the name offset field and, at first use (or always unless shared), the name. */
static void
eb_name(struct eb *b, const char *s)
{
    if (b->shared_names) {
        for (unsigned i = 0; i < b->nnames; i++) {
            if (strcmp(b->names[i].s, s) == 0) {
                eb_u32(b, b->names[i].off);
                return;
            }
        }
    }
    uint32_t off = b->pos + 4;
    eb_u32(b, off);
    if (b->nnames < 128)
        b->names[b->nnames++] = (struct eb_name){s, off};
    eb_u32(b, 0);               /* next in hash chain */
    eb_u16(b, 0);               /* hash (not checked) */
    eb_u16(b, (unsigned)strlen(s));
    eb_utf16(b, s);
    eb_u16(b, 0);
}

static void
eb_fragment(struct eb *b)
{
    eb_u8(b, 0x0f);
    eb_u8(b, 1);
    eb_u8(b, 1);
    eb_u8(b, 0);
}

/* Element start; with_dep = false writes the layout used inside BinXML values. */
static void
eb_open(struct eb *b, const char *name, bool attrs, bool with_dep)
{
    eb_u8(b, attrs ? 0x41 : 0x01);
    if (with_dep)
        eb_u16(b, 0xffff);
    eb_u32(b, 0);               /* data size (not needed by the reader) */
    eb_name(b, name);
    if (attrs)
        eb_u32(b, 0);           /* attribute list size */
}

static void
eb_attr(struct eb *b, const char *name)
{
    eb_u8(b, 0x06);
    eb_name(b, name);
}

static void
eb_text(struct eb *b, const char *s)
{
    eb_u8(b, 0x05);
    eb_u8(b, 0x01);
    eb_u16(b, (unsigned)strlen(s));
    eb_utf16(b, s);
}

static void
eb_subst(struct eb *b, unsigned idx, unsigned type, bool optional)
{
    eb_u8(b, optional ? 0x0e : 0x0d);
    eb_u16(b, idx);
    eb_u8(b, type);
}

static void eb_close_start(struct eb *b) { eb_u8(b, 0x02); }
static void eb_close_empty(struct eb *b) { eb_u8(b, 0x03); }
static void eb_end(struct eb *b) { eb_u8(b, 0x04); }
static void eb_eof(struct eb *b) { eb_u8(b, 0x00); }

/* Template instance with an inline definition; returns where the body's size goes. The
 * caller writes the body, then calls eb_tdef_end. */
static uint32_t
eb_tdef_begin(struct eb *b, uint32_t *def_off)
{
    eb_u8(b, 0x0c);
    eb_u8(b, 1);
    eb_u32(b, 1);               /* template id */
    *def_off = b->pos + 4;
    eb_u32(b, *def_off);
    eb_u32(b, 0);               /* next definition */
    for (int i = 0; i < 16; i++)
        eb_u8(b, (unsigned)i);  /* GUID */
    uint32_t size_at = b->pos;
    eb_u32(b, 0);
    return size_at;
}

static void
eb_tdef_end(struct eb *b, uint32_t size_at)
{
    eb_put32(b->c + size_at, b->pos - size_at - 4);
}

/* Template instance referring to a definition written earlier at def_off. */
static void
eb_tref(struct eb *b, uint32_t def_off)
{
    eb_u8(b, 0x0c);
    eb_u8(b, 1);
    eb_u32(b, 1);
    eb_u32(b, def_off);
}

struct eb_val {
    unsigned type;
    const void *p;
    unsigned size;
};

static void
eb_values(struct eb *b, const struct eb_val *v, unsigned n)
{
    eb_u32(b, n);
    for (unsigned i = 0; i < n; i++) {
        eb_u16(b, v[i].size);
        eb_u8(b, v[i].type);
        eb_u8(b, 0);
    }
    for (unsigned i = 0; i < n; i++) {
        if (v[i].size)
            memcpy(b->c + b->pos, v[i].p, v[i].size);
        b->pos += v[i].size;
    }
}

static void
eb_record_begin(struct eb *b, uint64_t filetime)
{
    b->rec_start = b->pos;
    eb_u32(b, 0x00002a2a);
    eb_u32(b, 0);               /* size, patched */
    eb_u64(b, b->rec_id++);
    eb_u64(b, filetime);
}

static void
eb_record_end(struct eb *b)
{
    uint32_t size = b->pos - b->rec_start + 4;
    eb_u32(b, size);
    eb_put32(b->c + b->rec_start + 4, size);
}

static void
eb_chunk_begin(struct eb *b)
{
    b->c = b->file + EB_FILE_HDR + b->nchunks * EB_CHUNK;
    b->nchunks++;
    memset(b->c, 0, EB_CHUNK);
    b->pos = 512;
    b->nnames = 0;
    b->first_id = b->rec_id;
}

static void
eb_chunk_end(struct eb *b)
{
    unsigned char *c = b->c;
    memcpy(c, "ElfChnk", 8);
    eb_put64(c + 8, b->first_id);
    eb_put64(c + 16, b->rec_id - 1);
    eb_put64(c + 24, b->first_id);
    eb_put64(c + 32, b->rec_id - 1);
    eb_put32(c + 40, 128);
    eb_put32(c + 44, b->rec_start);
    eb_put32(c + 48, b->pos);
    eb_put32(c + 52, (uint32_t)crc32(0L, c + 512, b->pos - 512));
    uLong crc = crc32(0L, c, 120);
    crc = crc32(crc, c + 128, 512 - 128);
    eb_put32(c + 124, (uint32_t)crc);
}

static void
eb_init(struct eb *b)
{
    memset(b, 0, sizeof(*b));
    b->rec_id = 1;
}

/* Writes the file header; returns the file size. */
static size_t
eb_finish(struct eb *b)
{
    unsigned char *h = b->file;
    memcpy(h, "ElfFile", 8);
    eb_put64(h + 16, b->nchunks ? b->nchunks - 1 : 0);
    eb_put64(h + 24, b->rec_id);
    eb_put32(h + 32, 128);
    h[36] = 1;
    h[38] = 3;
    h[40] = 0x00;
    h[41] = 0x10;
    h[42] = (unsigned char)b->nchunks;
    eb_put32(h + 124, (uint32_t)crc32(0L, h, 120));
    return EB_FILE_HDR + (size_t)b->nchunks * EB_CHUNK;
}

#endif
