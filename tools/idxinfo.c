/* idxinfo - what is in an IDX file (plain or .gz), checked by cnn.h's loader.

   Build (from the repository root):  cc -O2 -I. tools/idxinfo.c -o idxinfo -lm
   Use:    idxinfo [--show I] FILE...

   For each file: its element type, dimensions and value range; for a label file (ubyte,
   one dimension) the class histogram; with --show I, image I of an image file drawn in the
   terminal. Exit status 0 when every file is valid, 1 (after the loader's message) when one
   is not, 2 for a usage error. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double value_at(const cnn_idx *r, size_t i)
{
    const void *p = r->data;
    switch (r->type) {
    case CNN_IDX_U8:  return ((const unsigned char *)p)[i];
    case CNN_IDX_I8:  return ((const signed char *)p)[i];
    case CNN_IDX_I16: return ((const int16_t *)p)[i];
    case CNN_IDX_I32: return ((const int32_t *)p)[i];
    case CNN_IDX_F32: return ((const float *)p)[i];
    default:          return ((const double *)p)[i];
    }
}

static void histogram(const cnn_idx *r)
{
    const unsigned char *y = (const unsigned char *)r->data;
    size_t count[256] = { 0 }, i, top = 0;
    int c;
    for (i = 0; i < r->count; i++) count[y[i]]++;
    for (c = 0; c < 256; c++) if (count[c] > top) top = count[c];
    printf("  class histogram:\n");
    for (c = 0; c < 256; c++) {
        int bar, k;
        if (!count[c]) continue;
        bar = (int)(40.0 * (double)count[c] / (double)top + 0.5);
        printf("  %5d %8zu  ", c, count[c]);
        for (k = 0; k < bar; k++) putchar('#');
        putchar('\n');
    }
}

/* image `index` of an (N, H, W) file, two characters per pixel, darker = more ink */
static int show(const cnn_idx *r, const char *path, size_t index)
{
    static const char shades[] = " .:-=+*#%@";
    double lo = 0, hi = 255, v;
    size_t h, w, y, x, base, i;
    if (r->ndims != 3) {
        fprintf(stderr, "idxinfo: %s: --show needs images (3 dimensions), this has %d\n", path,
                r->ndims);
        return 1;
    }
    if (index >= r->dims[0]) {
        fprintf(stderr, "idxinfo: %s: --show %zu, but there are %zu images (0..%zu)\n", path,
                index, r->dims[0], r->dims[0] ? r->dims[0] - 1 : 0);
        return 1;
    }
    h = r->dims[1];
    w = r->dims[2];
    base = index * h * w;
    if (r->type != CNN_IDX_U8) {                 /* scale other types by this image's range */
        lo = hi = (h > 0 && w > 0) ? value_at(r, base) : 0;
        for (i = 0; i < h * w; i++) {
            v = value_at(r, base + i);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    }
    printf("  image %zu:\n", index);
    for (y = 0; y < h; y++) {
        printf("  |");
        for (x = 0; x < w; x++) {
            int s;
            v = value_at(r, base + y * w + x);
            s = hi > lo ? (int)((v - lo) / (hi - lo) * 9.0 + 0.5) : 0;
            if (s < 0) s = 0;
            if (s > 9) s = 9;
            putchar(shades[s]);
            putchar(shades[s]);
        }
        printf("|\n");
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: idxinfo [--show I] FILE...\n"
                    "  prints each IDX file's type, dimensions and value range, the class\n"
                    "  histogram of label files, and with --show I draws image I\n");
    return 2;
}

int main(int argc, char **argv)
{
    long show_index = -1;
    int i, nfiles = 0, bad = 0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--show") == 0) {
            char *end;
            if (i + 1 >= argc) return usage();
            show_index = strtol(argv[++i], &end, 10);
            if (*end || show_index < 0) return usage();
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage();
        }
    }
    for (i = 1; i < argc; i++) {
        cnn_idx r;
        cnn_error err;
        const char *path = argv[i], *tn;
        size_t k;
        double lo, hi;
        int d;
        if (strcmp(path, "--show") == 0) { i++; continue; }
        nfiles++;
        if (cnn_idx_read_file(path, NULL, &r, &err) != CNN_OK) {
            fprintf(stderr, "idxinfo: %s\n", err.msg);
            bad = 1;
            continue;
        }
        tn = cnn_idx_type_name(r.type);
        printf("%s: %s%s (0x%02x), %d dimension%s: ", path, r.gzipped ? "gzip, " : "", tn,
               r.type, r.ndims, r.ndims == 1 ? "" : "s");
        for (d = 0; d < r.ndims; d++) printf("%s%zu", d ? " x " : "", r.dims[d]);
        lo = hi = r.count ? value_at(&r, 0) : 0;
        for (k = 1; k < r.count; k++) {
            double v = value_at(&r, k);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        printf(", values %g..%g\n", lo, hi);
        if (r.type == CNN_IDX_U8 && r.ndims == 1) histogram(&r);
        if (show_index >= 0 && r.ndims != 1 && show(&r, path, (size_t)show_index)) bad = 1;
        cnn_idx_free(&r);
    }
    if (nfiles == 0) return usage();
    return bad;
}
