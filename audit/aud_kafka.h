/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_kafka: librdkafka configuration shared by the emitter (producer) and
 * the loader (consumer): the bootstrap file, the `kafka.*` pass-through, and
 * the bridge from librdkafka's log callback into cm_log (mod=kafka).
 *
 * Internal to audit/: this header exposes rd_kafka types, so nothing outside
 * audit/ includes it (STYLE.md B2: audit owns rd_kafka_*).
 */
#ifndef AUD_KAFKA_H
#define AUD_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/cm_conf.h"
#include "common/cm_status.h"

/* Reads the bootstrap address from path (as the embedded Kafka writes it),
 * trimmed of surrounding white space, into out.  Returns CM_OK, or CM_EINPUT
 * when the file cannot be read, is empty or does not fit. */
int aud_kafka_read_bootstrap(const char *path, char *out, size_t outlen,
                             struct cm_err *err) CM_MUSTCHECK;
/* Sets one property; CM_EINPUT with librdkafka's text on failure. */
int aud_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                       struct cm_err *err) CM_MUSTCHECK;
/* Applies bootstrap_file (may be NULL) into bootstrap.servers, then every
 * pass-through key of kafka (may be NULL), so that those win over whatever
 * the caller set before.  Borrows everything; conf stays the caller's. */
int aud_kafka_conf_apply(rd_kafka_conf_t *conf, const char *bootstrap_file,
                         const struct cm_kv_list *kafka, struct cm_err *err) CM_MUSTCHECK;
/* Installs the log callback that forwards librdkafka logs to cm_log, and an
 * error callback that logs client-level errors (brokers down, fatal errors)
 * at the first hit and then once per 10 s with a count of those suppressed.
 * Connection failures reach the log through the latter only (librdkafka's
 * own FAIL lines go to debug), so a Kafka outage is not a line a second. */
void aud_kafka_conf_log(rd_kafka_conf_t *conf);
/* What that error callback does, for a client that installs its own error
 * callback and still wants the shared, rate-limited log lines. */
void aud_kafka_log_error(rd_kafka_t *rk, int err, const char *reason);

#endif /* AUD_KAFKA_H */
