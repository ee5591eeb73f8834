/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_listen: listening sockets from an address option.  "HOST:PORT",
 * "[v6]:PORT" or "unix:/path".  With reuseport every worker binds its own
 * socket to the same address (SO_REUSEPORT: the kernel spreads connections
 * over the workers, no shared accept lock).  TCP_NODELAY is set on the
 * listener: Linux passes it to accepted sockets, and evhttp never sets it
 * (streamed answers would stall 40 ms at a time).  Start-up code only.
 */
#ifndef SC_LISTEN_H
#define SC_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cm_status.h"

/* Opens a non-blocking listening socket for spec.  *fd gets the socket;
 * bound gets the address actually bound ("127.0.0.1:41234", useful when the
 * port was 0).  Returns CM_OK, CM_EINPUT (bad spec) or CM_EIO. */
int sc_listen_open(const char *spec, bool reuseport, int *fd, char *bound, size_t boundlen,
                   struct cm_err *err) CM_MUSTCHECK;

#endif /* SC_LISTEN_H */
