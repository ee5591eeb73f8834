/* SPDX-License-Identifier: Apache-2.0 */
/*
 * steward-mockkafka: an embedded Kafka for the local stack and the tests.
 *
 * Debian ships no Kafka broker, so this process hosts librdkafka's mock
 * cluster (rdkafka_mock.h) on loopback: it creates an otherwise idle producer
 * handle only to own the cluster, creates the topics, then publishes the
 * bootstrap address (stdout, and --bootstrap-file written atomically once
 * everything is ready). Tests inject faults through a line protocol on a
 * unix-domain stream socket (--control), served from the main thread with
 * ppoll(); SIGINT/SIGTERM are blocked everywhere except inside ppoll(), so
 * librdkafka's threads never see them. `steward-mockkafka ctl PATH CMD...` is
 * the matching one-shot client for shell scripts.
 *
 * Deliberately not done: persistence (the mock keeps no data once this process
 * exits) and de-duplication of idempotent producers (the mock does not do it;
 * the loader's ON CONFLICT absorbs duplicates). See tests/tools/README.md and
 * /usr/include/librdkafka/rdkafka_mock.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MK_MAX_TOPICS 32
#define MK_MAX_CLIENTS 32
#define MK_LINE_MAX 1024
#define MK_MAX_ARGS 8
#define MK_MAX_ERRCNT 100000

struct mk_options {
    int brokers;
    int partitions;
    const char *topics[MK_MAX_TOPICS];
    int ntopics;
    const char *bootstrap_file;
    const char *control_path;
};

struct mk_client {
    int fd;
    size_t len;
    char buf[MK_LINE_MAX];
};

struct mk_state {
    const struct mk_options *opt;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
    bool published; /* bootstrap file written by us: remove at exit */
    int listen_fd;
    struct mk_client clients[MK_MAX_CLIENTS];
    bool quit;
};

static volatile sig_atomic_t got_signal;

/* Kafka protocol API keys by name (the subset worth failing in tests). */
static const struct {
    const char *name;
    int16_t key;
} api_keys[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Offset", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"GroupCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"SaslHandshake", 17},
    {"ApiVersion", 18},
    {"ApiVersions", 18},
    {"CreateTopics", 19},
    {"DeleteTopics", 20},
    {"DeleteRecords", 21},
    {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
    {"DescribeConfigs", 32},
    {"AlterConfigs", 33},
    {"SaslAuthenticate", 36},
    {"CreatePartitions", 37},
    {"DeleteGroups", 42},
};

/* ------------------------------------------------------------------ logging */

/*
 * Appends s to out as a logfmt value: bare when it is a simple token, else
 * double-quoted with ", \ and control bytes escaped.
 */
static size_t
logfmt_value(char *out, size_t cap, size_t pos, const char *s)
{
    bool bare = *s != '\0';
    for (const char *p = s; *p && bare; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
            bare = false;
    }
    if (bare) {
        int n = snprintf(out + pos, pos < cap ? cap - pos : 0, "%s", s);
        return pos + (size_t)(n > 0 ? n : 0);
    }
    if (pos < cap)
        out[pos] = '"';
    pos++;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (c < ' ' || c == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", c);
        else {
            esc[0] = (char)c;
            esc[1] = '\0';
        }
        for (const char *e = esc; *e; e++, pos++)
            if (pos < cap)
                out[pos] = *e;
    }
    if (pos < cap)
        out[pos] = '"';
    return pos + 1;
}

/*
 * One logfmt line on stderr with one write(2): ts, lvl, mod, msg, then the
 * optional key=value pairs formatted by kvfmt (callers quote untrusted values
 * with logfmt_value first). Any thread; saves errno.
 */
__attribute__((format(printf, 3, 4))) static void
mk_log(const char *lvl, const char *msg, const char *kvfmt, ...)
{
    int saved = errno;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t pos;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    pos = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    pos += (size_t)snprintf(line + pos, sizeof line - pos,
                            ".%03ldZ lvl=%s mod=mockkafka msg=", ts.tv_nsec / 1000000L, lvl);
    pos = logfmt_value(line, sizeof line, pos, msg);
    if (kvfmt != NULL && pos + 1 < sizeof line) {
        va_list ap;
        line[pos++] = ' ';
        va_start(ap, kvfmt);
        int n = vsnprintf(line + pos, sizeof line - pos, kvfmt, ap);
        va_end(ap);
        pos += (size_t)(n > 0 ? n : 0);
    }
    if (pos >= sizeof line - 1)
        pos = sizeof line - 2; /* truncated: keep the newline */
    line[pos++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
    errno = saved;
}

/* librdkafka log callback: its own threads; maps syslog levels to ours. */
static void
rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    char qfac[128], qbuf[1024];
    const char *lvl;

    (void)rk;
    /* Expected: this handle only hosts the cluster, it never connects. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
        return;
    lvl = level <= 3 ? "error" : level == 4 ? "warn" : level <= 6 ? "info" : "debug";
    qfac[logfmt_value(qfac, sizeof qfac - 1, 0, fac)] = '\0';
    qbuf[logfmt_value(qbuf, sizeof qbuf - 1, 0, buf)] = '\0';
    mk_log(lvl, "librdkafka", "fac=%s text=%s", qfac, qbuf);
}

/* ---------------------------------------------------------------- parsing */

static bool
parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool
parse_api_key(const char *s, int16_t *out)
{
    long v;

    if (parse_int(s, 0, INT16_MAX, &v)) {
        *out = (int16_t)v;
        return true;
    }
    /* Accept "Produce", "ProduceRequest", case-insensitively. */
    for (size_t i = 0; i < sizeof api_keys / sizeof api_keys[0]; i++) {
        size_t n = strlen(api_keys[i].name);
        if (strncasecmp(s, api_keys[i].name, n) == 0 &&
            (s[n] == '\0' || strcasecmp(s + n, "Request") == 0)) {
            *out = api_keys[i].key;
            return true;
        }
    }
    return false;
}

static bool
parse_err(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    long v;

    if (parse_int(s, INT_MIN, INT_MAX, &v)) {
        *out = (rd_kafka_resp_err_t)v;
        return true;
    }
    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (descs[i].name != NULL && strcasecmp(descs[i].name, s) == 0) {
            *out = descs[i].code;
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------- control commands */

/*
 * Executes one command line; writes the reply (without newline) to reply.
 * Loop (main) thread only; the mock API calls are synchronous round trips
 * to the mock cluster's thread.
 */
static void
mk_command(struct mk_state *st, char *line, char *reply, size_t cap)
{
    char *argv[MK_MAX_ARGS];
    int argc = 0;
    char *save = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    long a, b;

    for (char *tok = strtok_r(line, " \t\r", &save); tok != NULL && argc < MK_MAX_ARGS;
         tok = strtok_r(NULL, " \t\r", &save))
        argv[argc++] = tok;
    if (argc == 0) {
        snprintf(reply, cap, "err empty command");
        return;
    }

#define NEED(n, usage)                                                                             \
    do {                                                                                           \
        if (argc != (n)) {                                                                         \
            snprintf(reply, cap, "err usage: %s", usage);                                          \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define BROKER_ARG(s)                                                                              \
    do {                                                                                           \
        if (!parse_int((s), 1, st->opt->brokers, &a)) {                                            \
            snprintf(reply, cap, "err bad broker id (1..%d)", st->opt->brokers);                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

    const char *cmd = argv[0];
    if (strcmp(cmd, "ping") == 0) {
        NEED(1, "ping");
    } else if (strcmp(cmd, "bootstrap") == 0) {
        NEED(1, "bootstrap");
        snprintf(reply, cap, "ok %s", st->bootstraps);
        return;
    } else if (strcmp(cmd, "quit") == 0) {
        NEED(1, "quit");
        st->quit = true;
    } else if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
        NEED(2, "down|up <broker_id>");
        BROKER_ARG(argv[1]);
        err = cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(st->mc, (int32_t)a)
                            : rd_kafka_mock_broker_set_up(st->mc, (int32_t)a);
    } else if (strcmp(cmd, "alldown") == 0) {
        NEED(1, "alldown");
        err = rd_kafka_mock_broker_set_down(st->mc, -1);
    } else if (strcmp(cmd, "allup") == 0) {
        NEED(1, "allup");
        err = rd_kafka_mock_broker_set_up(st->mc, -1);
    } else if (strcmp(cmd, "rtt") == 0) {
        NEED(3, "rtt <broker_id> <ms>");
        BROKER_ARG(argv[1]);
        if (!parse_int(argv[2], 0, 3600 * 1000, &b)) {
            snprintf(reply, cap, "err bad rtt");
            return;
        }
        err = rd_kafka_mock_broker_set_rtt(st->mc, (int32_t)a, (int)b);
    } else if (strcmp(cmd, "error") == 0 || strcmp(cmd, "clear") == 0) {
        int16_t key;
        rd_kafka_resp_err_t perr;
        rd_kafka_resp_err_t *errs;

        if (cmd[0] == 'c')
            NEED(2, "clear <api>");
        else
            NEED(4, "error <api> <count> <error>");
        if (!parse_api_key(argv[1], &key)) {
            snprintf(reply, cap, "err unknown api '%.64s'", argv[1]);
            return;
        }
        if (cmd[0] == 'c') {
            rd_kafka_mock_clear_request_errors(st->mc, key);
            goto ok;
        }
        if (!parse_int(argv[2], 1, MK_MAX_ERRCNT, &a)) {
            snprintf(reply, cap, "err bad count (1..%d)", MK_MAX_ERRCNT);
            return;
        }
        if (!parse_err(argv[3], &perr)) {
            snprintf(reply, cap, "err unknown error '%.64s'", argv[3]);
            return;
        }
        errs = malloc((size_t)a * sizeof *errs);
        if (errs == NULL) {
            snprintf(reply, cap, "err out of memory");
            return;
        }
        for (long i = 0; i < a; i++)
            errs[i] = perr;
        rd_kafka_mock_push_request_errors_array(st->mc, key, (size_t)a, errs);
        free(errs);
    } else if (strcmp(cmd, "topic") == 0) {
        NEED(3, "topic <name> <partitions>");
        if (!parse_int(argv[2], 1, 10000, &a)) {
            snprintf(reply, cap, "err bad partition count");
            return;
        }
        err = rd_kafka_mock_topic_create(st->mc, argv[1], (int)a,
                                         st->opt->brokers < 3 ? st->opt->brokers : 3);
    } else if (strcmp(cmd, "leader") == 0) {
        NEED(4, "leader <topic> <partition> <broker_id>");
        if (!parse_int(argv[2], 0, INT32_MAX, &a) || !parse_int(argv[3], 1, st->opt->brokers, &b)) {
            snprintf(reply, cap, "err bad partition or broker id");
            return;
        }
        err = rd_kafka_mock_partition_set_leader(st->mc, argv[1], (int32_t)a, (int32_t)b);
    } else {
        snprintf(reply, cap, "err unknown command '%.32s'", cmd);
        return;
    }
#undef NEED
#undef BROKER_ARG

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(reply, cap, "err %s: %s", rd_kafka_err2name(err), rd_kafka_err2str(err));
        return;
    }
ok:
    snprintf(reply, cap, "ok");
}

/* ------------------------------------------------------- control socket */

static int
control_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat sb;
    int fd;

    if (strlen(path) >= sizeof sa.sun_path) {
        mk_log("error", "control path too long", NULL);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    /* A socket left by a killed instance is stale unless someone answers. */
    if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(fd);
            mk_log("error", "control socket in use by another process", NULL);
            return -1;
        }
        if (fd >= 0)
            close(fd);
        unlink(path);
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        mk_log("error", "control socket", "errno=%d err=\"%s\"", errno, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void
client_close(struct mk_client *cl)
{
    close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
}

static void
client_reply(struct mk_client *cl, const char *reply)
{
    char out[MK_LINE_MAX + 2];
    int n = snprintf(out, sizeof out, "%s\n", reply);
    size_t len = (size_t)n < sizeof out ? (size_t)n : sizeof out - 1;

    /* Replies are short and the peer reads them: a blocking-ish write. */
    for (size_t off = 0; off < len;) {
        ssize_t w = send(cl->fd, out + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = cl->fd, .events = POLLOUT};
            if (poll(&p, 1, 1000) > 0)
                continue;
        }
        if (w <= 0) {
            client_close(cl);
            return;
        }
        off += (size_t)w;
    }
}

/* Reads what is available and runs each complete line. */
static void
client_read(struct mk_state *st, struct mk_client *cl)
{
    ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len, 0);

    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        client_close(cl);
        return;
    }
    cl->len += (size_t)n;

    char *nl;
    while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
        char reply[MK_LINE_MAX], qcmd[256];
        size_t linelen = (size_t)(nl - cl->buf);

        *nl = '\0';
        qcmd[logfmt_value(qcmd, sizeof qcmd - 1, 0, cl->buf)] = '\0';
        mk_command(st, cl->buf, reply, sizeof reply);
        mk_log(reply[0] == 'o' ? "info" : "warn", "control command", "cmd=%s ok=%s", qcmd,
               reply[0] == 'o' ? "true" : "false");
        client_reply(cl, reply);
        if (cl->fd < 0)
            return;
        memmove(cl->buf, nl + 1, cl->len - linelen - 1);
        cl->len -= linelen + 1;
    }
    if (cl->len == sizeof cl->buf) {
        client_reply(cl, "err line too long");
        if (cl->fd >= 0)
            client_close(cl);
    }
}

static void
control_accept(struct mk_state *st)
{
    for (;;) {
        int fd = accept4(st->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        struct mk_client *slot = NULL;
        for (int i = 0; i < MK_MAX_CLIENTS && slot == NULL; i++)
            if (st->clients[i].fd < 0)
                slot = &st->clients[i];
        if (slot == NULL) {
            static const char busy[] = "err too many control clients\n";
            ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
            (void)w;
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->len = 0;
    }
}

/* ------------------------------------------------------------ bootstrap */

/* Writes content + "\n" to path via a temp file and rename(2). */
static int
write_file_atomic(const char *path, const char *content)
{
    char tmp[PATH_MAX];
    FILE *f;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());

    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    if (fprintf(f, "%s\n", content) < 0 || fclose(f) != 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- ctl mode */

/* `ctl PATH CMD...`: one command, print the reply; 0 on "ok...", else 1. */
static int
ctl_main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 30};
    char line[MK_LINE_MAX];
    size_t len = 0;
    int fd;

    if (argc < 4) {
        fprintf(stderr, "usage: steward-mockkafka ctl PATH CMD [ARG...]\n");
        return 1;
    }
    if (strlen(argv[2]) >= sizeof sa.sun_path) {
        fprintf(stderr, "steward-mockkafka ctl: path too long\n");
        return 1;
    }
    memcpy(sa.sun_path, argv[2], strlen(argv[2]) + 1);
    for (int i = 3; i < argc; i++) {
        int n = snprintf(line + len, sizeof line - len, "%s%s", i > 3 ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof line - len - 1) {
            fprintf(stderr, "steward-mockkafka ctl: command too long\n");
            return 1;
        }
        len += (size_t)n;
    }
    line[len++] = '\n';

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "steward-mockkafka ctl: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
        fprintf(stderr, "steward-mockkafka ctl: send: %s\n", strerror(errno));
        close(fd);
        return 1;
    }
    len = 0;
    for (;;) {
        ssize_t n = recv(fd, line + len, sizeof line - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(line, '\n', len) != NULL || len == sizeof line - 1)
            break;
    }
    close(fd);
    line[len] = '\0';
    line[strcspn(line, "\n")] = '\0';
    if (len == 0) {
        fprintf(stderr, "steward-mockkafka ctl: no reply\n");
        return 1;
    }
    printf("%s\n", line);
    return strncmp(line, "ok", 2) == 0 && (line[2] == '\0' || line[2] == ' ') ? 0 : 1;
}

/* ---------------------------------------------------------------- server */

static void
on_signal(int sig)
{
    got_signal = sig;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: steward-mockkafka [--brokers N] [--topic NAME]... "
               "[--partitions P]\n"
               "                         [--bootstrap-file PATH] "
               "[--control PATH]\n"
               "       steward-mockkafka ctl PATH CMD [ARG...]\n"
               "control commands: ping, bootstrap, quit, down ID, up ID, "
               "alldown, allup,\n"
               "  rtt ID MS, error API COUNT ERR, clear API, "
               "topic NAME PARTITIONS,\n"
               "  leader TOPIC PARTITION ID\n");
}

static int
parse_args(int argc, char **argv, struct mk_options *opt)
{
    long v;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (val == NULL) {
            fprintf(stderr, "steward-mockkafka: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--brokers") == 0 && parse_int(val, 1, 32, &v))
            opt->brokers = (int)v;
        else if (strcmp(a, "--partitions") == 0 && parse_int(val, 1, 10000, &v))
            opt->partitions = (int)v;
        else if (strcmp(a, "--topic") == 0 && opt->ntopics < MK_MAX_TOPICS)
            opt->topics[opt->ntopics++] = val;
        else if (strcmp(a, "--bootstrap-file") == 0)
            opt->bootstrap_file = val;
        else if (strcmp(a, "--control") == 0)
            opt->control_path = val;
        else {
            fprintf(stderr, "steward-mockkafka: bad option %s %s\n", a, val);
            return -1;
        }
    }
    if (opt->ntopics == 0)
        opt->topics[opt->ntopics++] = "steward.lineage";
    return 0;
}

static int
serve(struct mk_state *st, const sigset_t *waitmask)
{
    struct pollfd pfds[1 + MK_MAX_CLIENTS];
    struct mk_client *owner[1 + MK_MAX_CLIENTS];

    while (!got_signal && !st->quit) {
        nfds_t n = 0;

        if (st->listen_fd >= 0) {
            pfds[n] = (struct pollfd){.fd = st->listen_fd, .events = POLLIN};
            owner[n++] = NULL;
        }
        for (int i = 0; i < MK_MAX_CLIENTS; i++) {
            if (st->clients[i].fd >= 0) {
                pfds[n] = (struct pollfd){.fd = st->clients[i].fd, .events = POLLIN};
                owner[n++] = &st->clients[i];
            }
        }
        int rc = ppoll(pfds, n, NULL, waitmask);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            mk_log("error", "ppoll failed", "err=\"%s\"", strerror(errno));
            return -1;
        }
        for (nfds_t i = 0; i < n && !st->quit; i++) {
            if (pfds[i].revents == 0)
                continue;
            if (owner[i] == NULL)
                control_accept(st);
            else if (owner[i]->fd >= 0)
                client_read(st, owner[i]);
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct mk_options opt = {.brokers = 1, .partitions = 4};
    struct mk_state st = {.opt = &opt, .listen_fd = -1};
    char errstr[512];
    sigset_t block, waitmask;
    struct sigaction sa = {.sa_handler = on_signal};
    rd_kafka_conf_t *conf;
    int rc = 1;

    if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
        return ctl_main(argc, argv);
    if (parse_args(argc, argv, &opt) < 0) {
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < MK_MAX_CLIENTS; i++)
        st.clients[i].fd = -1;

    /* Block before librdkafka starts its threads, so they inherit it. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, rk_log_cb);
    st.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (st.rk == NULL) {
        rd_kafka_conf_destroy(conf); /* not taken on failure (rd_kafka_new) */
        mk_log("error", "rd_kafka_new failed", "err=\"%s\"", errstr);
        return 1;
    }
    st.mc = rd_kafka_mock_cluster_new(st.rk, opt.brokers);
    if (st.mc == NULL) {
        mk_log("error", "mock cluster creation failed", NULL);
        goto out;
    }
    st.bootstraps = rd_kafka_mock_cluster_bootstraps(st.mc);

    for (int i = 0; i < opt.ntopics; i++) {
        char qt[256];
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(st.mc, opt.topics[i], opt.partitions,
                                                             opt.brokers < 3 ? opt.brokers : 3);
        qt[logfmt_value(qt, sizeof qt - 1, 0, opt.topics[i])] = '\0';
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            mk_log("error", "topic creation failed", "topic=%s err=%s", qt, rd_kafka_err2name(err));
            goto out;
        }
        mk_log("info", "topic created", "topic=%s partitions=%d", qt, opt.partitions);
    }

    if (opt.control_path != NULL) {
        st.listen_fd = control_listen(opt.control_path);
        if (st.listen_fd < 0)
            goto out;
    }

    /* Ready: only now publish the address (tests wait for the file). */
    if (opt.bootstrap_file != NULL && write_file_atomic(opt.bootstrap_file, st.bootstraps) < 0) {
        mk_log("error", "cannot write bootstrap file", "err=\"%s\"", strerror(errno));
        goto out;
    }
    st.published = opt.bootstrap_file != NULL;
    printf("%s\n", st.bootstraps);
    fflush(stdout);
    mk_log("info", "mock cluster ready", "bootstrap=%s brokers=%d", st.bootstraps, opt.brokers);

    if (serve(&st, &waitmask) == 0)
        rc = 0;
    mk_log("info", "shutting down", "signal=%d", (int)got_signal);

out:
    if (st.published)
        unlink(opt.bootstrap_file);
    for (int i = 0; i < MK_MAX_CLIENTS; i++)
        if (st.clients[i].fd >= 0)
            client_close(&st.clients[i]);
    if (st.listen_fd >= 0) {
        close(st.listen_fd);
        unlink(opt.control_path);
    }
    if (st.mc != NULL)
        rd_kafka_mock_cluster_destroy(st.mc);
    rd_kafka_destroy(st.rk);
    return rc;
}
