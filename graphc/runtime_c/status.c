/* Failure reporting for generated code. */
#include <stdio.h>

#include "graphc_runtime.h"

int32_t graphc_fail(graphc_status *status, int32_t code, const char *format, int64_t a, int64_t b,
                    int64_t c) {
    int32_t none = 0;
    /* The first failure wins, also when parallel tasks fail at once. */
    if (__atomic_compare_exchange_n(&status->code, &none, code, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        snprintf(status->message, sizeof status->message, format, (long long)a, (long long)b, (long long)c);
    return code;
}
