/* Failure reporting for generated code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphc_runtime.h"

/* Sets the status to `code` and `message` unless it holds a failure already: the first failure wins, also when
 * parallel tasks fail at once. */
static void record(graphc_status *status, int32_t code, const char *message) {
    int32_t none = 0;
    if (__atomic_compare_exchange_n(&status->code, &none, code, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        snprintf(status->message, sizeof status->message, "%s", message);
}

int32_t graphc_fail(graphc_status *status, int32_t code, const char *format, int64_t a, int64_t b,
                    int64_t c) {
    char message[GRAPHC_STATUS_MESSAGE_BYTES];
    snprintf(message, sizeof message, format, (long long)a, (long long)b, (long long)c);
    record(status, code, message);
    return code;
}

/* A message being written, cut at the status's buffer size. */
typedef struct text {
    char *at, *end;
} text;

static void put(text *t, const char *s) {
    while (*s && t->at < t->end)
        *t->at++ = *s++;
}

/* One element as TensorFlow's Tensor::SummarizeValue writes it: floats by the shortest of %.6g / %.9g (double:
 * %.15g / %.17g) that reads back exactly (FloatToBuffer), booleans as 1 and 0. */
static void put_element(text *t, char kind, const void *data, int64_t i) {
    char buffer[64];
    switch (kind) {
    case 'f': {
        float v = ((const float *)data)[i];
        snprintf(buffer, sizeof buffer, "%.6g", v);
        if (strtof(buffer, NULL) != v)
            snprintf(buffer, sizeof buffer, "%.9g", v);
        break;
    }
    case 'd': {
        double v = ((const double *)data)[i];
        snprintf(buffer, sizeof buffer, "%.15g", v);
        if (strtod(buffer, NULL) != v)
            snprintf(buffer, sizeof buffer, "%.17g", v);
        break;
    }
    case 'i':
        snprintf(buffer, sizeof buffer, "%d", (int)((const int32_t *)data)[i]);
        break;
    case 'l':
        snprintf(buffer, sizeof buffer, "%lld", (long long)((const int64_t *)data)[i]);
        break;
    default: /* 'b' */
        snprintf(buffer, sizeof buffer, "%d", ((const uint8_t *)data)[i] ? 1 : 0);
    }
    put(t, buffer);
}

/* TensorFlow's PrintOneDim: the first `limit` elements, each row of the last dimension in brackets but the
 * outermost, "..." where a row is cut. */
static void put_dimension(text *t, char kind, const void *data, const int64_t *dims, int rank, int dim,
                          int64_t limit, int64_t *index) {
    if (*index >= limit)
        return;
    if (dim == rank - 1) {
        for (int64_t i = 0; i < dims[dim]; i++) {
            if (*index >= limit) {
                if (dim != 0)
                    put(t, "...");
                return;
            }
            if (i > 0)
                put(t, " ");
            put_element(t, kind, data, (*index)++);
        }
        return;
    }
    for (int64_t i = 0; i < dims[dim]; i++) {
        int opened = *index < limit;
        if (opened)
            put(t, "[");
        put_dimension(t, kind, data, dims, rank, dim + 1, limit, index);
        if (*index < limit || opened)
            put(t, "]");
    }
}

/* Tensor::SummarizeValue(summarize) of one value, described at the head of `layout` ("<kind> <rank> <dims>... ");
 * returns the rest of the layout. */
static const char *put_value(text *t, const char *layout, const void *data, int64_t summarize) {
    char *end;
    while (*layout == ' ')
        layout++;
    char kind = *layout++;
    int rank = (int)strtol(layout, &end, 10);
    int64_t dims[GRAPHC_MAX_SUMMARIZED_RANK], count = 1;
    for (int d = 0; d < rank; d++) {
        dims[d] = strtoll(end, &end, 10);
        count *= dims[d];
    }
    int64_t limit = summarize < 0 || summarize > count ? count : summarize, index = 0;
    if (rank == 0) {
        for (int64_t i = 0; i < limit; i++)
            put_element(t, kind, data, i);
    } else {
        put_dimension(t, kind, data, dims, rank, 0, limit, &index);
    }
    if (count > limit)
        put(t, "...");
    return end;
}

int32_t graphc_fail_summarized(graphc_status *status, int32_t code, const char *format, const char *layouts,
                               const void *const *values, int64_t summarize) {
    char message[GRAPHC_STATUS_MESSAGE_BYTES];
    text t = {message, message + sizeof message - 1};
    for (const char *f = format; *f; f++) {
        if (*f == '%' && f[1] == 'v') {
            layouts = put_value(&t, layouts, *values++, summarize);
            f++;
        } else {
            if (*f == '%' && f[1] == '%')
                f++;
            char one[2] = {*f, 0};
            put(&t, one);
        }
    }
    *t.at = 0;
    record(status, code, message);
    return code;
}
