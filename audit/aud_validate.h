/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_validate: checks that bytes are one lineage record of schema
 * "steward.lineage/1", field by field as schema/fields.def lists them (the
 * loader runs it on every Kafka message; invalid ones go to lineage_rejects).
 *
 * What it checks: well-formed UTF-8 JSON object; "schema" is AUD_SCHEMA;
 * every required member present; JSON types; formats (UUID, RFC 3339 time,
 * integer ranges that fit the SQL column).  What it does not: vocabularies
 * (an unknown outcome or route still loads) and unknown extra members
 * (kept in the raw column), so a newer sidecar's records are not lost.
 *
 * Pure; any thread.  The tables are also what the loader derives its SQL
 * from; they are read-only.
 */
#ifndef AUD_VALIDATE_H
#define AUD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"

enum aud_ftype {
    AUD_T_STRING,       /* string */
    AUD_T_STRING_NULL,  /* string or null */
    AUD_T_UUID,         /* string: canonical 8-4-4-4-12 UUID */
    AUD_T_UUID_NULL,    /* UUID string or null */
    AUD_T_TIME,         /* string: RFC 3339 date-time */
    AUD_T_INT32,        /* integer in -2^31 .. 2^31-1 (SQL int) */
    AUD_T_INT64,        /* integer (SQL bigint) */
    AUD_T_INT64_NULL,   /* integer or null */
    AUD_T_SEQ,          /* integer in 1 .. 2^63-1 (SQL bigint) */
    AUD_T_SHA256,       /* string: 64 lower-case hex digits */
    AUD_T_OBJECT,       /* object; its members are rows with it as parent */
    AUD_T_STRING_ARRAY, /* array of strings (SQL text[]) */
    AUD_T_OBJECT_ARRAY, /* array of objects: "findings" (AUD_FINDING rows) */
};

/* One row of schema/fields.def. */
struct aud_field {
    const char *parent; /* "" at the top level */
    const char *key;
    enum aud_ftype type;
    bool required;
    const char *column; /* NULL: no SQL column */
};

extern const struct aud_field aud_fields[];
extern const size_t aud_n_fields;
extern const struct aud_field aud_finding_fields[]; /* parent is "findings" */
extern const size_t aud_n_finding_fields;

/* Validates data[0..len) as one record.  Returns CM_OK, or CM_EINPUT with a
 * message naming the field ("caller.tenant: expected a string or null",
 * "findings[1].count: missing", "invalid JSON: ... at line 1 column 7").
 * The message never quotes a value from the record.  Borrows data. */
int aud_validate(const char *data, size_t len, struct cm_err *err) CM_MUSTCHECK;

/* The name of a type for messages ("a string or null"). */
const char *aud_ftype_name(enum aud_ftype type);

/* Appends the SQL expression that reads field f of the record held in the
 * jsonb expression var, cast to its column's type ("(r->'chain'->>'seq')
 * ::bigint").  f must have a column.  Shared by the loader's INSERT and
 * `steward-audit verify`'s column check, so both read a field the same way.
 * Names come from fields.def and are checked to be plain identifiers. */
void aud_field_sql_expr(struct cm_buf *b, const char *var, const struct aud_field *f);

#endif /* AUD_VALIDATE_H */
