/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_status: status names and the error-text buffer.  See cm_status.h.
 */
#include "common/cm_status.h"

#include <stdio.h>

const char *
cm_status_name(int rc)
{
    switch (rc) {
    case CM_OK: return "ok";
    case CM_AGAIN: return "again";
    case CM_DECLINED: return "declined";
    case CM_RETRY: return "retry";
    case CM_EINPUT: return "einput";
    case CM_EIO: return "eio";
    case CM_ETIMEOUT: return "etimeout";
    case CM_EPOLICY: return "epolicy";
    case CM_ELIMIT: return "elimit";
    case CM_EINTERNAL: return "einternal";
    }
    return "unknown";
}

int
cm_err_vset(struct cm_err *err, int rc, const char *fmt, va_list ap)
{
    if (err != NULL)
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return rc;
}

int
cm_err_set(struct cm_err *err, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cm_err_vset(err, rc, fmt, ap);
    va_end(ap);
    return rc;
}
