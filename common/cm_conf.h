/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_conf: the options-table engine.  Each binary describes all of its
 * options in one static table of struct cm_opt rows (name, type, default,
 * reload flag, offsetof into the binary's options struct, one line of doc),
 * as PgBouncer, Redis, Fluent Bit and librdkafka do.  This file applies
 * defaults, reads `key = value` files through inih, applies command-line
 * overrides, renders the table as markdown for docs/config.md, and frees.
 *
 * File syntax: `key = value`, `#` or `;` comments on their own line, and
 * optional `[section]` headers: a key under `[kafka]` is `kafka.<key>`.
 * An unknown key, a bad value or a duplicate key is an error "file:line: ...".
 * A row of type CM_OPT_PREFIX collects every key that starts with its name
 * (for example all `kafka.*` keys, passed through to librdkafka).
 *
 * After loading, the options struct is read-only and passed as const.
 * Not thread-safe; call from start-up or reload code only.
 */
#ifndef CM_CONF_H
#define CM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cm_status.h"

enum cm_opt_type {
    CM_OPT_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
    CM_OPT_INT,      /* long long */
    CM_OPT_SIZE,     /* size_t: 512, 64K, 16M, 1G (powers of 1024) */
    CM_OPT_DURATION, /* int64_t microseconds: 250ms, 30s, 5m; bare = ms */
    CM_OPT_STRING,   /* char * (owned; NULL when empty) */
    CM_OPT_PATH,     /* char * (owned; NULL when empty) */
    CM_OPT_ENUM,     /* int: index into choices */
    CM_OPT_PREFIX,   /* struct cm_kv_list: every `name*` key, prefix removed */
};

#define CM_OPT_RELOAD 0x1u  /* takes effect on SIGHUP */
#define CM_OPT_RESTART 0x2u /* needs a restart; a change on reload warns */
#define CM_OPT_SECRET 0x4u  /* value never printed */

struct cm_opt {
    const char *name;
    enum cm_opt_type type;
    const char *def; /* default as text, NULL = empty */
    unsigned flags;
    size_t off; /* offsetof into the options struct */
    const char *doc;
    const char *const *choices; /* CM_OPT_ENUM: NULL-terminated */
    long long min, max;         /* INT/SIZE/DURATION bounds; both 0 = none */
};

struct cm_kv {
    char *key;
    char *value;
};

/* Embedded by value in options structs. */
struct cm_kv_list {
    struct cm_kv *items;
    size_t n;
};

/* Zeroes nothing: applies every row's default to obj.  Returns CM_OK, or
 * CM_EINTERNAL when a default in the table is itself invalid. */
int cm_conf_defaults(const struct cm_opt *tab, size_t n, void *obj,
                     struct cm_err *err) CM_MUSTCHECK;
/* Reads path into obj over whatever it holds.  Returns CM_OK, CM_EIO (cannot
 * read the file) or CM_EINPUT ("path:line: ..." in err). */
int cm_conf_load(const struct cm_opt *tab, size_t n, void *obj, const char *path,
                 struct cm_err *err) CM_MUSTCHECK;
/* The same from memory: text[0..len) (need not be NUL-terminated); `name`
 * stands for the file name in error messages. */
int cm_conf_load_mem(const struct cm_opt *tab, size_t n, void *obj, const char *name,
                     const char *text, size_t len, struct cm_err *err) CM_MUSTCHECK;
/* Sets one option from "key=value" text (command-line -o). */
int cm_conf_set_kv(const struct cm_opt *tab, size_t n, void *obj, const char *kv,
                   struct cm_err *err) CM_MUSTCHECK;
int cm_conf_set(const struct cm_opt *tab, size_t n, void *obj, const char *key, const char *value,
                struct cm_err *err) CM_MUSTCHECK;
/* Frees the strings and lists that obj owns (NULL-safe per field). */
void cm_conf_fini(const struct cm_opt *tab, size_t n, void *obj);
/* Looks a key up in a prefix list; returns the value or NULL. */
const char *cm_kv_get(const struct cm_kv_list *l, const char *key);
/* Prints the table as a markdown reference (docs/config.md). */
void cm_conf_doc(const struct cm_opt *tab, size_t n, const char *title, FILE *out);

/* Value parsers shared with other loaders (policy files, CLIs). */
int cm_parse_bool(const char *s, bool *out) CM_MUSTCHECK;
int cm_parse_size(const char *s, size_t *out) CM_MUSTCHECK;

#endif /* CM_CONF_H */
