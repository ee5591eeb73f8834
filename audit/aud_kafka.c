/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_kafka: librdkafka configuration helpers shared by aud_emitter.c and
 * the loader.  See aud_kafka.h.
 *
 * librdkafka calls the log callback from its own threads; cm_log is
 * thread-safe (one write(2) per line), so the bridge needs no lock.  Its
 * syslog levels (0 emerg .. 7 debug) map onto cm_log's four.
 */
#include "audit/aud_kafka.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/cm_log.h"
#include "common/cm_time.h"

#define AUD_KAFKA_ERR_EVERY_US (10 * 1000000LL)

/* Rate limit of error_cb lines, per process (one client per process). */
static atomic_int_fast64_t err_logged_us;
static atomic_uint_fast64_t err_suppressed;

int
aud_kafka_read_bootstrap(const char *path, char *out, size_t outlen, struct cm_err *err)
{
    FILE *f;
    size_t n, start = 0;

    f = fopen(path, "r");
    if (f == NULL)
        return cm_err_set(err, CM_EINPUT, "bootstrap_file %s: %s", path, strerror(errno));
    n = fread(out, 1, outlen - 1, f);
    if (ferror(f)) {
        fclose(f);
        return cm_err_set(err, CM_EINPUT, "bootstrap_file %s: read error", path);
    }
    if (n == outlen - 1 && fgetc(f) != EOF) {
        fclose(f);
        return cm_err_set(err, CM_EINPUT, "bootstrap_file %s: longer than %zu bytes", path,
                          outlen - 1);
    }
    fclose(f);
    out[n] = '\0';
    while (n > 0 && isspace((unsigned char)out[n - 1]))
        out[--n] = '\0';
    while (start < n && isspace((unsigned char)out[start]))
        start++;
    if (start == n)
        return cm_err_set(err, CM_EINPUT, "bootstrap_file %s: empty", path);
    memmove(out, out + start, n - start + 1);
    return CM_OK;
}

int
aud_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, struct cm_err *err)
{
    char errstr[256];

    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return cm_err_set(err, CM_EINPUT, "kafka.%s: %s", key, errstr);
    return CM_OK;
}

int
aud_kafka_conf_apply(rd_kafka_conf_t *conf, const char *bootstrap_file,
                     const struct cm_kv_list *kafka, struct cm_err *err)
{
    int rc;

    if (bootstrap_file != NULL) {
        char addr[1024];

        rc = aud_kafka_read_bootstrap(bootstrap_file, addr, sizeof(addr), err);
        if (rc != CM_OK)
            return rc;
        rc = aud_kafka_conf_set(conf, "bootstrap.servers", addr, err);
        if (rc != CM_OK)
            return rc;
    }
    for (size_t i = 0; kafka != NULL && i < kafka->n; i++) {
        rc = aud_kafka_conf_set(conf, kafka->items[i].key, kafka->items[i].value, err);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum cm_log_level lvl;
    char qbuf[512];

    if (level <= 3)
        lvl = CM_LOG_ERR;
    else if (level == 4)
        lvl = CM_LOG_WARN;
    else if (level <= 6)
        lvl = CM_LOG_INFO;
    else
        lvl = CM_LOG_DEBUG;
    if (strcmp(fac, "FAIL") == 0)
        lvl = CM_LOG_DEBUG; /* reported by error_cb, rate-limited */
    if (!cm_log_enabled(lvl))
        return;
    cm_log_write(lvl, "kafka", "rdkafka client=%s fac=%s text=%s", rd_kafka_name(rk), fac,
                 cm_log_quote(buf, qbuf, sizeof(qbuf)));
}

/* Any librdkafka thread, or the one serving rd_kafka_poll. */
void
aud_kafka_log_error(rd_kafka_t *rk, int err, const char *reason)
{
    int64_t now = cm_mono_us(), last;
    char qbuf[256];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[256];
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));

        cm_log_err("kafka", "kafka_fatal client=%s err=%s reason=%s", rd_kafka_name(rk),
                   rd_kafka_err2name(ferr), cm_log_quote(fatal, qbuf, sizeof(qbuf)));
        return;
    }
    last = atomic_load(&err_logged_us);
    if (last != 0 && now - last < AUD_KAFKA_ERR_EVERY_US) {
        atomic_fetch_add(&err_suppressed, 1);
        return;
    }
    atomic_store(&err_logged_us, now);
    cm_log_warn("kafka", "kafka_error client=%s err=%s reason=%s suppressed=%llu",
                rd_kafka_name(rk), rd_kafka_err2name((rd_kafka_resp_err_t)err),
                cm_log_quote(reason, qbuf, sizeof(qbuf)),
                (unsigned long long)atomic_exchange(&err_suppressed, 0));
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    aud_kafka_log_error(rk, err, reason);
}

void
aud_kafka_conf_log(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
}
