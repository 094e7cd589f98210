/* tests/test_helpers.h - shared by tests/test_gzip.c and tests/test_idx.c (include it before
   cnn.h): tests/check.h's CHECK, an allocator hook for cnn.h, and a small, independent
   DEFLATE/gzip *writer* so the tests can build streams bit by bit (valid ones the usual
   compressors never make, and every kind of invalid one). */
#ifndef TEST_HELPERS_H
#define TEST_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

/* not every test uses every helper */
#if defined(__GNUC__) || defined(__clang__)
#define T_HELPER static __attribute__((unused))
#else
#define T_HELPER static
#endif

/* ---- counting checks: CHECK and check_done from tests/check.h ---- */

#include "check.h"

/* ---- allocator hook: largest request, live blocks, and failure injection ---- */

static size_t t_largest;      /* largest single CNN_MALLOC/CNN_REALLOC request            */
static long   t_live;         /* blocks allocated through the hook and not yet freed      */
static long   t_fail_in = -1; /* when >= 0: allocations left before one fails (NULL)      */

T_HELPER int t_should_fail(void)
{
    if (t_fail_in < 0) return 0;
    if (t_fail_in == 0) { t_fail_in = -1; return 1; }
    t_fail_in--;
    return 0;
}
T_HELPER void *t_malloc(size_t n)
{
    void *p;
    if (n > t_largest) t_largest = n;
    if (t_should_fail()) return NULL;
    p = malloc(n);
    if (p) t_live++;
    return p;
}
T_HELPER void *t_realloc(void *old, size_t n)
{
    void *p;
    if (n > t_largest) t_largest = n;
    if (t_should_fail()) return NULL;
    p = realloc(old, n);
    if (p && !old) t_live++;
    return p;
}
T_HELPER void t_free(void *p)
{
    if (p) t_live--;
    free(p);
}
#define CNN_MALLOC(n)     t_malloc(n)
#define CNN_REALLOC(p, n) t_realloc(p, n)
#define CNN_FREE(p)       t_free(p)

/* ---- a growable byte buffer (plain malloc: not counted by the hook) ---- */

typedef struct tbuf { unsigned char *p; size_t n, cap; } tbuf;

T_HELPER void tb_byte(tbuf *b, unsigned v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->p = (unsigned char *)realloc(b->p, b->cap);
        if (!b->p) { printf("test: out of memory\n"); exit(2); }
    }
    b->p[b->n++] = (unsigned char)v;
}
T_HELPER void tb_bytes(tbuf *b, const void *p, size_t n)
{
    const unsigned char *q = (const unsigned char *)p;
    while (n--) tb_byte(b, *q++);
}
T_HELPER void tb_le32(tbuf *b, uint32_t v)
{
    tb_byte(b, v & 0xFF); tb_byte(b, (v >> 8) & 0xFF);
    tb_byte(b, (v >> 16) & 0xFF); tb_byte(b, v >> 24);
}
T_HELPER void tb_be32(tbuf *b, uint32_t v)
{
    tb_byte(b, v >> 24); tb_byte(b, (v >> 16) & 0xFF);
    tb_byte(b, (v >> 8) & 0xFF); tb_byte(b, v & 0xFF);
}
T_HELPER void tb_free(tbuf *b) { free(b->p); b->p = NULL; b->n = b->cap = 0; }

/* ---- reference CRC-32, bit by bit straight from RFC 1952 8, independent of cnn.h ---- */

T_HELPER uint32_t ref_crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    int k;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* ---- DEFLATE bit writer ---- */

typedef struct bw { tbuf out; unsigned acc; int nacc; } bw;

/* n bits of v, least significant first (how DEFLATE sends numbers); bits past 32 are 0 */
T_HELPER void bw_bits(bw *w, unsigned v, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        w->acc |= (i < 32 ? (v >> i) & 1u : 0u) << w->nacc;
        if (++w->nacc == 8) { tb_byte(&w->out, w->acc); w->acc = 0; w->nacc = 0; }
    }
}
/* a Huffman code of n bits, most significant bit first (how DEFLATE sends codes) */
T_HELPER void bw_code(bw *w, unsigned code, int n)
{
    while (n--) bw_bits(w, (code >> n) & 1u, 1);
}
T_HELPER void bw_align(bw *w) { if (w->nacc) bw_bits(w, 0, 8 - w->nacc); }

/* canonical code from lengths (RFC 1951 3.2.2), computed here independently of cnn.h */
typedef struct hcode { unsigned code[288]; unsigned char len[288]; } hcode;

T_HELPER void hc_make(hcode *h, const unsigned char *lens, int n)
{
    unsigned count[16] = { 0 }, next[16], code = 0;
    int i, b;
    memset(h, 0, sizeof *h);
    for (i = 0; i < n; i++) count[lens[i]]++;
    count[0] = 0;
    for (b = 1; b < 16; b++) { code = (code + count[b - 1]) << 1; next[b] = code; }
    for (i = 0; i < n; i++) {
        h->len[i] = lens[i];
        if (lens[i]) h->code[i] = next[lens[i]]++;
    }
}
T_HELPER void hc_fixed(hcode *lit, hcode *dist)
{
    unsigned char l[288];
    int i;
    for (i = 0; i < 288; i++) l[i] = (unsigned char)(i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8);
    hc_make(lit, l, 288);
    for (i = 0; i < 32; i++) l[i] = 5;
    hc_make(dist, l, 32);
}
T_HELPER void bw_sym(bw *w, const hcode *h, unsigned sym) { bw_code(w, h->code[sym], h->len[sym]); }

/* length 3..258 / distance 1..32768 as symbol + extra bits (RFC 1951 3.2.5) */
static const unsigned t_len_base[29] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27,
    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
static const int t_len_extra[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3,
    3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
static const unsigned t_dist_base[30] = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };

T_HELPER void bw_match(bw *w, const hcode *lit, const hcode *dist, unsigned len, unsigned d)
{
    int i = 28, j = 29;
    while (t_len_base[i] > len) i--;
    while (t_dist_base[j] > d) j--;
    bw_sym(w, lit, 257 + (unsigned)i);
    bw_bits(w, len - t_len_base[i], t_len_extra[i]);
    bw_sym(w, dist, (unsigned)j);
    bw_bits(w, d - t_dist_base[j], j < 4 ? 0 : j / 2 - 1);
}

/* a stored block of n bytes (n <= 65535) */
T_HELPER void bw_stored(bw *w, int final, const void *p, size_t n)
{
    bw_bits(w, (unsigned)final, 1);
    bw_bits(w, 0, 2);
    bw_align(w);
    bw_bits(w, (unsigned)n, 16);
    bw_bits(w, (unsigned)~n & 0xFFFF, 16);
    tb_bytes(&w->out, p, n);
}

/* The header of a dynamic block for the given literal/length and distance code lengths.
   The code-length code is fixed and complete: symbols 0..12 get 4 bits, 13..18 get 5. */
T_HELPER void bw_dynamic_header(bw *w, int final, const unsigned char *litlens, int hlit,
                              const unsigned char *distlens, int hdist)
{
    static const int order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14,
                                   1, 15 };
    unsigned char cl[19];
    hcode clc;
    int i;
    for (i = 0; i < 19; i++) cl[i] = (unsigned char)(i <= 12 ? 4 : 5);
    hc_make(&clc, cl, 19);
    bw_bits(w, (unsigned)final, 1);
    bw_bits(w, 2, 2);
    bw_bits(w, (unsigned)(hlit - 257), 5);
    bw_bits(w, (unsigned)(hdist - 1), 5);
    bw_bits(w, 19 - 4, 4);
    for (i = 0; i < 19; i++) bw_bits(w, cl[order[i]], 3);
    for (i = 0; i < hlit; i++) bw_sym(w, &clc, litlens[i]);
    for (i = 0; i < hdist; i++) bw_sym(w, &clc, distlens[i]);
}

/* Finish the DEFLATE data in w and return it wrapped as a gzip member around the given
   decoded bytes (whose CRC and length go in the trailer). flags: FTEXT 1, FHCRC 2,
   FEXTRA 4, FNAME 8, FCOMMENT 16. */
T_HELPER tbuf gz_wrap(const unsigned char *deflate, size_t n, const void *plain, size_t plain_n,
                    unsigned flags)
{
    tbuf g = { NULL, 0, 0 };
    static const unsigned char head[10] = { 0x1F, 0x8B, 8, 0, 0x12, 0x34, 0x56, 0x78, 2, 3 };
    tb_bytes(&g, head, 10);
    g.p[3] = (unsigned char)flags;
    if (flags & 4) {                       /* two subfields: 'A','B' len 3 and 'C','D' len 0 */
        static const unsigned char extra[] = { 11, 0, 'A', 'B', 3, 0, 'x', 'y', 'z', 'C', 'D', 0, 0 };
        tb_bytes(&g, extra, sizeof extra);
    }
    if (flags & 8) tb_bytes(&g, "name.idx", 9);
    if (flags & 16) tb_bytes(&g, "a comment", 10);
    if (flags & 2) {
        uint32_t c = ref_crc32(0, g.p, g.n);
        tb_byte(&g, c & 0xFF);
        tb_byte(&g, (c >> 8) & 0xFF);
    }
    tb_bytes(&g, deflate, n);
    tb_le32(&g, ref_crc32(0, plain, plain_n));
    tb_le32(&g, (uint32_t)plain_n);
    return g;
}

T_HELPER tbuf bw_gzip(bw *w, const void *plain, size_t plain_n, unsigned flags)
{
    tbuf g;
    bw_align(w);
    g = gz_wrap(w->out.p, w->out.n, plain, plain_n, flags);
    tb_free(&w->out);
    return g;
}

/* gzip of any bytes, using stored blocks only */
T_HELPER tbuf gz_stored(const void *data, size_t n, unsigned flags)
{
    bw w;
    const unsigned char *p = (const unsigned char *)data;
    size_t off = 0;
    memset(&w, 0, sizeof w);
    do {
        size_t k = n - off > 65535 ? 65535 : n - off;
        bw_stored(&w, off + k == n, p + off, k);
        off += k;
    } while (off < n);
    return bw_gzip(&w, data, n, flags);
}

/* A gzip member that decodes to prefix (sent in a stored block) followed by `zeros` zero
   bytes, sent with a dynamic code where a 258-byte copy costs 2 bits: a zip bomb. The CRC
   in the trailer is crc (the caller computes it, or passes anything when the test never
   gets that far). */
T_HELPER tbuf gz_zero_bomb(const void *prefix, size_t prefix_n, size_t zeros, uint32_t crc)
{
    unsigned char litlens[286], distlens[1] = { 1 };
    hcode lit, dist;
    bw w;
    tbuf g;
    memset(&w, 0, sizeof w);
    memset(litlens, 0, sizeof litlens);
    litlens[0] = 1; litlens[256] = 2; litlens[285] = 2;      /* 1/2 + 1/4 + 1/4: complete */
    hc_make(&lit, litlens, 286);
    hc_make(&dist, distlens, 1);
    if (prefix_n) bw_stored(&w, 0, prefix, prefix_n);
    bw_dynamic_header(&w, 1, litlens, 286, distlens, 1);
    if (zeros) { bw_sym(&w, &lit, 0); zeros--; }     /* one zero, then copies of it */
    while (zeros >= 258) { bw_match(&w, &lit, &dist, 258, 1); zeros -= 258; }
    while (zeros) { bw_sym(&w, &lit, 0); zeros--; }
    bw_sym(&w, &lit, 256);
    bw_align(&w);
    g = gz_wrap(w.out.p, w.out.n, "", 0, 0);
    /* fix the trailer: CRC given, length = prefix + zeros (mod 2^32) computed by caller */
    g.p[g.n - 8] = (unsigned char)(crc & 0xFF);
    g.p[g.n - 7] = (unsigned char)((crc >> 8) & 0xFF);
    g.p[g.n - 6] = (unsigned char)((crc >> 16) & 0xFF);
    g.p[g.n - 5] = (unsigned char)(crc >> 24);
    tb_free(&w.out);
    return g;
}

T_HELPER void set_isize(tbuf *g, uint32_t v)
{
    g->p[g->n - 4] = (unsigned char)(v & 0xFF);
    g->p[g->n - 3] = (unsigned char)((v >> 8) & 0xFF);
    g->p[g->n - 2] = (unsigned char)((v >> 16) & 0xFF);
    g->p[g->n - 1] = (unsigned char)(v >> 24);
}

#endif
