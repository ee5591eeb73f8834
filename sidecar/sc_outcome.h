/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_outcome: the one table that maps each way an exchange can end to the
 * HTTP status the client gets, the error type in the OpenAI-shaped JSON
 * error, and the outcome written to the lineage record (STYLE.md B4).
 * docs/ARCHITECTURE.md repeats this table; change both together.
 */
#ifndef SC_OUTCOME_H
#define SC_OUTCOME_H

enum sc_outcome {
    SC_OUT_OK,                /* answered by the model server (its status) */
    SC_OUT_DENIED,            /* policy deny: 403 or the rule's status */
    SC_OUT_BAD_REQUEST,       /* malformed HTTP or JSON: 400 */
    SC_OUT_TOO_LARGE,         /* body over max_body: 413 */
    SC_OUT_NOT_FOUND,         /* unknown path with unknown_path=deny: 404 */
    SC_OUT_BAD_METHOD,        /* wrong method for the route: 405 */
    SC_OUT_UNSUPPORTED,       /* content type or encoding not inspectable: 415 */
    SC_OUT_UPSTREAM_ERROR,    /* model server unreachable or broken answer: 502 */
    SC_OUT_UPSTREAM_TIMEOUT,  /* model server too slow: 504 */
    SC_OUT_INTERNAL,          /* a fault in steward itself, fail closed: 500 */
    SC_OUT_CLIENT_GONE,       /* the client closed before the answer: 499 (nginx) */
    SC_OUT_URI_TOO_LONG,      /* request target over max_uri: 414 */
    SC_OUT_HEADERS_TOO_LARGE, /* header line, block or count over the limits: 431 */
    SC_OUT_NOT_IMPLEMENTED,   /* a transfer coding steward does not speak: 501 */
    SC_OUT_BAD_VERSION,       /* not HTTP/1.0 or 1.1: 505 */
    SC_OUT_REQUEST_TIMEOUT,   /* the request was not received by request_timeout: 408 */
    SC_OUT_UNAUTHORIZED,      /* API keys required, none or an unknown one given: 401 */
    /* The exchange's lineage record cannot be kept (spool full): 503. */
    SC_OUT_LINEAGE_UNAVAILABLE,
    /* Still waiting for the model server when a stop's drain_timeout ran
     * out: 503 (a stream ends with an error event). */
    SC_OUT_SHUTDOWN,
    SC_OUT__COUNT
};

struct sc_outcome_info {
    int status;             /* HTTP status sent (SC_OUT_OK: the model's) */
    const char *name;       /* lineage outcome */
    const char *error_type; /* "type" of the JSON error */
};

const struct sc_outcome_info *sc_outcome_info(enum sc_outcome o);

#endif /* SC_OUTCOME_H */
