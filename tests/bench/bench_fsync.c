/* SPDX-License-Identifier: Apache-2.0
 *
 * bench_fsync: what one spool sync costs on a directory's disk, as steward's
 * spool does it with durability = sync at one connection: a record-sized
 * write (1.5 KB) into space written and synced ahead (audit/aud_spool.c,
 * prepared segments), then fdatasync(), then a pause of about one answer.
 * Prints the latency distribution of the fdatasync in microseconds:
 *
 *   bench_fsync DIR [SAMPLES=3000] [PAUSE_US=500]
 *   -> "fdatasync samples=N p50=.. p90=.. p99=.. p999=.. max=.."
 *
 * tests/bench/bench_proxy.sh runs it beside the proxies, so the disk's own
 * share of steward's latency at one connection is measured in the same run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD 1500

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int
write_all(int fd, const char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static char zero[64 * 1024];
    char path[4096], rec[RECORD];
    long samples = argc > 2 ? strtol(argv[2], NULL, 10) : 3000;
    long pause_us = argc > 3 ? strtol(argv[3], NULL, 10) : 500;
    int64_t *lat;
    size_t size;
    int fd;

    if (argc < 2 || samples < 100 || samples > 1000000 || pause_us < 0) {
        fprintf(stderr, "usage: bench_fsync DIR [SAMPLES=3000 (100..1000000)] [PAUSE_US=500]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/bench_fsync.tmp", argv[1]);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "bench_fsync: %s: %s\n", path, strerror(errno));
        return 1;
    }
    unlink(path);
    size = (size_t)samples * RECORD;
    for (size_t off = 0; off < size; off += sizeof(zero)) {
        size_t n = size - off < sizeof(zero) ? size - off : sizeof(zero);

        if (write_all(fd, zero, n, (off_t)off) != 0) {
            fprintf(stderr, "bench_fsync: writing %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    if (fsync(fd) != 0) {
        fprintf(stderr, "bench_fsync: fsync: %s\n", strerror(errno));
        return 1;
    }
    lat = calloc((size_t)samples, sizeof(*lat));
    if (lat == NULL)
        return 1;
    memset(rec, 'r', sizeof(rec));
    for (long i = 0; i < samples; i++) {
        int64_t t;

        if (write_all(fd, rec, sizeof(rec), (off_t)i * RECORD) != 0) {
            fprintf(stderr, "bench_fsync: pwrite: %s\n", strerror(errno));
            return 1;
        }
        t = now_us();
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "bench_fsync: fdatasync: %s\n", strerror(errno));
            return 1;
        }
        lat[i] = now_us() - t;
        if (pause_us > 0)
            usleep((useconds_t)pause_us);
    }
    close(fd);
    qsort(lat, (size_t)samples, sizeof(*lat), cmp_i64);
    printf("fdatasync samples=%ld p50=%lld p90=%lld p99=%lld p999=%lld max=%lld\n", samples,
           (long long)lat[samples / 2], (long long)lat[samples * 9 / 10],
           (long long)lat[samples * 99 / 100], (long long)lat[samples * 999 / 1000],
           (long long)lat[samples - 1]);
    free(lat);
    return 0;
}
