/* fuzz_gzip.c - libFuzzer harness: cnn_gzip_inflate (gzip/DEFLATE) into a capped buffer.

   Input: gzip bytes, then three option bytes (the last byte is o0):
     cap = (o1 | o2 << 8) << ((o0 >> 2) & 3)           output buffer size, 0 .. 512 KiB
     o0 & 1      pass out = NULL with out_cap 0
     o0 & 2      pass err = NULL

   Invariants: out_size 0 on failure and <= cap on success; nothing written past the buffer
   (sanitizers; a canary in plain builds); decoding again into a buffer of exactly out_size
   bytes gives the same bytes, and one byte less gives CNN_ERR_LIMIT; err.status is the
   returned status; one allocation (the decoder state) and nothing leaked. With -DFUZZ_ZLIB
   (link -lz) every input is also decoded by zlib, member by member: the two must agree on
   success and on the bytes, and zlib producing more than cap bytes means CNN_ERR_LIMIT.
     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_gzip.c -lm -o fuzz_gzip
     cc -std=c99 -O1 -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_gzip.c -lm -o replay_gzip          */
#include "fuzz_common.h"
#include "replay_main.h"
#ifdef FUZZ_ZLIB
#include <zlib.h>
#endif

#define CANARY 64

/* Decode into a fresh buffer of cap bytes followed by a canary; returns the status. */
static cnn_status decode(const uint8_t *data, size_t size, size_t cap, int null_out, int null_err,
                         uint8_t **outp, size_t *out_size)
{
    uint8_t *buf = (uint8_t *)malloc(cap + CANARY);
    cnn_error err;
    cnn_status st;
    size_t i;
    if (!buf) abort();
    memset(buf + cap, 0xC3, CANARY);
    fuzz_err_poison(&err);
    *out_size = (size_t)-1;
    fuzz_alloc_begin(65536);
    st = cnn_gzip_inflate(data, size, null_out ? NULL : buf, null_out ? 0 : cap, out_size,
                          null_err ? NULL : &err);
    fuzz_alloc_done("gzip_inflate");
    if (!null_err) fuzz_check_err(st, &err, "gzip_inflate");
    for (i = cap; i < cap + CANARY; i++)
        FUZZ_CHECK(buf[i] == 0xC3, "wrote past the %zu-byte buffer (byte %zu)", cap, i);
    if (st != CNN_OK) FUZZ_CHECK(*out_size == 0, "out_size %zu after %s", *out_size, cnn_status_name(st));
    else FUZZ_CHECK(*out_size <= (null_out ? 0 : cap), "out_size %zu over the cap %zu", *out_size, cap);
    *outp = buf;
    return st;
}

#ifdef FUZZ_ZLIB
enum { Z_REF_OK, Z_REF_LIMIT, Z_REF_ERR };
/* zlib's reading of the same rules: members one after another, each complete with its
   trailer; after a member, 1f (8b) starts another, anything else is garbage. out has room
   for cap + 1 bytes, so filling it means "more than cap". */
static int zlib_ref(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *olen)
{
    size_t pos = 0, o = 0;
    *olen = 0;
    do {
        z_stream z;
        int r;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 16 + 15) != Z_OK) abort();
        z.next_in = (Bytef *)(uintptr_t)(in + pos);
        z.avail_in = (uInt)(n - pos);
        z.next_out = out + o;
        z.avail_out = (uInt)(cap + 1 - o);
        r = inflate(&z, Z_FINISH);
        pos += (n - pos) - z.avail_in;
        o += (cap + 1 - o) - z.avail_out;
        inflateEnd(&z);
        if (o > cap) return Z_REF_LIMIT;
        if (r != Z_STREAM_END) return Z_REF_ERR;
        if (pos < n && in[pos] == 0x1F && (pos + 1 == n || in[pos + 1] == 0x8B)) continue;
        if (pos < n) return Z_REF_ERR;
    } while (pos < n);
    *olen = o;
    return Z_REF_OK;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned o0 = fuzz_take(&size, data), o1 = fuzz_take(&size, data), o2 = fuzz_take(&size, data);
    size_t cap = (size_t)(o1 | o2 << 8) << ((o0 >> 2) & 3);
    int null_out = o0 & 1, null_err = (o0 >> 1) & 1;
    uint8_t *out, *again;
    size_t out_size, n2;
    cnn_status st, st2;

    if (null_out) cap = 0;
    st = decode(data, size, cap, null_out, null_err, &out, &out_size);
    if (st == CNN_OK) {
        /* exactly enough room: the same bytes; one byte less: the limit */
        st2 = decode(data, size, out_size, 0, 0, &again, &n2);
        FUZZ_CHECK(st2 == CNN_OK && n2 == out_size && (out_size == 0 || memcmp(again, out, out_size) == 0),
                   "decoding into exactly %zu bytes gave %s with %zu bytes", out_size, cnn_status_name(st2), n2);
        free(again);
        if (out_size > 0) {
            st2 = decode(data, size, out_size - 1, 0, 0, &again, &n2);
            FUZZ_CHECK(st2 == CNN_ERR_LIMIT, "%zu bytes into %zu: %s, not CNN_ERR_LIMIT", out_size,
                       out_size - 1, cnn_status_name(st2));
            free(again);
        }
    }
#ifdef FUZZ_ZLIB
    {
        uint8_t *zout = (uint8_t *)malloc(cap + 1);
        size_t zn = 0;
        int z;
        if (!zout) abort();
        z = zlib_ref(data, size, zout, cap, &zn);
        if (z == Z_REF_OK)
            FUZZ_CHECK(st == CNN_OK && out_size == zn && (zn == 0 || memcmp(zout, out, zn) == 0),
                       "zlib decodes %zu bytes, cnn.h says %s with %zu bytes", zn, cnn_status_name(st), out_size);
        else if (z == Z_REF_LIMIT)
            FUZZ_CHECK(st == CNN_ERR_LIMIT, "zlib decodes more than %zu bytes, cnn.h says %s", cap,
                       cnn_status_name(st));
        else   /* zlib stops with an error before cap + 1 bytes: an error here too (or the
                  limit, when a stored block announces more than the room left) */
            FUZZ_CHECK(st != CNN_OK, "zlib refuses the stream, cnn.h decodes %zu bytes", out_size);
        free(zout);
    }
#endif
    free(out);
    return 0;
}
