/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_privs: look up the service user, hand it the spool, drop root.  See
 * sc_privs.h.  Order matters: supplementary groups and the gid go first,
 * while we are still allowed to change them, the uid last.
 */
#include "sidecar/sc_privs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cm_log.h"

int
sc_privs_resolve(const char *user, const char *group, struct sc_privs *p, struct cm_err *err)
{
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    char buf[16384];
    int e;

    memset(p, 0, sizeof(*p));
    if (user == NULL) {
        if (group != NULL)
            return cm_err_set(err, CM_EINPUT, "option 'group' needs option 'user'");
        return CM_OK;
    }
    e = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
    if (e != 0 || pwp == NULL)
        return cm_err_set(err, CM_EINPUT, "option 'user': no such user '%s'%s%s", user,
                          e ? ": " : "", e ? strerror(e) : "");
    if (pw.pw_uid == 0)
        return cm_err_set(err, CM_EINPUT, "option 'user': '%s' is root; name an unprivileged user",
                          user);
    p->set = true;
    p->uid = pw.pw_uid;
    p->gid = pw.pw_gid;
    snprintf(p->name, sizeof(p->name), "%s", user);
    if (group != NULL) {
        e = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
        if (e != 0 || grp == NULL)
            return cm_err_set(err, CM_EINPUT, "option 'group': no such group '%s'%s%s", group,
                              e ? ": " : "", e ? strerror(e) : "");
        if (gr.gr_gid == 0)
            return cm_err_set(err, CM_EINPUT, "option 'group': '%s' is root's group", group);
        p->gid = gr.gr_gid;
    }
    return CM_OK;
}

int
sc_privs_give_dir(const struct sc_privs *p, const char *dir, struct cm_err *err)
{
    DIR *d;
    struct dirent *de;
    int dfd, rc = CM_OK;

    if (!p->set || geteuid() != 0)
        return CM_OK;
    d = opendir(dir);
    if (d == NULL)
        return cm_err_set(err, CM_EIO, "spool_dir %s: %s", dir, strerror(errno));
    dfd = dirfd(d);
    if (fchown(dfd, p->uid, p->gid) != 0) {
        rc = cm_err_set(err, CM_EIO, "spool_dir %s: chown: %s", dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        /* Never follow a link planted in the directory. */
        if (fchownat(dfd, de->d_name, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) != 0 &&
            errno != ENOENT) {
            rc = cm_err_set(err, CM_EIO, "spool_dir %s/%s: chown: %s", dir, de->d_name,
                            strerror(errno));
            goto out;
        }
    }
out:
    closedir(d);
    return rc;
}

int
sc_privs_drop(const struct sc_privs *p, struct cm_err *err)
{
    if (!p->set)
        return CM_OK;
    if (geteuid() != 0) {
        if (geteuid() == p->uid && getuid() == p->uid)
            return CM_OK; /* already the service user */
        return cm_err_set(err, CM_EIO,
                          "option 'user': steward runs as uid %u, not as root, and cannot become "
                          "'%s'",
                          (unsigned)geteuid(), p->name);
    }
    if (setgroups(1, &p->gid) != 0)
        return cm_err_set(err, CM_EIO, "setgroups: %s", strerror(errno));
    if (setresgid(p->gid, p->gid, p->gid) != 0)
        return cm_err_set(err, CM_EIO, "setresgid(%u): %s", (unsigned)p->gid, strerror(errno));
    if (setresuid(p->uid, p->uid, p->uid) != 0)
        return cm_err_set(err, CM_EIO, "setresuid(%u): %s", (unsigned)p->uid, strerror(errno));
    /* Paranoia (OpenBSD habit): root must be gone for good. */
    if (setuid(0) == 0 || seteuid(0) == 0)
        return cm_err_set(err, CM_EIO, "root privileges could be regained after the drop");
    return CM_OK;
}
