/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_listen: listening sockets.  See sc_listen.h.
 */
#include "sidecar/sc_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int
open_unix(const char *path, int *fd, char *bound, size_t boundlen, struct cm_err *err)
{
    struct sockaddr_un sun;
    int s;

    if (strlen(path) >= sizeof(sun.sun_path))
        return cm_err_set(err, CM_EINPUT, "unix socket path too long: %s", path);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return cm_err_set(err, CM_EIO, "socket: %s", strerror(errno));
    unlink(path); /* a stale socket from an earlier run */
    if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) != 0 || chmod(path, 0660) != 0 ||
        listen(s, 512) != 0) {
        int e = errno;

        close(s);
        return cm_err_set(err, CM_EIO, "unix:%s: %s", path, strerror(e));
    }
    snprintf(bound, boundlen, "unix:%s", path);
    *fd = s;
    return CM_OK;
}

int
sc_listen_open(const char *spec, bool reuseport, int *fd, char *bound, size_t boundlen,
               struct cm_err *err)
{
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[256], port[16], name[INET6_ADDRSTRLEN];
    const char *colon;
    size_t hlen;
    int s = -1, one = 1, gai;

    if (strncmp(spec, "unix:", 5) == 0)
        return open_unix(spec + 5, fd, bound, boundlen, err);
    colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof(port))
        return cm_err_set(err, CM_EINPUT, "listen '%s': expected HOST:PORT or unix:/path", spec);
    hlen = (size_t)(colon - spec);
    if (spec[0] == '[' && hlen >= 2 && spec[hlen - 1] == ']') {
        spec++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host))
        return cm_err_set(err, CM_EINPUT, "listen '%s': host too long", spec);
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    strcpy(port, colon + 1);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (gai != 0)
        return cm_err_set(err, CM_EINPUT, "listen '%s': %s", spec, gai_strerror(gai));
    s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        goto fail;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(s, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s, 1024) != 0)
        goto fail;
    freeaddrinfo(ai);
    if (getsockname(s, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

            inet_ntop(AF_INET, &sin->sin_addr, name, sizeof(name));
            snprintf(bound, boundlen, "%s:%d", name, ntohs(sin->sin_port));
        } else {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

            inet_ntop(AF_INET6, &sin6->sin6_addr, name, sizeof(name));
            snprintf(bound, boundlen, "[%s]:%d", name, ntohs(sin6->sin6_port));
        }
    }
    *fd = s;
    return CM_OK;
fail : {
    int e = errno;

    if (s >= 0)
        close(s);
    if (ai != NULL)
        freeaddrinfo(ai);
    return cm_err_set(err, CM_EIO, "listen '%s': %s", spec, strerror(e));
}
}
