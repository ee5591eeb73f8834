/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_outcome: the failure table.  See sc_outcome.h.
 */
#include "sidecar/sc_outcome.h"

#include <stddef.h>

static const struct sc_outcome_info outcomes[SC_OUT__COUNT] = {
    [SC_OUT_OK] = {200, "ok", NULL},
    [SC_OUT_DENIED] = {403, "denied", "policy_violation"},
    [SC_OUT_BAD_REQUEST] = {400, "bad_request", "invalid_request_error"},
    [SC_OUT_TOO_LARGE] = {413, "too_large", "invalid_request_error"},
    [SC_OUT_NOT_FOUND] = {404, "not_found", "invalid_request_error"},
    [SC_OUT_BAD_METHOD] = {405, "bad_method", "invalid_request_error"},
    [SC_OUT_UNSUPPORTED] = {415, "unsupported_media_type", "invalid_request_error"},
    [SC_OUT_UPSTREAM_ERROR] = {502, "upstream_error", "upstream_error"},
    [SC_OUT_UPSTREAM_TIMEOUT] = {504, "upstream_timeout", "upstream_error"},
    [SC_OUT_INTERNAL] = {500, "internal_error", "internal_error"},
    [SC_OUT_CLIENT_GONE] = {499, "client_gone", NULL},
    [SC_OUT_URI_TOO_LONG] = {414, "uri_too_long", "invalid_request_error"},
    [SC_OUT_HEADERS_TOO_LARGE] = {431, "headers_too_large", "invalid_request_error"},
    [SC_OUT_NOT_IMPLEMENTED] = {501, "not_implemented", "invalid_request_error"},
    [SC_OUT_BAD_VERSION] = {505, "bad_http_version", "invalid_request_error"},
    [SC_OUT_REQUEST_TIMEOUT] = {408, "request_timeout", "invalid_request_error"},
    [SC_OUT_UNAUTHORIZED] = {401, "unauthorized", "authentication_error"},
    [SC_OUT_LINEAGE_UNAVAILABLE] = {503, "lineage_unavailable", "service_unavailable"},
    [SC_OUT_SHUTDOWN] = {503, "shutdown", "service_unavailable"},
};

const struct sc_outcome_info *
sc_outcome_info(enum sc_outcome o)
{
    return &outcomes[o];
}
