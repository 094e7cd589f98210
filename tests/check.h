/* check.h - the few lines every test shares: CHECK counts and reports, check_done() ends the
   program with a summary line and a non-zero status if anything failed. No framework. */
#ifndef CNN_TEST_CHECK_H
#define CNN_TEST_CHECK_H
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) check_passed++;                                               \
        else {                                                                  \
            check_failed++;                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                         \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
        }                                                                       \
    } while (0)

static int check_done(const char *name)
{
    printf("%s: %d checks passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}
#endif
