/* cc -std=c99 -O2 tests/test_gzip.c -o test_gzip -lm && ./test_gzip   (from the repo root)

   The gzip/DEFLATE decoder of cnn.h: CRC-32, the committed vectors of tests/data/vectors.h
   (zlib levels 0-9, fixed/dynamic/stored, multi-block, the gzip program), streams built bit
   by bit with tests/test_helpers.h (258-byte copies, 32768-byte distances, long codes,
   every header flag, mixed block types) and every kind of invalid stream, each with its own
   status and message; every prefix is truncation, every byte change is detected, and a zip
   bomb is refused without allocating. */
#include "test_helpers.h"
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "data/vectors.h"

/* Decode gz with an out_cap-byte buffer. Expect status `want` and, on failure, a message
   containing frag, *out_size 0 and no live allocation; on success the bytes `plain`. */
static void expect(const char *what, const unsigned char *gz, size_t n, size_t out_cap,
                   cnn_status want, const char *frag, const void *plain, size_t plain_n)
{
    unsigned char *out = (unsigned char *)malloc(out_cap ? out_cap : 1);
    size_t got = 12345;
    cnn_error e;
    cnn_status st;
    long live = t_live;
    memset(&e, 0, sizeof e);
    st = cnn_gzip_inflate(gz, n, out, out_cap, &got, &e);
    CHECK(st == want, "%s: got %s, want %s (%s)", what, cnn_status_name(st), cnn_status_name(want),
          st ? e.msg : "no message");
    CHECK(t_live == live, "%s: %ld blocks leaked", what, t_live - live);
    if (st == CNN_OK && want == CNN_OK && plain) {
        CHECK(got == plain_n && memcmp(out, plain, plain_n) == 0,
              "%s: decoded %zu bytes, want %zu, %s", what, got, plain_n,
              got == plain_n ? "contents differ" : "");
    }
    if (st != CNN_OK) {
        CHECK(got == 0, "%s: failed but out_size is %zu", what, got);
        CHECK(e.status == st, "%s: err.status %s differs from the return %s", what,
              cnn_status_name(e.status), cnn_status_name(st));
        if (frag && st == want)
            CHECK(strstr(e.msg, frag) != NULL, "%s: message \"%s\" lacks \"%s\"", what, e.msg,
                  frag);
    }
    free(out);
}

/* ---- an encoder that also keeps the bytes a decoder must produce ---- */

typedef struct enc { bw w; tbuf exp; hcode lit, dist; } enc;

static void e_lit(enc *e, unsigned c) { bw_sym(&e->w, &e->lit, c); tb_byte(&e->exp, c); }
static void e_match(enc *e, unsigned len, unsigned d)
{
    unsigned i;
    bw_match(&e->w, &e->lit, &e->dist, len, d);
    for (i = 0; i < len; i++) tb_byte(&e->exp, e->exp.p[e->exp.n - d]);
}
static void e_stored(enc *e, int final, const void *p, size_t n)
{
    bw_stored(&e->w, final, p, n);
    tb_bytes(&e->exp, p, n);
}
static void e_fixed(enc *e, int final)
{
    bw_bits(&e->w, (unsigned)final, 1);
    bw_bits(&e->w, 1, 2);
    hc_fixed(&e->lit, &e->dist);
}
static void e_dynamic(enc *e, int final, const unsigned char *ll, int hlit,
                      const unsigned char *dl, int hdist)
{
    bw_dynamic_header(&e->w, final, ll, hlit, dl, hdist);
    hc_make(&e->lit, ll, hlit);
    hc_make(&e->dist, dl, hdist);
}
static void e_end(enc *e) { bw_sym(&e->w, &e->lit, 256); }
static tbuf e_gzip(enc *e, unsigned flags)   /* the gzip file; e->exp stays for comparing */
{
    return bw_gzip(&e->w, e->exp.p, e->exp.n, flags);
}

static unsigned t_rand_state = 12345;
static unsigned t_rand(void)
{
    t_rand_state = t_rand_state * 1103515245u + 12345u;
    return (t_rand_state >> 16) & 0x7FFF;
}

/* Every proper prefix must be TRUNCATED, except one that ends exactly where a member
   ends (ok_at; 0 for none), which is a complete gzip file of its own. */
static void all_prefixes(const char *what, const unsigned char *gz, size_t n, size_t cap,
                         size_t ok_at)
{
    size_t k;
    int bad = 0;
    unsigned char *out = (unsigned char *)malloc(cap ? cap : 1);
    for (k = 0; k < n; k++) {
        size_t got;
        cnn_error e;
        cnn_status st = cnn_gzip_inflate(gz, k, out, cap, &got, &e);
        cnn_status want = k == ok_at && ok_at ? CNN_OK : CNN_ERR_TRUNCATED;
        if (st != want && bad++ < 3)
            CHECK(0, "%s: prefix of %zu of %zu bytes gave %s (%s)", what, k, n, cnn_status_name(st),
                  st ? e.msg : "");
    }
    CHECK(bad == 0, "%s: %d prefixes not reported as truncated", what, bad);
    CHECK(t_live == 0, "%s: prefixes leaked %ld blocks", what, t_live);
    free(out);
}

/* Change every byte of a gzip file of `plain`, by each xor mask (every value 1..255, or the
   single bits and 0xff). Inverting a whole byte (^ 0xff) must always fail. Another change
   must fail too, or decode to exactly `plain`: a few bits of DEFLATE carry no information
   (the padding to a byte boundary before a stored block and after the last block, which
   RFC 1951 says to skip) and a few changes only pick an equal copy (a distance that finds
   the same bytes elsewhere). Wrong data is never accepted. */
static void all_changes(const char *what, const unsigned char *gz, size_t n, const void *plain,
                        size_t plain_n, int every_value)
{
    static const unsigned masks[9] = { 1, 2, 4, 8, 16, 32, 64, 128, 255 };
    unsigned char *copy = (unsigned char *)malloc(n), out[4096];
    size_t i, got;
    unsigned m, nm = every_value ? 255 : 9;
    int missed = 0, harmless = 0, tried = 0;
    cnn_error e;
    memcpy(copy, gz, n);
    for (i = 0; i < n; i++)
        for (m = 0; m < nm; m++) {
            unsigned mask = every_value ? m + 1 : masks[m];
            copy[i] ^= (unsigned char)mask;
            tried++;
            if (cnn_gzip_inflate(copy, n, out, sizeof out, &got, &e) == CNN_OK) {
                int same = got == plain_n && memcmp(out, plain, plain_n) == 0;
                if (same && mask != 255) harmless++;
                else if (missed++ < 3)
                    CHECK(0, "%s: byte %zu ^ 0x%02x decoded without an error to %s", what, i,
                          mask, same ? "the same data" : "different data");
            }
            copy[i] ^= (unsigned char)mask;
        }
    CHECK(missed == 0, "%s: %d changed bytes went undetected", what, missed);
    CHECK(harmless * 100 < tried, "%s: %d of %d changes harmless, too many", what, harmless,
          tried);
    CHECK(t_live == 0, "%s: leaked %ld blocks", what, t_live);
    free(copy);
}

static void test_crc(void)
{
    unsigned char buf[1000];
    size_t i, off, len;
    CHECK(ref_crc32(0, "123456789", 9) == 0xCBF43926u, "reference CRC of 123456789");
    CHECK(cnn_crc32(0, "123456789", 9) == 0xCBF43926u, "cnn_crc32(\"123456789\") = %08lx",
          (unsigned long)cnn_crc32(0, "123456789", 9));
    CHECK(cnn_crc32(0, "", 0) == 0, "CRC of nothing is 0");
    CHECK(cnn_crc32(cnn_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "CRC continues");
    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)t_rand();
    for (off = 0; off < 9; off++)                 /* every alignment, lengths around 8 */
        for (len = 0; len < 40; len++)
            CHECK(cnn_crc32(7, buf + off, len) == ref_crc32(7, buf + off, len),
                  "CRC at offset %zu length %zu", off, len);
    CHECK(cnn_crc32(0, buf, sizeof buf) == ref_crc32(0, buf, sizeof buf), "CRC of 1000 bytes");
}

static void test_committed_vectors(void)
{
    size_t i;
    tbuf two = { NULL, 0, 0 }, expect2 = { NULL, 0, 0 };
    for (i = 0; i < TEST_VECTOR_COUNT; i++) {
        const test_vector *v = &test_vectors[i];
        char what[64];
        snprintf(what, sizeof what, "vector %s", v->name);
        expect(what, v->gz, v->gz_size, v->want_size, CNN_OK, NULL, v->want, v->want_size);
        expect(what, v->gz, v->gz_size, v->want_size + 100, CNN_OK, NULL, v->want, v->want_size);
        if (v->want_size > 0)
            expect(what, v->gz, v->gz_size, v->want_size - 1, CNN_ERR_LIMIT, "output buffer",
                   NULL, 0);
        if (v->btype >= 0)
            CHECK(((v->gz[10] >> 1) & 3) == (unsigned)v->btype,
                  "%s: first block type %d, the vector promises %d", v->name,
                  (v->gz[10] >> 1) & 3, v->btype);
        all_prefixes(what, v->gz, v->gz_size, v->want_size, 0);
    }
    /* two members one after the other decode to both outputs in turn (RFC 1952 2.2) */
    tb_bytes(&two, vec_text_level9, sizeof vec_text_level9);
    tb_bytes(&two, vec_short_fixed, sizeof vec_short_fixed);
    tb_bytes(&expect2, vec_text, sizeof vec_text - 1);
    tb_bytes(&expect2, vec_short, sizeof vec_short - 1);
    expect("two members", two.p, two.n, expect2.n, CNN_OK, NULL, expect2.p, expect2.n);
    all_prefixes("two members", two.p, two.n, expect2.n, sizeof vec_text_level9);
    tb_free(&two);
    tb_free(&expect2);
}

/* header flags: every combination of FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT around the body
   of a zlib stream */
static void test_header_flags(void)
{
    const unsigned char *body = vec_text_level6 + 10;
    size_t body_n = sizeof vec_text_level6 - 18;
    unsigned flags;
    for (flags = 0; flags < 32; flags++) {
        char what[64];
        tbuf g = gz_wrap(body, body_n, vec_text, sizeof vec_text - 1, flags);
        snprintf(what, sizeof what, "header flags 0x%02x", flags);
        expect(what, g.p, g.n, sizeof vec_text - 1, CNN_OK, NULL, vec_text, sizeof vec_text - 1);
        if (flags == 31) all_prefixes(what, g.p, g.n, sizeof vec_text, 0);
        tb_free(&g);
    }
}

static void test_built_streams(void)
{
    enc e;
    tbuf g;
    unsigned char *rnd, ll[286], dl[30];
    unsigned i;

    /* a 258-byte copy (symbol 285) at distance 1, and at distance 258 */
    memset(&e, 0, sizeof e);
    e_fixed(&e, 1);
    e_lit(&e, 'x');
    e_match(&e, 258, 1);
    e_lit(&e, 'y');
    e_match(&e, 258, 258);
    e_match(&e, 257, 100);          /* symbol 284 with all 5 extra bits set but one */
    e_end(&e);
    g = e_gzip(&e, 0);
    expect("258-byte copies", g.p, g.n, e.exp.n, CNN_OK, NULL, e.exp.p, e.exp.n);
    CHECK(e.exp.n == 1 + 258 + 1 + 258 + 257, "258-byte copies: model has %zu bytes", e.exp.n);
    all_prefixes("258-byte copies", g.p, g.n, e.exp.n, 0);
    tb_free(&g); tb_free(&e.exp);

    /* distance 32768, the largest: 32768 random bytes in a stored block, then copies */
    rnd = (unsigned char *)malloc(40000);
    for (i = 0; i < 40000; i++) rnd[i] = (unsigned char)t_rand();
    memset(&e, 0, sizeof e);
    e_stored(&e, 0, rnd, 32768);
    e_fixed(&e, 1);
    e_match(&e, 258, 32768);
    e_match(&e, 3, 32768);
    e_lit(&e, 0);
    e_match(&e, 100, 32768);
    e_match(&e, 10, 24577);         /* the first distance with 13 extra bits */
    e_match(&e, 10, 32767);
    e_end(&e);
    g = e_gzip(&e, 0);
    expect("distance 32768", g.p, g.n, e.exp.n, CNN_OK, NULL, e.exp.p, e.exp.n);
    CHECK(memcmp(e.exp.p + 32768, rnd, 258) == 0, "distance 32768: model is a copy");
    tb_free(&g); tb_free(&e.exp);

    /* many blocks of every type; copies reach back across block boundaries */
    memset(&e, 0, sizeof e);
    e_stored(&e, 0, "Hello, ", 7);
    e_stored(&e, 0, "", 0);                         /* empty stored block */
    e_fixed(&e, 0);
    e_lit(&e, 'w'); e_lit(&e, 'o'); e_lit(&e, 'r'); e_lit(&e, 'l'); e_lit(&e, 'd');
    e_match(&e, 7, 12);                             /* "Hello, " again, from the stored block */
    e_end(&e);
    memset(ll, 0, sizeof ll);                       /* dynamic: literals 'a'..'d', EOB, lengths */
    for (i = 'a'; i <= 'd'; i++) ll[i] = 3;
    ll[256] = 3; ll[257] = 3; ll[258] = 4; ll[259] = 4; ll[265] = 3;
    /* complete: 7 codes of length 3 (7/8) + 2 of length 4 (2/16) = 1 */
    memset(dl, 0, sizeof dl);
    dl[0] = 2; dl[5] = 2; dl[8] = 2; dl[9] = 2;     /* distances 1, 7-8, 17-24, 25-32 */
    e_dynamic(&e, 0, ll, 286, dl, 30);
    e_lit(&e, 'a'); e_lit(&e, 'b'); e_lit(&e, 'c'); e_lit(&e, 'd');
    e_match(&e, 3, 1); e_match(&e, 4, 7); e_match(&e, 5, 20); e_match(&e, 11, 25);
    e_end(&e);
    e_fixed(&e, 0);
    e_match(&e, 258, 30);
    e_end(&e);
    e_stored(&e, 0, rnd, 3000);                     /* a long stored block in the middle */
    e_fixed(&e, 0);
    e_match(&e, 200, 3100);
    e_end(&e);
    e_stored(&e, 1, "!", 1);
    g = e_gzip(&e, 2 | 8);
    expect("mixed blocks", g.p, g.n, e.exp.n, CNN_OK, NULL, e.exp.p, e.exp.n);
    all_prefixes("mixed blocks", g.p, g.n, e.exp.n, 0);
    all_changes("mixed blocks", g.p, g.n, e.exp.p, e.exp.n, 0);
    tb_free(&g); tb_free(&e.exp);

    /* codes of every length 1..15: the long ones take the decoder's slow path */
    memset(&e, 0, sizeof e);
    memset(ll, 0, sizeof ll);
    for (i = 0; i < 15; i++) ll['A' + i] = (unsigned char)(i + 1);   /* 'A' 1 bit ... 'O' 15 */
    ll[256] = 15;                                    /* 1/2 + 1/4 + ... + 2/2^15 = 1 */
    memset(dl, 0, sizeof dl);
    e_dynamic(&e, 1, ll, 257, dl, 1);                /* no distance code at all */
    for (i = 0; i < 15; i++) { e_lit(&e, 'A' + 14 - i); e_lit(&e, 'A' + i); }
    for (i = 0; i < 100; i++) e_lit(&e, 'A' + t_rand() % 15);
    e_end(&e);
    g = e_gzip(&e, 0);
    expect("codes of 1..15 bits", g.p, g.n, e.exp.n, CNN_OK, NULL, e.exp.p, e.exp.n);
    all_prefixes("codes of 1..15 bits", g.p, g.n, e.exp.n, 0);
    tb_free(&g); tb_free(&e.exp);

    /* one distance code of 1 bit, and a block that holds only end-of-block */
    memset(&e, 0, sizeof e);
    memset(ll, 0, sizeof ll);
    ll['z'] = 1; ll[256] = 2; ll[260] = 2;          /* length 6 */
    memset(dl, 0, sizeof dl);
    dl[3] = 1;                                       /* distance 4 only */
    e_dynamic(&e, 0, ll, 261, dl, 4);
    e_lit(&e, 'z'); e_lit(&e, 'z'); e_lit(&e, 'z'); e_lit(&e, 'z');
    e_match(&e, 6, 4);
    e_end(&e);
    memset(ll, 0, sizeof ll);
    ll[256] = 1;
    e_dynamic(&e, 1, ll, 257, dl, 1);                /* dl[0] is 0: no distance code */
    e_end(&e);
    g = e_gzip(&e, 0);
    expect("single-code codes", g.p, g.n, e.exp.n, CNN_OK, NULL, e.exp.p, e.exp.n);
    tb_free(&g); tb_free(&e.exp);

    /* an empty member, and an empty member then a full one */
    memset(&e, 0, sizeof e);
    e_stored(&e, 1, "", 0);
    g = e_gzip(&e, 0);
    expect("empty member", g.p, g.n, 0, CNN_OK, NULL, "", 0);
    {
        size_t got = 1;
        CHECK(cnn_gzip_inflate(g.p, g.n, NULL, 0, &got, NULL) == CNN_OK && got == 0,
              "empty member into a NULL buffer");
    }
    tb_bytes(&g, vec_short_fixed, sizeof vec_short_fixed);
    expect("empty member + member", g.p, g.n, 100, CNN_OK, NULL, vec_short, sizeof vec_short - 1);
    tb_free(&g); tb_free(&e.exp);
    free(rnd);
}

/* Each kind of broken stream, with the status and message fragment it must produce. */
static void test_invalid(void)
{
    static const int order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14,
                                   1, 15 };
    bw w;
    tbuf g;
    hcode lit, dist, clc;
    unsigned char ll[286], dl[30], cl[19];
    size_t n = sizeof vec_text_level6;
    int i;

#define BEGIN() memset(&w, 0, sizeof w)
#define FINISH(what, status, frag)                                                      \
    do {                                                                                \
        g = bw_gzip(&w, "", 0, 0);                                                      \
        expect(what, g.p, g.n, 1000, status, frag, NULL, 0);                            \
        tb_free(&g);                                                                    \
    } while (0)

    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 3, 2); bw_bits(&w, 0, 32);
    FINISH("block type 3", CNN_ERR_DEFLATE, "reserved block type 3");

    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 0, 2); bw_align(&w);
    bw_bits(&w, 5, 16); bw_bits(&w, 0xFFFF ^ 6, 16); tb_bytes(&w.out, "abcde", 5);
    FINISH("stored length", CNN_ERR_DEFLATE, "stored block length 5 does not match");

    /* the code-length code itself: 19 codes of 1 bit, then two of 2 bits */
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 2, 2); bw_bits(&w, 0, 5); bw_bits(&w, 0, 5);
    bw_bits(&w, 15, 4); for (i = 0; i < 19; i++) bw_bits(&w, 1, 3); bw_bits(&w, 0, 32);
    FINISH("over-subscribed code-length code", CNN_ERR_DEFLATE, "over-subscribed code-length");
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 2, 2); bw_bits(&w, 0, 5); bw_bits(&w, 0, 5);
    bw_bits(&w, 0, 4); bw_bits(&w, 2, 3); bw_bits(&w, 2, 3); bw_bits(&w, 0, 3);
    bw_bits(&w, 0, 3); bw_bits(&w, 0, 32);
    FINISH("incomplete code-length code", CNN_ERR_DEFLATE, "incomplete code-length");

    memset(dl, 0, sizeof dl);
    dl[0] = 1;
    memset(ll, 0, sizeof ll);
    ll[0] = 1; ll[1] = 1; ll[256] = 1;
    BEGIN(); bw_dynamic_header(&w, 1, ll, 257, dl, 1); bw_bits(&w, 0, 32);
    FINISH("over-subscribed literal/length code", CNN_ERR_DEFLATE,
           "over-subscribed literal/length");
    memset(ll, 0, sizeof ll);
    ll['a'] = 2; ll[256] = 2;
    BEGIN(); bw_dynamic_header(&w, 1, ll, 257, dl, 1); bw_bits(&w, 0, 32);
    FINISH("incomplete literal/length code", CNN_ERR_DEFLATE, "incomplete literal/length");
    ll['a'] = 1; ll[256] = 1;
    dl[0] = 2; dl[1] = 2;
    BEGIN(); bw_dynamic_header(&w, 1, ll, 257, dl, 2); bw_bits(&w, 0, 32);
    FINISH("incomplete distance code", CNN_ERR_DEFLATE, "incomplete distance");
    dl[0] = 1; dl[1] = 1; dl[2] = 1;
    BEGIN(); bw_dynamic_header(&w, 1, ll, 257, dl, 3); bw_bits(&w, 0, 32);
    FINISH("over-subscribed distance code", CNN_ERR_DEFLATE, "over-subscribed distance");
    memset(ll, 0, sizeof ll);
    ll['a'] = 1; ll['b'] = 1;
    dl[0] = 1; dl[1] = 1; dl[2] = 0;
    BEGIN(); bw_dynamic_header(&w, 1, ll, 257, dl, 2); bw_bits(&w, 0, 32);
    FINISH("no end-of-block code", CNN_ERR_DEFLATE, "no end-of-block");

    /* code-length symbols: 16 first, and a run past the end (complete 4/5-bit cl code) */
    for (i = 0; i < 19; i++) cl[i] = (unsigned char)(i <= 12 ? 4 : 5);
    hc_make(&clc, cl, 19);
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 2, 2); bw_bits(&w, 0, 5); bw_bits(&w, 0, 5);
    bw_bits(&w, 15, 4); for (i = 0; i < 19; i++) bw_bits(&w, cl[order[i]], 3);
    bw_sym(&w, &clc, 16); bw_bits(&w, 0, 2); bw_bits(&w, 0, 32);
    FINISH("repeat 16 first", CNN_ERR_DEFLATE, "repeat code 16 with no previous");
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 2, 2); bw_bits(&w, 0, 5); bw_bits(&w, 0, 5);
    bw_bits(&w, 15, 4); for (i = 0; i < 19; i++) bw_bits(&w, cl[order[i]], 3);
    bw_sym(&w, &clc, 18); bw_bits(&w, 127, 7);          /* 138 zeros */
    bw_sym(&w, &clc, 18); bw_bits(&w, 127, 7);          /* 276 > 257 + 1 = 258 */
    bw_bits(&w, 0, 32);
    FINISH("repeat past the end", CNN_ERR_DEFLATE, "runs past the 258 lengths");
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 2, 2); bw_bits(&w, 30, 5); bw_bits(&w, 0, 5);
    bw_bits(&w, 0, 36);
    FINISH("287 literal/length codes", CNN_ERR_DEFLATE, "287 literal/length");
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 2, 2); bw_bits(&w, 0, 5); bw_bits(&w, 30, 5);
    bw_bits(&w, 0, 36);
    FINISH("31 distance codes", CNN_ERR_DEFLATE, "31 distance");

    hc_fixed(&lit, &dist);
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 1, 2); bw_sym(&w, &lit, 286); bw_bits(&w, 0, 32);
    FINISH("length symbol 286", CNN_ERR_DEFLATE, "invalid length symbol 286");
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 1, 2); bw_sym(&w, &lit, 'a');
    bw_sym(&w, &lit, 257); bw_sym(&w, &dist, 30); bw_bits(&w, 0, 32);
    FINISH("distance symbol 30", CNN_ERR_DEFLATE, "invalid distance symbol 30");
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 1, 2); bw_sym(&w, &lit, 'a');
    bw_match(&w, &lit, &dist, 3, 2); bw_sym(&w, &lit, 256);
    FINISH("distance too far back", CNN_ERR_DEFLATE, "distance 2 too far back");
    BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 1, 2); bw_match(&w, &lit, &dist, 3, 1);
    bw_sym(&w, &lit, 256);
    FINISH("distance at the very start", CNN_ERR_DEFLATE, "distance 1 too far back");

    /* a second member cannot copy from the first one's output */
    {
        tbuf two;
        BEGIN(); bw_stored(&w, 1, "abc", 3);
        two = bw_gzip(&w, "abc", 3, 0);
        BEGIN(); bw_bits(&w, 1, 1); bw_bits(&w, 1, 2); bw_match(&w, &lit, &dist, 3, 3);
        bw_sym(&w, &lit, 256);
        g = bw_gzip(&w, "abc", 3, 0);
        tb_bytes(&two, g.p, g.n);
        tb_free(&g);
        expect("copy into the previous member", two.p, two.n, 100, CNN_ERR_DEFLATE,
               "too far back", NULL, 0);
        tb_free(&two);
    }

    /* a bit pattern that is no code: a code with only end-of-block (1 bit: 0), then a 1 */
    memset(ll, 0, sizeof ll);
    ll[256] = 1;
    memset(dl, 0, sizeof dl);
    BEGIN(); bw_dynamic_header(&w, 1, ll, 257, dl, 1); bw_bits(&w, 1, 1); bw_bits(&w, 0, 40);
    FINISH("unused bit pattern", CNN_ERR_DEFLATE, "no literal/length code matches");

    /* gzip layer */
    g.p = NULL; g.n = g.cap = 0;
    tb_bytes(&g, vec_text_level6, n);
    g.p[n - 8] ^= 1;
    expect("bad CRC", g.p, g.n, 5000, CNN_ERR_CRC, "CRC-32 mismatch", NULL, 0);
    g.p[n - 8] ^= 1;
    g.p[n - 4] ^= 1;
    expect("bad length", g.p, g.n, 5000, CNN_ERR_LENGTH, "trailer at byte", NULL, 0);
    g.p[n - 4] ^= 1;
    set_isize(&g, (uint32_t)(sizeof vec_text - 1) + 0x10000u);
    expect("bad length high bits", g.p, g.n, 5000, CNN_ERR_LENGTH, "length mismatch", NULL, 0);
    set_isize(&g, (uint32_t)(sizeof vec_text - 1));
    expect("restored", g.p, g.n, 5000, CNN_OK, NULL, vec_text, sizeof vec_text - 1);
    g.p[1] = 0x8C;
    expect("bad magic", g.p, g.n, 5000, CNN_ERR_GZIP_HEADER, "magic 1f 8c", NULL, 0);
    g.p[1] = 0x8B; g.p[2] = 7;
    expect("method 7", g.p, g.n, 5000, CNN_ERR_GZIP_HEADER, "compression method 7", NULL, 0);
    g.p[2] = 8;
    for (i = 5; i < 8; i++) {
        char what[32];
        snprintf(what, sizeof what, "reserved flag 0x%02x", 1u << i);
        g.p[3] = (unsigned char)(1u << i);
        expect(what, g.p, g.n, 5000, CNN_ERR_GZIP_HEADER, "reserved flag bits", NULL, 0);
    }
    g.p[3] = 0;
    tb_bytes(&g, "xyz", 3);
    expect("trailing garbage", g.p, g.n, 5000, CNN_ERR_TRAILING, "3 bytes of trailing garbage",
           NULL, 0);
    g.n -= 3;
    tb_byte(&g, 0x1F);                  /* could be the start of another member */
    expect("a trailing 1f", g.p, g.n, 5000, CNN_ERR_TRUNCATED, "header", NULL, 0);
    g.n -= 1;
    tb_byte(&g, 0);
    expect("a trailing zero", g.p, g.n, 5000, CNN_ERR_TRAILING, "trailing garbage", NULL, 0);
    tb_free(&g);

    g = gz_wrap(vec_text_level6 + 10, n - 18, vec_text, sizeof vec_text - 1, 2 | 8);
    g.p[12] ^= 0x20;                    /* in the name, covered by the header CRC */
    expect("header CRC", g.p, g.n, 5000, CNN_ERR_GZIP_HEADER, "header CRC-16", NULL, 0);
    tb_free(&g);

    expect("empty input", (const unsigned char *)"", 0, 10, CNN_ERR_TRUNCATED, "header", NULL, 0);
    expect("only 1f", (const unsigned char *)"\x1f", 1, 10, CNN_ERR_TRUNCATED, "header", NULL, 0);
    expect("not gzip", (const unsigned char *)"PK\3\4 and more bytes", 20, 10,
           CNN_ERR_GZIP_HEADER, "expected 1f 8b", NULL, 0);
    expect("one byte, not gzip", (const unsigned char *)"P", 1, 10, CNN_ERR_GZIP_HEADER,
           "expected 1f 8b", NULL, 0);
#undef BEGIN
#undef FINISH
}

/* Change every byte of small streams: the header CRC covers the header, the CRC-32 and the
   length the rest, so nothing wrong may decode. */
static void test_changes(void)
{
    tbuf g = gz_wrap(vec_short_fixed + 10, sizeof vec_short_fixed - 18, vec_short,
                     sizeof vec_short - 1, 2 | 8);
    all_changes("short fixed, every value", g.p, g.n, vec_short, sizeof vec_short - 1, 1);
    tb_free(&g);
    g = gz_wrap(vec_text_level6 + 10, sizeof vec_text_level6 - 18, vec_text,
                sizeof vec_text - 1, 2 | 4 | 8 | 16);
    all_changes("text level 6, 9 masks", g.p, g.n, vec_text, sizeof vec_text - 1, 0);
    tb_free(&g);
    g = gz_wrap(vec_text_level0 + 10, sizeof vec_text_level0 - 18, vec_text,
                sizeof vec_text - 1, 2);
    all_changes("text level 0 (stored), 9 masks", g.p, g.n, vec_text, sizeof vec_text - 1, 0);
    tb_free(&g);
}

/* 64 MiB of zeros in about 100 KB: decoded whole into a big enough buffer it is valid; with
   a 1 MiB buffer it is refused, and the decoder allocates nothing near that size. */
static void test_bomb(void)
{
    const size_t big = (size_t)64 << 20, cap = (size_t)1 << 20;
    unsigned char *zeros = (unsigned char *)calloc(cap, 1), *out;
    uint32_t crc = 0;
    size_t i, got;
    cnn_error e;
    cnn_status st;
    tbuf g;
    for (i = 0; i < big / cap; i++) crc = cnn_crc32(crc, zeros, cap);
    g = gz_zero_bomb("", 0, big, crc);
    set_isize(&g, (uint32_t)big);
    CHECK(g.n < 200000, "the bomb is %zu bytes", g.n);

    t_largest = 0;
    out = (unsigned char *)malloc(big);
    st = cnn_gzip_inflate(g.p, g.n, out, big, &got, &e);
    CHECK(st == CNN_OK && got == big, "bomb with a 64 MiB buffer: %s %s", cnn_status_name(st),
          st ? e.msg : "");
    for (i = 0; st == CNN_OK && i < big / cap; i++)
        CHECK(memcmp(out + i * cap, zeros, cap) == 0, "bomb MiB %zu is not zeros", i);
    free(out);

    t_largest = 0;
    out = (unsigned char *)malloc(cap);
    st = cnn_gzip_inflate(g.p, g.n, out, cap, &got, &e);
    CHECK(st == CNN_ERR_LIMIT, "bomb with a 1 MiB buffer: %s (%s)", cnn_status_name(st), e.msg);
    CHECK(t_largest < 64 * 1024, "bomb: the decoder asked for %zu bytes", t_largest);
    CHECK(t_live == 0, "bomb: %ld blocks leaked", t_live);
    free(out);
    free(zeros);
    tb_free(&g);
}

static void test_nomem(void)
{
    unsigned char out[2000];
    size_t got;
    cnn_error e;
    cnn_status st;
    t_fail_in = 0;
    st = cnn_gzip_inflate(vec_text_level6, sizeof vec_text_level6, out, sizeof out, &got, &e);
    t_fail_in = -1;
    CHECK(st == CNN_ERR_NOMEM, "no memory for the decoder: %s", cnn_status_name(st));
    CHECK(t_live == 0, "no memory: %ld blocks leaked", t_live);
}

int main(void)
{
    test_crc();
    test_committed_vectors();
    test_header_flags();
    test_built_streams();
    test_invalid();
    test_changes();
    test_bomb();
    test_nomem();
    CHECK(t_live == 0, "%ld blocks still allocated at exit", t_live);
    return check_done("test_gzip");
}
