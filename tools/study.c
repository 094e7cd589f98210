/* study.c - the study, end to end: train its configurations on Fashion-MNIST under its
   protocol, write per-run results, and build report.md with the study's numbers beside ours.

   cc -O3 -march=native -fopenmp tools/study.c -lm -o study     (plain `cc -O2 ... -lm` works too)
   ./study --help

   Protocol (the study's): Glorot uniform, Adam (Keras defaults), softmax cross-entropy, batch
   norm after every conv, 10% of the training set held out for early stopping on validation
   loss (patience 20, best weights restored); the test set is used once, at the end. */
#define _POSIX_C_SOURCE 200809L
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_RUNS 512

typedef struct options {
    int models[64], nmodels;
    const char *spec;                 /* a custom configuration instead of --models */
    int epochs, batch, patience, seeds, threads, quick, list, progress, report;
    double val_split, bn_momentum;
    unsigned long long seed;
    cnn_order order;
    size_t limit, test_limit;
    const char *data, *out;
    const char *merge[32];
    int nmerge;
} options;

/* ---- small utilities ----------------------------------------------------------------- */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what, const cnn_error *err)
{
    fprintf(stderr, "study: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

/* a growable string, written out atomically */
typedef struct text { char *s; size_t len, cap; } text;

static void tcat(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->s && (size_t)n < room) { t->len += (size_t)n; return; }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        if (!(t->s = (char *)realloc(t->s, t->cap))) die("out of memory", NULL);
    }
}

static void tsave(text *t, const char *path)
{
    cnn_error err;
    if (cnn_file_write_atomic(path, t->s ? t->s : "", t->len, &err)) die("cannot write", &err);
    free(t->s);
    t->s = NULL; t->len = t->cap = 0;
}

static void xml_escape(text *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') tcat(t, "&amp;");
        else if (*s == '<') tcat(t, "&lt;");
        else if (*s == '>') tcat(t, "&gt;");
        else if (*s == '"') tcat(t, "&quot;");
        else tcat(t, "%c", *s);
    }
}

static void make_dir(const char *p)
{
    char buf[1024];
    size_t i;
    snprintf(buf, sizeof buf, "%s", p);
    for (i = 1; buf[i]; i++)
        if (buf[i] == '/') { buf[i] = 0; mkdir(buf, 0777); buf[i] = '/'; }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "study: cannot create %s: %s\n", p, strerror(errno));
        exit(1);
    }
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (1L << 24) || !(s = (char *)malloc((size_t)n + 1))) { fclose(f); return NULL; }
    n = (long)fread(s, 1, (size_t)n, f);
    s[n] = 0;
    fclose(f);
    return s;
}

/* ---- one run: a configuration and a seed ------------------------------------------------ */
typedef struct result {
    int model;                        /* 1..22, 0 for --spec */
    char spec[256], order[16], dir[640];
    unsigned long long seed;
    double train_acc, test_acc, train_loss, test_loss, seconds;
    int epochs, best_epoch;
    size_t confusion[100];
    int has_confusion;
    /* the budget it was made with, from result.json (has_budget 0 for a run made just now) */
    double cap, batch, patience, val_split, train_images, test_images;
    int has_budget;
    /* history, for the plots */
    int nh;
    double h_acc[1000], h_loss[1000], h_vacc[1000], h_vloss[1000];
} result;

typedef struct run_ctx {
    const options *o;
    result *r;
    const char *label;
    double t0, t_epoch;
    double ep_s[1000];   /* each epoch's seconds, for the ETA */
    int nep, nbatches_seen;
    text csv;
} run_ctx;

static void on_batch(int epoch, int batch, int nbatches, double loss, void *user)
{
    run_ctx *c = (run_ctx *)user;
    int width = 30, filled = (int)((double)batch / nbatches * width), i;
    if (!c->o->progress || (batch % 20 && batch != nbatches)) return;
    fprintf(stderr, "\r  %s epoch %d [", c->label, epoch);
    for (i = 0; i < width; i++) fputc(i < filled ? '=' : i == filled ? '>' : ' ', stderr);
    fprintf(stderr, "] %d/%d loss %.4f ", batch, nbatches, loss);
    fflush(stderr);
}

/* Training resumed from a checkpoint at epoch `epoch`: keep the history rows of the epochs
   before it (a row beyond the checkpoint is redone, with the same numbers) and carry on the
   clock from the last kept row. */
static void resume_history(run_ctx *c, int epoch)
{
    char path[700], *s, *line;
    double last = 0;
    result *r = c->r;
    snprintf(path, sizeof path, "%s/history.csv", r->dir);
    tcat(&c->csv, "epoch,accuracy,loss,val_accuracy,val_loss,seconds\n");
    if (!(s = read_all(path))) return;
    for (line = strchr(s, '\n'); line && *++line && r->nh < 1000; line = strchr(line, '\n')) {
        double ep, a, l, va, vl, sec;
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf", &ep, &a, &l, &va, &vl, &sec) != 6 || ep >= epoch - 1) break;
        tcat(&c->csv, "%d,%.6f,%.6f,%.6f,%.6f,%.3f\n", (int)ep, a, l, va, vl, sec);
        if (c->nep < 1000) c->ep_s[c->nep++] = sec - last;
        r->h_acc[r->nh] = a; r->h_loss[r->nh] = l; r->h_vacc[r->nh] = va; r->h_vloss[r->nh] = vl;
        r->nh++;
        last = sec;
    }
    free(s);
    c->t0 -= last;   /* seconds keep counting from where the killed run stopped */
    printf("  %s resumed from its checkpoint after epoch %d\n", c->label, epoch - 1);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median epoch's seconds, not the mean: an epoch stretched by a stopped process or a busy
   machine (a run paused for minutes, say) should not inflate every later estimate. */
static double median_epoch_s(const run_ctx *c)
{
    double s[1000];
    int n = c->nep;
    if (n == 0) return 0.0;
    memcpy(s, c->ep_s, (size_t)n * sizeof s[0]);
    qsort(s, (size_t)n, sizeof s[0], cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static int on_epoch(const cnn_epoch_info *e, void *user)
{
    run_ctx *c = (run_ctx *)user;
    result *r = c->r;
    double t = now_s();
    int left = e->epochs - e->epoch, by_patience = c->o->patience - e->wait;
    char path[700];
    if (c->o->patience > 0 && by_patience < left) left = by_patience;
    if (e->epoch > 1 && r->nh == 0) resume_history(c, e->epoch);
    if (c->nep < 1000) c->ep_s[c->nep++] = t - c->t_epoch;
    if (r->nh < 1000) {
        r->h_acc[r->nh] = e->acc; r->h_loss[r->nh] = e->loss;
        r->h_vacc[r->nh] = e->val_acc; r->h_vloss[r->nh] = e->val_loss;
        r->nh++;
    }
    if (c->o->progress) fprintf(stderr, "\r%*s\r", 90, "");
    printf("  %s epoch %3d/%d  loss %.4f acc %.4f  val_loss %.4f val_acc %.4f%s  %5.1fs  at most %d more (~%.0fs)\n",
           c->label, e->epoch, e->epochs, e->loss, e->acc, e->val_loss, e->val_acc, e->improved ? " *" : "  ",
           t - c->t_epoch, left, left * median_epoch_s(c));
    fflush(stdout);
    c->t_epoch = t;
    /* the history as Keras' CSVLogger writes it, plus seconds; rewritten whole every epoch */
    if (e->epoch == 1) { c->csv.len = 0; tcat(&c->csv, "epoch,accuracy,loss,val_accuracy,val_loss,seconds\n"); }
    tcat(&c->csv, "%d,%.6f,%.6f,%.6f,%.6f,%.3f\n", e->epoch - 1, e->acc, e->loss, e->val_acc, e->val_loss, t - c->t0);
    snprintf(path, sizeof path, "%s/history.csv", r->dir);
    {
        cnn_error err;
        if (cnn_file_write_atomic(path, c->csv.s, c->csv.len, &err)) die("history", &err);
    }
    return 0;
}

static void write_result_json(const result *r, const options *o, size_t ntrain, size_t nval, size_t ntest)
{
    const cnn_study_row *row = cnn_study_row_get(r->model);
    text t = {0, 0, 0};
    char path[700];
    int i;
    tcat(&t, "{\n  \"model\": %d,\n  \"spec\": \"%s\",\n  \"order\": \"%s\",\n  \"seed\": %llu,\n", r->model, r->spec,
         r->order, r->seed);
    tcat(&t, "  \"train_acc\": %.6f,\n  \"test_acc\": %.6f,\n  \"train_loss\": %.6f,\n  \"test_loss\": %.6f,\n",
         r->train_acc, r->test_acc, r->train_loss, r->test_loss);
    tcat(&t, "  \"epochs\": %d,\n  \"best_epoch\": %d,\n  \"seconds\": %.1f,\n", r->epochs, r->best_epoch, r->seconds);
    tcat(&t, "  \"config\": {\"epoch_cap\": %d, \"batch\": %d, \"patience\": %d, \"val_split\": %g, "
             "\"bn_momentum\": %g, \"train_images\": %zu, \"val_images\": %zu, \"test_images\": %zu, \"threads\": %d},\n",
         o->epochs, o->batch, o->patience, o->val_split, o->bn_momentum, ntrain, nval, ntest, o->threads);
    if (row)
        tcat(&t, "  \"seed_study\": {\"train_acc\": %g, \"test_acc\": %g, \"train_loss\": %g, \"test_loss\": %g},\n",
             row->train_acc, row->test_acc, row->train_loss, row->test_loss);
    tcat(&t, "  \"confusion\": [");
    for (i = 0; i < 100; i++) tcat(&t, "%s%zu", i ? (i % 10 ? ", " : ",\n                ") : "", r->confusion[i]);
    tcat(&t, "]\n}\n");
    snprintf(path, sizeof path, "%s/result.json", r->dir);
    tsave(&t, path);
}

/* ---- reading result.json back (our own format, so a tiny reader suffices) -------------- */
static int json_num(const char *s, const char *key, double *v)
{
    char pat[64];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    if (!(p = strstr(s, pat))) return 0;
    *v = strtod(p + strlen(pat), NULL);
    return 1;
}

static int json_str(const char *s, const char *key, char *out, size_t cap)
{
    char pat[64];
    const char *p, *q;
    size_t n;
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    if (!(p = strstr(s, pat))) return 0;
    p += strlen(pat);
    if (!(q = strchr(p, '"'))) return 0;
    n = (size_t)(q - p) < cap - 1 ? (size_t)(q - p) : cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return 1;
}

static int load_result(const char *dir, result *r)
{
    char path[700], *s;
    double v;
    const char *p;
    int i;
    snprintf(path, sizeof path, "%s/result.json", dir);
    if (!(s = read_all(path))) return 0;
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    if (!json_num(s, "model", &v) || !json_str(s, "spec", r->spec, sizeof r->spec) ||
        !json_num(s, "test_acc", &r->test_acc) || !json_num(s, "train_acc", &r->train_acc) ||
        !json_num(s, "test_loss", &r->test_loss) || !json_num(s, "train_loss", &r->train_loss)) {
        free(s);
        return 0;
    }
    r->model = (int)v;
    json_str(s, "order", r->order, sizeof r->order);
    if (json_num(s, "seed", &v)) r->seed = (unsigned long long)v;
    if (json_num(s, "epochs", &v)) r->epochs = (int)v;
    if (json_num(s, "best_epoch", &v)) r->best_epoch = (int)v;
    json_num(s, "seconds", &r->seconds);
    r->has_budget = json_num(s, "epoch_cap", &r->cap) && json_num(s, "batch", &r->batch) &&
                    json_num(s, "patience", &r->patience) && json_num(s, "val_split", &r->val_split) &&
                    json_num(s, "train_images", &r->train_images) && json_num(s, "test_images", &r->test_images);
    if ((p = strstr(s, "\"confusion\": ["))) {
        p += 14;
        for (i = 0; i < 100; i++) {
            char *e;
            r->confusion[i] = (size_t)strtoul(p, &e, 10);
            if (e == p) break;
            p = e;
            while (*p == ',' || *p == ' ' || *p == '\n') p++;
        }
        r->has_confusion = i == 100;
    }
    free(s);
    /* the curves come back from history.csv */
    snprintf(path, sizeof path, "%s/history.csv", dir);
    if ((s = read_all(path))) {
        char *line = strchr(s, '\n');
        while (line && *++line && r->nh < 1000) {
            double ep, a, l, va, vl;
            if (sscanf(line, "%lf,%lf,%lf,%lf,%lf", &ep, &a, &l, &va, &vl) == 5) {
                r->h_acc[r->nh] = a; r->h_loss[r->nh] = l; r->h_vacc[r->nh] = va; r->h_vloss[r->nh] = vl;
                r->nh++;
            }
            line = strchr(line, '\n');
        }
        free(s);
    }
    return 1;
}

/* every DIR/<run>/result.json, in name order, appended to rs[nr..] */
static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int gather(const char *dir, result *rs, int nr)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *names[MAX_RUNS], path[1100];
    int n = 0, i;
    if (!d) return nr;
    while ((e = readdir(d)) && n < MAX_RUNS)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (nr < MAX_RUNS && load_result(path, &rs[nr])) nr++;
        free(names[i]);
    }
    return nr;
}

/* ---- SVG plots ------------------------------------------------------------------------- */
typedef struct series { const char *name, *color; const double *v; int n; int dashed; } series;

static void svg_lines(const char *path, const char *title, const char *ylabel, const series *s, int ns)
{
    const double W = 520, H = 300, L = 60, R = 130, T = 30, B = 40;
    double lo = HUGE_VAL, hi = -HUGE_VAL, tick;
    int i, j, n = 1;
    text t = {0, 0, 0};
    for (i = 0; i < ns; i++)
        for (j = 0; j < s[i].n; j++)
            if (isfinite(s[i].v[j])) {
                if (s[i].v[j] < lo) lo = s[i].v[j];
                if (s[i].v[j] > hi) hi = s[i].v[j];
                if (j + 1 > n) n = j + 1;
            }
    if (!(lo < hi)) { lo = isfinite(lo) ? lo - 0.5 : 0; hi = lo + 1; }
    tick = pow(10, floor(log10((hi - lo) / 2)));
    lo = floor(lo / tick) * tick;
    hi = ceil(hi / tick) * tick;
    tcat(&t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"11\">\n", W, H);
    tcat(&t, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%.0f\" y=\"18\" font-size=\"13\">", L);
    xml_escape(&t, title);
    tcat(&t, "</text>\n");
    for (i = 0; lo + i * tick <= hi + tick * 1e-9; i++) {   /* horizontal grid with labels */
        double v = lo + i * tick, y = T + (H - T - B) * (1 - (v - lo) / (hi - lo));
        tcat(&t, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>", L, y, W - R, y);
        tcat(&t, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", L - 4, y + 4, v);
    }
    for (j = 0; j < n; j += n > 10 ? (n + 9) / 10 : 1) {   /* epochs along x */
        double x = L + (W - L - R) * (n > 1 ? (double)j / (n - 1) : 0.5);
        tcat(&t, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n", x, H - B + 14, j + 1);
    }
    tcat(&t, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">epoch</text>\n", (L + W - R) / 2, H - 6);
    tcat(&t, "<text transform=\"translate(14 %.0f) rotate(-90)\" text-anchor=\"middle\">", (T + H - B) / 2);
    xml_escape(&t, ylabel);
    tcat(&t, "</text>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n", L, T,
         W - L - R, H - T - B);
    for (i = 0; i < ns; i++) {
        int started = 0;
        tcat(&t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"", s[i].color,
             s[i].dashed ? " stroke-dasharray=\"5 3\"" : "");
        for (j = 0; j < s[i].n; j++) {
            double x = L + (W - L - R) * (n > 1 ? (double)j / (n - 1) : 0.5);
            if (!isfinite(s[i].v[j])) continue;
            tcat(&t, "%s%.1f,%.1f", started++ ? " " : "", x, T + (H - T - B) * (1 - (s[i].v[j] - lo) / (hi - lo)));
        }
        tcat(&t, "\"/>\n<line x1=\"%.0f\" y1=\"%d\" x2=\"%.0f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>", W - R + 10,
             (int)T + 8 + 16 * i, W - R + 30, (int)T + 8 + 16 * i, s[i].color, s[i].dashed ? " stroke-dasharray=\"5 3\"" : "");
        tcat(&t, "<text x=\"%.0f\" y=\"%d\">", W - R + 34, (int)T + 12 + 16 * i);
        xml_escape(&t, s[i].name);
        tcat(&t, "</text>\n");
    }
    tcat(&t, "</svg>\n");
    tsave(&t, path);
}

static void svg_curves(const result *r, const char *dir)
{
    char path[700], title[300];
    series s[2];
    s[0].name = "training"; s[0].color = "#1f77b4"; s[0].n = r->nh; s[0].dashed = 0;
    s[1].name = "validation"; s[1].color = "#d62728"; s[1].n = r->nh; s[1].dashed = 1;
    s[0].v = r->h_acc; s[1].v = r->h_vacc;
    snprintf(title, sizeof title, "%s%d: accuracy", r->model ? "model " : "custom ", r->model);
    snprintf(path, sizeof path, "%s/accuracy.svg", dir);
    svg_lines(path, title, "accuracy", s, 2);
    s[0].v = r->h_loss; s[1].v = r->h_vloss;
    snprintf(title, sizeof title, "%s%d: log loss", r->model ? "model " : "custom ", r->model);
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    svg_lines(path, title, "log loss", s, 2);
}

static void svg_confusion(const size_t *m, const char *path, const char *title)
{
    const int cell = 34, L = 110, T = 40;
    text t = {0, 0, 0};
    int i, j;
    tcat(&t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"10\">\n",
         L + 10 * cell + 70, T + 10 * cell + 100);
    tcat(&t, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"20\" font-size=\"13\">", L);
    xml_escape(&t, title);
    tcat(&t, "</text>\n");
    for (i = 0; i < 10; i++) {
        size_t row = 0;
        for (j = 0; j < 10; j++) row += m[i * 10 + j];
        tcat(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", L - 4, T + i * cell + cell / 2 + 4,
             cnn_fashion_class_name(i));
        for (j = 0; j < 10; j++) {
            double f = row ? (double)m[i * 10 + j] / row : 0;   /* share of the true class */
            int shade = (int)(255 - 200 * sqrt(f));
            tcat(&t, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,255)\" stroke=\"white\"/>",
                 L + j * cell, T + i * cell, cell, cell, shade, shade);
            tcat(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%zu</text>\n", L + j * cell + cell / 2,
                 T + i * cell + cell / 2 + 4, f > 0.5 ? "white" : "black", m[i * 10 + j]);
        }
    }
    for (j = 0; j < 10; j++)
        tcat(&t, "<text transform=\"translate(%d %d) rotate(45)\">%s</text>\n", L + j * cell + cell / 2 - 4,
             T + 10 * cell + 8, cnn_fashion_class_name(j));
    tcat(&t, "<text x=\"%d\" y=\"%d\">rows: true class, columns: predicted</text>\n</svg>\n", L, T + 10 * cell + 92);
    tsave(&t, path);
}

/* test accuracy of every model: the study's (grey) beside ours (blue) */
static void svg_accuracy_bars(const double *ours, const char *path)
{
    const int bw = 9, gap = 8, L = 50, T = 30, H = 220, W = L + 22 * (2 * bw + gap) + 20;
    double lo = 0.8, hi = 0.95, v;   /* lo moves down, in steps of 0.05, to show every bar */
    text t = {0, 0, 0};
    int m;
    for (m = 1; m <= 22; m++)
        while (ours[m] > 0 && ours[m] < lo + 0.01 && lo > 0.05) lo -= 0.05;
    tcat(&t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"10\">\n",
         W, T + H + 50);
    tcat(&t, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    tcat(&t, "<text x=\"%d\" y=\"18\" font-size=\"13\">Test accuracy: the study (grey) and cnn.h (blue)</text>\n", L);
    for (v = lo; v <= hi + 1e-9; v += hi - lo > 0.3 ? 0.1 : 0.025) {
        double y = T + H * (1 - (v - lo) / (hi - lo));
        tcat(&t, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
                 "text-anchor=\"end\">%.3f</text>\n", L, y, W - 10, y, L - 4, y + 4, v);
    }
    for (m = 1; m <= 22; m++) {
        int x = L + (m - 1) * (2 * bw + gap) + gap / 2, k;
        double vals[2];
        vals[0] = cnn_study_row_get(m)->test_acc;
        vals[1] = ours[m];
        for (k = 0; k < 2; k++) {
            double c = vals[k] < lo ? lo : vals[k] > hi ? hi : vals[k], y = T + H * (1 - (c - lo) / (hi - lo));
            if (!(vals[k] > 0)) continue;   /* not run */
            tcat(&t, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>model %d %s: %.4f</title></rect>\n",
                 x + k * bw, y, bw, T + H - y, k ? "#1f77b4" : "#999", m, k ? "cnn.h" : "study", vals[k]);
        }
        tcat(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x + bw, T + H + 14, m);
    }
    tcat(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">model</text>\n</svg>\n", W / 2, T + H + 34);
    tsave(&t, path);
}

/* ---- report.md --------------------------------------------------------------------------- */
typedef struct agg { int n; double mean[4], sd[4]; const result *first; } agg;   /* train/test acc, train/test loss */

static void aggregate(const result *rs, int nr, int model, agg *a)
{
    int i, k;
    memset(a, 0, sizeof *a);
    for (i = 0; i < nr; i++) {
        double v[4];
        if (rs[i].model != model) continue;
        v[0] = rs[i].train_acc; v[1] = rs[i].test_acc; v[2] = rs[i].train_loss; v[3] = rs[i].test_loss;
        if (!a->first) a->first = &rs[i];
        a->n++;
        for (k = 0; k < 4; k++) { a->mean[k] += v[k]; a->sd[k] += v[k] * v[k]; }
    }
    for (k = 0; k < 4 && a->n; k++) {
        a->mean[k] /= a->n;
        a->sd[k] = a->n > 1 ? sqrt(fmax(0, (a->sd[k] - a->n * a->mean[k] * a->mean[k]) / (a->n - 1))) : 0;
    }
}

static void cell(text *t, const agg *a, int k, double theirs)
{
    if (!a->n) { tcat(t, " %.3g | – | – |", theirs); return; }
    if (a->n > 1) tcat(t, " %.3g | %.3f ± %.3f | %+.3f |", theirs, a->mean[k], a->sd[k], a->mean[k] - theirs);
    else tcat(t, " %.3g | %.3f | %+.3f |", theirs, a->mean[k], a->mean[k] - theirs);
}

static void table(text *t, const result *rs, int nr, const int *models, int nm)
{
    int i;
    tcat(t, "| Model | Hyperparameters | Train acc (study) | Train acc (ours) | Δ | Test acc (study) | Test acc (ours) | Δ "
            "| Train loss (study) | Train loss (ours) | Δ | Test loss (study) | Test loss (ours) | Δ | Epochs (best) |\n");
    tcat(t, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (i = 0; i < nm; i++) {
        const cnn_study_row *row = cnn_study_row_get(models[i]);
        agg a;
        aggregate(rs, nr, models[i], &a);
        tcat(t, "| %d | `%s` |", models[i], row->spec);
        cell(t, &a, 0, row->train_acc);
        cell(t, &a, 1, row->test_acc);
        cell(t, &a, 2, row->train_loss);
        cell(t, &a, 3, row->test_loss);
        if (a.n) tcat(t, " %d (%d) |\n", a.first->epochs, a.first->best_epoch);
        else tcat(t, " not run |\n");
    }
}

/* observations from the numbers: best in the section, both ways, and how far apart we are */
static void observe(text *t, const result *rs, int nr, const int *models, int nm)
{
    int i, best_s = -1, best_o = -1, ran = 0, within = 0;
    double bs = -1, bo = -1, sum = 0;
    for (i = 0; i < nm; i++) {
        const cnn_study_row *row = cnn_study_row_get(models[i]);
        agg a;
        aggregate(rs, nr, models[i], &a);
        if (row->test_acc > bs) { bs = row->test_acc; best_s = models[i]; }
        if (!a.n) continue;
        ran++;
        if (a.mean[1] > bo) { bo = a.mean[1]; best_o = models[i]; }
        sum += fabs(a.mean[1] - row->test_acc);
        within += fabs(a.mean[1] - row->test_acc) <= 0.01;
    }
    if (!ran) { tcat(t, "\nNo configuration of this section has been run yet.\n"); return; }
    tcat(t, "\nObservations (computed from the table): the study's highest test accuracy here is model %d (%.3f); "
            "ours is model %d (%.3f)%s. Mean |Δ test accuracy| over the %d run%s: %.3f; %d of %d within ±0.01 of the study.\n",
         best_s, bs, best_o, bo, best_s == best_o ? ", the same model" : "", ran, ran > 1 ? "s" : "", sum / ran, within, ran);
}

static void build_report(const options *o, const result *rs, int nr, const char *cmdline)
{
    static const struct { const char *title; int models[6]; } sections[] = {
        {"Number of convolution filters", {1, 2, 3, 4}},
        {"Filter size", {1, 5, 6, 7}},
        {"Stride", {1, 10, 11}},
        {"Activation function", {1, 8, 9}},
        {"Dropout", {1, 12, 13, 14, 15}},
        {"Pool size", {1, 16, 17}},
        {"Pool type", {1, 18, 19}},
        {"Second block (filters and pool type; in the study's table, without a section)", {1, 20, 21}},
        {"Number of convolutional blocks", {1, 22}},
    };
    text t = {0, 0, 0};
    char path[700];
    double ours[23] = {0};
    int all[22], i, s, m, base = -1;
    double secs = 0;
    for (m = 1; m <= 22; m++) {
        agg a;
        all[m - 1] = m;
        aggregate(rs, nr, m, &a);
        ours[m] = a.n ? a.mean[1] : 0;
    }
    for (i = 0; i < nr; i++) {
        secs += rs[i].seconds;
        if (rs[i].model == 1 && rs[i].has_confusion && base < 0) base = i;
    }
    snprintf(path, sizeof path, "%s/test_accuracy.svg", o->out);
    svg_accuracy_bars(ours, path);
    tcat(&t, "# The study, reproduced with cnn.h\n\n");
    tcat(&t, "Each row puts the figures reported by the study (CS F425 Deep Learning, Assignment 2: 22 CNNs on "
             "Fashion-MNIST) beside ours, and the difference (ours − study). %d run%s, %.0f s of training in all. "
             "Made by:\n\n    %s\n\n", nr, nr == 1 ? "" : "s", secs, cmdline);
    {   /* the budget the runs were made with: a merge may gather runs of another budget than this
           invocation's options, so result.json says; runs made just now used the options */
        double cap = o->epochs, bt = o->batch, pa = o->patience, vs = o->val_split, ti = 0, te = 0;
        int known = 0, same = 1;
        for (i = 0; i < nr; i++) {
            if (!rs[i].has_budget) continue;
            if (!known) {
                cap = rs[i].cap; bt = rs[i].batch; pa = rs[i].patience; vs = rs[i].val_split;
                ti = rs[i].train_images; te = rs[i].test_images;
                known = 1;
            } else if (rs[i].cap != cap || rs[i].batch != bt || rs[i].patience != pa || rs[i].val_split != vs ||
                       rs[i].train_images != ti || rs[i].test_images != te) {
                same = 0;
            }
        }
        tcat(&t, "Protocol: Glorot uniform, Adam (lr 1e-3), cross-entropy, batch norm after every conv, the last %.0f%% of "
                 "the training images held out for early stopping on validation loss (patience %.0f, best weights "
                 "restored, cap %.0f epochs), batch %.0f", vs * 100, pa, cap, bt);
        if (known && same) tcat(&t, "; %.0f training images after the hold-out, %.0f test images", ti, te);
        tcat(&t, ".%s Train figures are the best weights evaluated on the training part in inference mode; test "
                 "figures on the test set.\n\n",
             same ? "" : " Not all runs here share that budget: each run's result.json has its own.");
    }
    tcat(&t, "![test accuracy](test_accuracy.svg)\n\n## All configurations\n\n");
    table(&t, rs, nr, all, 22);
    observe(&t, rs, nr, all, 22);
    for (s = 0; s < (int)(sizeof sections / sizeof sections[0]); s++) {
        int nm = 0;
        while (nm < 6 && sections[s].models[nm]) nm++;
        tcat(&t, "\n## %s\n\n", sections[s].title);
        table(&t, rs, nr, sections[s].models, nm);
        observe(&t, rs, nr, sections[s].models, nm);
        tcat(&t, "\n");
        for (i = 0; i < nm; i++) {
            agg a;
            aggregate(rs, nr, sections[s].models[i], &a);
            if (a.n)
                tcat(&t, "Model %d: ![accuracy](%s/accuracy.svg) ![loss](%s/loss.svg)\n\n", sections[s].models[i],
                     strrchr(a.first->dir, '/') ? strrchr(a.first->dir, '/') + 1 : a.first->dir,
                     strrchr(a.first->dir, '/') ? strrchr(a.first->dir, '/') + 1 : a.first->dir);
        }
    }
    for (i = 0; i < nr; i++)
        if (rs[i].model == 0) {
            if (i == 0 || rs[i - 1].model != 0) tcat(&t, "\n## Other configurations\n\n| Spec | Seed | Train acc | Test acc | Train loss | Test loss |\n|---|---|---|---|---|---|\n");
            tcat(&t, "| `%s` | %llu | %.3f | %.3f | %.3f | %.3f |\n", rs[i].spec, rs[i].seed, rs[i].train_acc, rs[i].test_acc,
                 rs[i].train_loss, rs[i].test_loss);
        }
    tcat(&t, "\n## Base model: classification report\n\n");
    if (base >= 0) {
        char rep[4096];
        static const char *const names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        cnn_report_format(rs[base].confusion, 10, names, 2, rep, sizeof rep);
        tcat(&t, "Ours (seed %llu; classes 0-9 are T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, "
                 "Bag, Ankle boot):\n\n```\n%s```\n\n", rs[base].seed, rep);
        tcat(&t, "The study's, for comparison: precision / recall per class 0.86/0.89, 0.99/0.99, 0.87/0.89, 0.92/0.92, "
                 "0.89/0.84, 0.99/0.99, 0.77/0.76, 0.97/0.98, 0.97/0.99, 0.98/0.97; accuracy 0.92.\n\n");
        snprintf(path, sizeof path, "%s/confusion_base.svg", o->out);
        svg_confusion(rs[base].confusion, path, "Base model: confusion matrix on the test set");
        tcat(&t, "![confusion matrix](confusion_base.svg)\n");
    } else {
        tcat(&t, "The base model (1) has not been run.\n");
    }
    snprintf(path, sizeof path, "%s/report.md", o->out);
    tsave(&t, path);
}

/* ---- training one configuration --------------------------------------------------------- */
static void run_one(const options *o, const cnn_dataset *train, const cnn_dataset *test, int model, unsigned long long seed,
                    result *r)
{
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_error err;
    cnn_train_opts to;
    cnn_train_result tr;
    cnn_rng init;
    run_ctx c;
    char label[64], path[700], rep[4096], ckpt[700];
    size_t ntrain = (size_t)floor((double)train->n * (1.0 - o->val_split)), i;
    float *probs;
    int *pred;
    double t0 = now_s();

    if (model) { if (cnn_study_desc(&d, model, &err)) die("model", &err); }
    else {
        cnn_net_desc_init(&d, 1, 28, 28, 10);
        if (cnn_net_desc_parse(&d, o->spec, &err)) die("--spec", &err);
    }
    d.order = o->order;
    d.bn_momentum = (float)o->bn_momentum;
    if (cnn_net_create(&net, &d, &err)) die("building the net", &err);
    cnn_rng_seed(&init, seed);
    cnn_net_init(net, &init);
    cnn_train_opts_init(&to);
    to.epochs = o->epochs; to.batch = o->batch; to.patience = o->patience; to.val_split = o->val_split;
    to.seed = seed; to.on_epoch = on_epoch; to.on_batch = on_batch;
    memset(&c, 0, sizeof c);
    c.o = o; c.r = r; c.label = label; c.t0 = c.t_epoch = t0;
    to.user = &c;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", r->dir);
    to.checkpoint = ckpt;   /* every epoch; a killed run picks up from here */
    snprintf(label, sizeof label, "%s%02d s%llu", model ? "m" : "spec", model, seed);
    printf("%s: %s, %s, %zu parameters\n", label, r->spec, r->order, cnn_net_param_count(net));
    if (cnn_net_train(net, train->x, train->y, train->n, &to, &tr, &err)) die(label, &err);
    free(c.csv.s);
    r->epochs = tr.epochs_run;
    r->best_epoch = tr.best_epoch;
    if (cnn_net_evaluate(net, train->x, train->y, ntrain, 256, &r->train_acc, &r->train_loss, &err) ||
        cnn_net_evaluate(net, test->x, test->y, test->n, 256, &r->test_acc, &r->test_loss, &err))
        die("evaluate", &err);
    probs = (float *)malloc(sizeof(float) * 10 * test->n);
    pred = (int *)malloc(sizeof(int) * test->n);
    if (!probs || !pred) die("out of memory", NULL);
    if (cnn_net_predict(net, test->x, test->n, 256, probs, &err)) die("predict", &err);
    cnn_argmax_rows(probs, test->n, 10, pred);
    cnn_confusion_matrix(test->y, pred, test->n, 10, r->confusion, NULL);
    r->has_confusion = 1;
    free(probs); free(pred);
    r->seconds = now_s() - c.t0;
    /* model, report and plots first; result.json last, as the mark of a finished run */
    snprintf(path, sizeof path, "%s/model.cnn", r->dir);
    if (cnn_net_save(net, path, &err)) die("saving the model", &err);
    {
        const char *names[10];
        text t = {0, 0, 0};
        for (i = 0; i < 10; i++) names[i] = cnn_fashion_class_name((int)i);
        cnn_report_format(r->confusion, 10, names, 2, rep, sizeof rep);
        tcat(&t, "%s\n%s\nconfusion matrix (rows: true class, columns: predicted)\n", r->spec, rep);
        for (i = 0; i < 100; i++) tcat(&t, "%6zu%s", r->confusion[i], i % 10 == 9 ? "\n" : "");
        snprintf(path, sizeof path, "%s/report.txt", r->dir);
        tsave(&t, path);
    }
    svg_curves(r, r->dir);
    snprintf(path, sizeof path, "%s/confusion.svg", r->dir);
    svg_confusion(r->confusion, path, label);
    write_result_json(r, o, ntrain, train->n - ntrain, test->n);
    remove(ckpt);   /* result.json now marks the run finished */
    printf("%s: train acc %.4f loss %.4f, test acc %.4f loss %.4f, %d epochs (best %d), %.0f s\n", label, r->train_acc,
           r->train_loss, r->test_acc, r->test_loss, r->epochs, r->best_epoch, r->seconds);
    cnn_net_free(net);
}

/* ---- command line ------------------------------------------------------------------------ */
static void usage(FILE *f)
{
    fprintf(f,
"usage: study [options]            train the study's configurations and write OUT/report.md\n"
"       study --list-commands ...  print one independent command per configuration and seed\n"
"       study --merge DIR... --out OUT   build OUT/report.md from finished runs in DIR...\n"
"\n"
"  --models LIST     configurations by number, e.g. 1,3,22 or 1-22 (default: all 22)\n"
"  --spec TEXT       one configuration in the study's notation instead, e.g.\n"
"                    \"(64, (3,3), (1,1), 'relu', 0.2, 2, 'max')\"\n"
"  --epochs N        cap on epochs (default 200; early stopping usually ends sooner)\n"
"  --batch N         batch size (default 32, Keras' default)\n"
"  --patience N      early-stopping patience on validation loss (default 20)\n"
"  --val-split F     fraction of the training images held out (default 0.1)\n"
"  --seed N          first seed (default 42)     --seeds K   K seeds per configuration (default 1)\n"
"  --threads N       OpenMP threads (default: all; results do not depend on it)\n"
"  --order O         conv-bn-act (default) or conv-act-bn\n"
"  --limit N         train on the first N training images only\n"
"  --test-limit N    evaluate on the first N test images only\n"
"  --data DIR        Fashion-MNIST directory (default: $CNN_DATA_DIR, then %s)\n"
"  --out DIR         where results go (default results)\n"
"  --quick           a small budget for a first look: --limit 6000 --test-limit 2000 --epochs 5\n"
"                    --patience 5 (about 10 minutes on 2 idle cores; the figures are then well below the\n"
"                    study's: 845 steps are few for batch norm's running averages at momentum 0.99)\n"
"  --bn-momentum M   batch-norm momentum (default 0.99, Keras')\n"
"  --no-progress     no progress bar\n"
"  --no-report       leave OUT/report.md and the summary plots alone (the commands of --list-commands\n"
"                    carry it, so that parallel jobs sharing OUT do not all rewrite them; --merge\n"
"                    builds them once at the end)\n"
"Runs whose OUT/<run>/result.json exists are skipped, so a killed study resumes where it stopped.\n",
            CNN_DATA_DIR_DEFAULT);
}

static int parse_models(const char *s, options *o)
{
    while (*s) {
        char *e;
        long a = strtol(s, &e, 10), b = a;
        if (e == s) return 0;
        if (*e == '-') { s = e + 1; b = strtol(s, &e, 10); if (e == s) return 0; }
        if (a < 1 || b > 22 || a > b) return 0;
        for (; a <= b && o->nmodels < 64; a++) o->models[o->nmodels++] = (int)a;
        s = e;
        if (*s == ',') s++;
        else if (*s) return 0;
    }
    return o->nmodels > 0;
}

static long need_num(int argc, char **argv, int *i, long lo, long hi)
{
    char *e;
    long v;
    if (*i + 1 >= argc) { fprintf(stderr, "study: %s needs a value\n", argv[*i]); exit(2); }
    v = strtol(argv[++*i], &e, 10);
    if (*e || v < lo || v > hi) {
        fprintf(stderr, "study: %s %s: expected a whole number in %ld..%ld\n", argv[*i - 1], argv[*i], lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    options o;
    static result rs[MAX_RUNS];
    int nr = 0, i, m, k;
    char cmdline[2048] = "";
    cnn_dataset train, test;
    cnn_error err;
    memset(&o, 0, sizeof o);
    o.epochs = 200; o.batch = 32; o.patience = 20; o.seeds = 1; o.val_split = 0.1; o.seed = 42; o.out = "results";
    o.bn_momentum = 0.99;
    o.progress = isatty(2);
    o.report = 1;
    for (i = 0; i < argc; i++) {
        size_t l = strlen(cmdline);
        snprintf(cmdline + l, sizeof cmdline - l, "%s%s%s%s", i ? " " : "", strchr(argv[i], ' ') ? "\"" : "", argv[i],
                 strchr(argv[i], ' ') ? "\"" : "");
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--models")) { if (i + 1 >= argc || !parse_models(argv[++i], &o)) { fprintf(stderr, "study: --models: expected numbers 1..22 like 1,3,22 or 1-22\n"); return 2; } }
        else if (!strcmp(a, "--spec") && i + 1 < argc) o.spec = argv[++i];
        else if (!strcmp(a, "--epochs")) o.epochs = (int)need_num(argc, argv, &i, 1, 100000);
        else if (!strcmp(a, "--batch")) o.batch = (int)need_num(argc, argv, &i, 1, 65536);
        else if (!strcmp(a, "--patience")) o.patience = (int)need_num(argc, argv, &i, 0, 100000);
        else if (!strcmp(a, "--seed")) o.seed = (unsigned long long)need_num(argc, argv, &i, 0, 2147483647L);
        else if (!strcmp(a, "--seeds")) o.seeds = (int)need_num(argc, argv, &i, 1, 100);
        else if (!strcmp(a, "--threads")) o.threads = (int)need_num(argc, argv, &i, 1, 1024);
        else if (!strcmp(a, "--limit")) o.limit = (size_t)need_num(argc, argv, &i, 1, 100000000L);
        else if (!strcmp(a, "--test-limit")) o.test_limit = (size_t)need_num(argc, argv, &i, 1, 100000000L);
        else if (!strcmp(a, "--val-split") && i + 1 < argc) {
            char *e;
            o.val_split = strtod(argv[++i], &e);
            if (*e || !(o.val_split > 0 && o.val_split < 1)) { fprintf(stderr, "study: --val-split %s: expected a fraction in (0,1)\n", argv[i]); return 2; }
        }
        else if (!strcmp(a, "--order") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "conv-bn-act")) o.order = CNN_ORDER_CONV_BN_ACT;
            else if (!strcmp(v, "conv-act-bn")) o.order = CNN_ORDER_CONV_ACT_BN;
            else { fprintf(stderr, "study: --order %s: expected conv-bn-act or conv-act-bn\n", v); return 2; }
        }
        else if (!strcmp(a, "--data") && i + 1 < argc) o.data = argv[++i];
        else if (!strcmp(a, "--out") && i + 1 < argc) o.out = argv[++i];
        else if (!strcmp(a, "--quick")) { o.quick = 1; o.limit = 6000; o.test_limit = 2000; o.epochs = 5; o.patience = 5; }
        else if (!strcmp(a, "--no-progress")) o.progress = 0;
        else if (!strcmp(a, "--no-report")) o.report = 0;
        else if (!strcmp(a, "--bn-momentum") && i + 1 < argc) {
            char *e;
            o.bn_momentum = strtod(argv[++i], &e);
            if (*e || !(o.bn_momentum >= 0 && o.bn_momentum < 1)) { fprintf(stderr, "study: --bn-momentum %s: expected a number in [0,1)\n", argv[i]); return 2; }
        }
        else if (!strcmp(a, "--list-commands")) o.list = 1;
        else if (!strcmp(a, "--merge")) { while (i + 1 < argc && argv[i + 1][0] != '-' && o.nmerge < 32) o.merge[o.nmerge++] = argv[++i]; }
        else { fprintf(stderr, "study: unknown or incomplete option '%s' (see --help)\n", a); return 2; }
    }
    if (o.spec) {
        cnn_block b[CNN_MAX_BLOCKS];
        int nb;
        if (cnn_spec_parse(o.spec, b, CNN_MAX_BLOCKS, &nb, &err)) die("--spec", &err);
        o.nmodels = 1; o.models[0] = 0;
    } else if (!o.nmodels) {
        for (m = 1; m <= 22; m++) o.models[o.nmodels++] = m;
    }
#ifdef _OPENMP
    if (o.threads) omp_set_num_threads(o.threads);
    else o.threads = omp_get_max_threads();
#else
    o.threads = 1;
#endif

    if (o.list) {   /* one command per configuration and seed, for GNU parallel or a job array */
        for (k = 0; k < o.seeds; k++)
            for (i = 0; i < o.nmodels; i++) {
                int j;
                printf("%s", argv[0]);
                for (j = 1; j < argc; j++) {
                    if (!strcmp(argv[j], "--list-commands") || !strcmp(argv[j], "--no-report") ||
                        !strcmp(argv[j], "--no-progress"))
                        continue;
                    if (!strcmp(argv[j], "--models") || !strcmp(argv[j], "--seed") || !strcmp(argv[j], "--seeds")) { j++; continue; }
                    if (!strcmp(argv[j], "--spec")) { printf(" --spec \"%s\"", argv[++j]); continue; }
                    printf(" %s", argv[j]);
                }
                if (o.models[i]) printf(" --models %d", o.models[i]);
                /* jobs that share OUT must not all rewrite OUT/report.md: --merge builds it once */
                printf(" --seed %llu --no-progress --no-report\n", o.seed + (unsigned long long)k);
            }
        return 0;
    }

    make_dir(o.out);
    if (o.nmerge) {   /* gather finished runs from every DIR/<run>/result.json */
        for (k = 0; k < o.nmerge; k++) nr = gather(o.merge[k], rs, nr);
        build_report(&o, rs, nr, cmdline);
        printf("study: merged %d runs; report: %s/report.md\n", nr, o.out);
        return 0;
    }

    if (cnn_dataset_load_mnist(o.data, "train", NULL, &train, &err)) die("loading the training set", &err);
    if (cnn_dataset_load_mnist(o.data, "t10k", NULL, &test, &err)) die("loading the test set", &err);
    if (o.limit && o.limit < train.n) train.n = o.limit;
    if (o.test_limit && o.test_limit < test.n) test.n = o.test_limit;
    printf("study: %zu training images (%zu held out for validation), %zu test images, %d thread%s, out %s\n", train.n,
           train.n - (size_t)floor((double)train.n * (1.0 - o.val_split)), test.n, o.threads, o.threads > 1 ? "s" : "", o.out);

    for (k = 0; k < o.seeds; k++)
        for (i = 0; i < o.nmodels; i++) {
            result *r = &rs[nr];
            unsigned long long seed = o.seed + (unsigned long long)k;
            char dir[600];
            if (nr >= MAX_RUNS) break;
            if (o.models[i]) snprintf(dir, sizeof dir, "%s/m%02d_%s_s%llu", o.out, o.models[i],
                                      o.order == CNN_ORDER_CONV_BN_ACT ? "bnact" : "actbn", seed);
            else snprintf(dir, sizeof dir, "%s/spec%08x_%s_s%llu", o.out, (unsigned)cnn_crc32(0, o.spec, strlen(o.spec)),
                          o.order == CNN_ORDER_CONV_BN_ACT ? "bnact" : "actbn", seed);
            if (load_result(dir, r)) {
                /* a finished run counts only if it was made with the same budget */
                char *js, path[700];
                double cap = 0, bt = 0, pa = 0, ni = 0;
                size_t want_ni = (size_t)floor((double)train.n * (1.0 - o.val_split));
                snprintf(path, sizeof path, "%s/result.json", dir);
                js = read_all(path);
                if (!js || !json_num(js, "epoch_cap", &cap) || !json_num(js, "batch", &bt) || !json_num(js, "patience", &pa) ||
                    !json_num(js, "train_images", &ni) || (int)cap != o.epochs || (int)bt != o.batch || (int)pa != o.patience ||
                    (size_t)ni != want_ni) {
                    fprintf(stderr, "study: %s was made with another budget (epochs %g, batch %g, patience %g, %g training "
                            "images; now %d, %d, %d, %zu): use another --out or remove it\n", dir, cap, bt, pa, ni,
                            o.epochs, o.batch, o.patience, want_ni);
                    return 1;
                }
                free(js);
                printf("%s: finished before, skipped (test acc %.4f)\n", dir, r->test_acc);
                nr++;
                continue;
            }
            memset(r, 0, sizeof *r);
            r->model = o.models[i];
            r->seed = seed;
            snprintf(r->dir, sizeof r->dir, "%s", dir);
            snprintf(r->spec, sizeof r->spec, "%s", o.models[i] ? cnn_study_row_get(o.models[i])->spec : o.spec);
            snprintf(r->order, sizeof r->order, "%s", o.order == CNN_ORDER_CONV_BN_ACT ? "conv-bn-act" : "conv-act-bn");
            make_dir(dir);
            run_one(&o, &train, &test, o.models[i], seed, r);
            nr++;
        }
    /* the report covers every finished run in OUT, also those of earlier invocations */
    if (o.report) build_report(&o, rs, gather(o.out, rs, 0), cmdline);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    if (o.report) printf("study: done; report: %s/report.md\n", o.out);
    else printf("study: done; no report (--no-report): study --merge %s --out %s builds it\n", o.out, o.out);
    return 0;
}
