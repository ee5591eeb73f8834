/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_status: the return codes of every fallible function in steward, and
 * struct cm_err, the buffer in which parsers and constructors explain a
 * failure to a human ("file:line: what is wrong").
 *
 * Convention (STYLE.md B4): CM_OK is 0; positive values are conditions the
 * caller handles (wait, not applicable, retry); negative values are errors,
 * so `rc < 0` always means failure.  A function either handles an error (logs
 * it, maps it to a response) or returns it with detail in *err, never both.
 */
#ifndef CM_STATUS_H
#define CM_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#define CM_MUSTCHECK __attribute__((warn_unused_result))
#define CM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Invariants that protect data stay checked in release builds. */
#define cm_assert(e) ((e) ? (void)0 : cm_assert_fail(#e, __FILE__, __LINE__))
void cm_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

enum cm_status {
    CM_OK = 0,
    CM_AGAIN = 1,    /* wait for the fd / more input */
    CM_DECLINED = 2, /* not applicable here */
    CM_RETRY = 3,    /* transient (e.g. Kafka queue full) */

    CM_EINPUT = -1,    /* bad input from outside: syntax, limits, values */
    CM_EIO = -2,       /* a system call or a peer failed */
    CM_ETIMEOUT = -3,  /* a deadline passed */
    CM_EPOLICY = -4,   /* the policy forbids it */
    CM_ELIMIT = -5,    /* a configured limit was exceeded */
    CM_EINTERNAL = -6, /* a bug or an unexpected library failure */
};

/* Returns a static name for rc ("ok", "einput", ...). Any thread. */
const char *cm_status_name(int rc);

struct cm_err {
    char msg[512];
};

/* Formats msg into err (truncating).  err may be NULL.  Returns `rc` so that
 * `return cm_err_set(err, CM_EINPUT, "...")` reads naturally. */
int cm_err_set(struct cm_err *err, int rc, const char *fmt, ...) CM_PRINTF(3, 4);
int cm_err_vset(struct cm_err *err, int rc, const char *fmt, va_list ap) CM_PRINTF(3, 0);

#endif /* CM_STATUS_H */
