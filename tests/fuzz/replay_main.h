/* tests/fuzz/replay_main.h - a main() for the harnesses when they are built without libFuzzer
   (-DFUZZ_REPLAY_MAIN): it runs LLVMFuzzerTestOneInput once on every file named on the
   command line, and on every file under every directory named there (recursively, in sorted
   order), each in a buffer of exactly its size so that a sanitizer or valgrind sees any read
   past the end. An invariant that fails aborts the program, naming the file.
     cc -std=c99 -O1 -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_idx.c -lm -o replay_idx
     ./replay_idx tests/fuzz/corpus/fuzz_idx tests/fuzz/regressions/fuzz_idx            */
#ifndef FUZZ_REPLAY_MAIN_H
#define FUZZ_REPLAY_MAIN_H
#ifdef FUZZ_REPLAY_MAIN

#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long replay_count;

static int replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path);

static int replay_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int bad = 0;
    if (!d) { fprintf(stderr, "replay: cannot open directory %s\n", path); return 1; }
    while ((e = readdir(d)) != NULL) {
        size_t len;
        if (e->d_name[0] == '.') continue;           /* ., .. and hidden files */
        if (n == cap) {
            char **nn = (char **)realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            if (!nn) { fprintf(stderr, "replay: out of memory\n"); exit(2); }
            names = nn;
        }
        len = strlen(path) + strlen(e->d_name) + 2;
        if (!(names[n] = (char *)malloc(len))) { fprintf(stderr, "replay: out of memory\n"); exit(2); }
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, replay_cmp);
    for (i = 0; i < n; i++) {
        bad |= replay_path(names[i]);
        free(names[i]);
    }
    free(names);
    return bad;
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, got;
    if (!f) { fprintf(stderr, "replay: cannot open %s\n", path); return 1; }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = (uint8_t *)realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!nb) { fprintf(stderr, "replay: out of memory\n"); exit(2); }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    fclose(f);
    {   /* a copy of exactly n bytes: reading past the end is then a detectable error */
        uint8_t *exact = (uint8_t *)malloc(n ? n : 1);
        if (!exact) { fprintf(stderr, "replay: out of memory\n"); exit(2); }
        if (n) memcpy(exact, buf, n);
        free(buf);
        fuzz_current = path;
        LLVMFuzzerTestOneInput(exact, n);
        fuzz_current = "(none)";
        free(exact);
    }
    replay_count++;
    return 0;
}

static int replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) { fprintf(stderr, "replay: no such file %s\n", path); return 1; }
    return S_ISDIR(st.st_mode) ? replay_dir(path) : replay_file(path);
}

int main(int argc, char **argv)
{
    int i, bad = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...  (runs the harness on each input)\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) bad |= replay_path(argv[i]);
    printf("replay %s: %ld inputs, %s\n", argv[0], replay_count, bad ? "some unreadable" : "all passed");
    return bad;
}

#endif
#endif
