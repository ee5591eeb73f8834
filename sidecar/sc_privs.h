/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_privs: dropping root after start-up (DESIGN.md B8: bind ports and read
 * secrets at start, then run as the service user before the first untrusted
 * byte).
 *
 * steward started as root with `user` set binds its listeners, reads every
 * secret file (TLS key, API keys, pii_key_file, signing_key) and opens the
 * lineage spool, then hands the spool directory to the service user and
 * becomes that user for good: supplementary groups cleared (only `group`, or
 * the user's primary group, remains), then setgid, then setuid, and a check
 * that root cannot be regained.  Not started as root: `user` must name the
 * user steward already runs as (nothing to drop), else start-up fails.
 * Started as root without `user`: steward runs as root and says so in a
 * warning (the embedded local stack does this; production should not).
 *
 * Start-up code only (the main thread).  glibc applies setuid/setgid/
 * setgroups to every thread of the process, so threads started before the
 * drop (librdkafka's, the emitter's) lose root too.
 */
#ifndef SC_PRIVS_H
#define SC_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/cm_status.h"

struct sc_privs {
    bool set; /* a user was named */
    uid_t uid;
    gid_t gid;
    char name[64]; /* the user's name, for logs */
};

/* Looks up user (may be NULL: nothing to drop, p->set = false) and group
 * (NULL: the user's primary group).  Returns CM_OK or CM_EINPUT ("option
 * 'user': no such user 'x'"). */
int sc_privs_resolve(const char *user, const char *group, struct sc_privs *p,
                     struct cm_err *err) CM_MUSTCHECK;
/* Gives dir (borrowed path) and the files directly in it to the service
 * user, so that the spool stays writable after the drop.  A no-op unless
 * running as root with a user set.  Returns CM_OK or CM_EIO. */
int sc_privs_give_dir(const struct sc_privs *p, const char *dir, struct cm_err *err) CM_MUSTCHECK;
/* Becomes the service user for good.  Returns CM_OK (also when there is
 * nothing to do: no user set, or already that user) or CM_EIO (not root
 * and not already that user, or a call failed: the process must stop). */
int sc_privs_drop(const struct sc_privs *p, struct cm_err *err) CM_MUSTCHECK;

#endif /* SC_PRIVS_H */
