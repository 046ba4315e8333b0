/* Failure reporting for generated code. */
#include <stdio.h>

#include "graphc_runtime.h"

int32_t graphc_fail(graphc_status *status, int32_t code, const char *format, int64_t a, int64_t b,
                    int64_t c) {
    if (status->code == 0) { /* keep the first failure */
        status->code = code;
        snprintf(status->message, sizeof status->message, format, (long long)a, (long long)b, (long long)c);
    }
    return code;
}
