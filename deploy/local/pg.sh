#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# pg.sh: a throwaway local PostgreSQL cluster in a project folder, for the
# demo, the tests and CI (Debian's server; the newest of `pg_config --bindir`
# and /usr/lib/postgresql/*/bin).
#
#   pg.sh start DIR        initdb if needed, start, create database "steward";
#                          idempotent; last stdout line is the URL
#   pg.sh stop DIR         fast shutdown (idempotent)
#   pg.sh url DIR          postgresql://steward@127.0.0.1:PORT/steward
#   pg.sh status DIR       exit 0 if running, 3 if not (as pg_ctl status)
#   pg.sh psql DIR [ARGS]  psql against the cluster
#   pg.sh destroy DIR      stop and remove the cluster
#
# Layout: DIR/data (cluster), DIR/sock (unix socket), DIR/log/postgresql.log,
# DIR/port. Loopback TCP only, trust authentication, superuser "steward",
# UTF8 with locale C: never use this for anything but local throwaway data.
#
# Root: the server refuses to run as root, so initdb/pg_ctl run through
# `runuser -u steward` (a system user created if missing). When that user
# cannot reach DIR (a parent such as /root is mode 700), or the socket path
# would be too long, no permission is changed: the cluster goes to
# /var/tmp/steward-pg-<uid>-<hash of DIR> and DIR/pgroot is a symlink to it
# (data, sock and log then live there; DIR/port stays in DIR).
# Extra server settings: STEWARD_PG_OPTS="-c fsync=off ..." (added to -o).
set -euo pipefail

PG_USER=steward
PG_DB=steward
RUN_AS=steward # OS user when running as root

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '8,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

find_bindir() {
    local d best=""
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        best=$d
    fi
    # Prefer the newest installed server over the libpq-dev pg_config.
    d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
        sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        best=$d
    fi
    [ -n "$best" ] || die "no PostgreSQL server found (apt-get install postgresql)"
    printf '%s\n' "$best"
}

# Runs a server command as the right OS user, from / (the caller's cwd may be
# unreadable to that user), without our lock fd: the postmaster would inherit
# it and hold the lock for its whole life.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && exec runuser -u "$RUN_AS" -- "$@" 9>&-)
    else
        (cd / && exec "$@" 9>&-)
    fi
}

ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id -u "$RUN_AS" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
    fi
}

# A free loopback port: $1 (the previous one, so the URL stays the same across
# restarts) when it is free, else any.
free_port() {
    local p i want=${1:-0}
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$want" <<'PY'
import socket, sys
want = int(sys.argv[1])
for port in ([want] if want else []) + [0]:
    s = socket.socket()
    # TIME_WAIT from the last run's clients must not make the old port look busy.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    break
PY
        return
    fi
    if [ "$want" -gt 0 ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$want") 2>/dev/null; then
        echo "$want"
        return
    fi
    for i in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM + i) % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

# Sets ROOT (where data/, sock/, log/ live) for DIR; with "create", decides
# between DIR itself and the /var/tmp fallback (see the header).
resolve_root() {
    local create=${1:-}
    local hash fallback
    if [ -L "$DIR/pgroot" ]; then
        ROOT=$(readlink -f "$DIR/pgroot")
        return
    fi
    ROOT=$DIR
    [ "$create" = create ] || return 0

    local need_fallback=0
    # ".s.PGSQL.NNNNN" must fit in sun_path (107 bytes).
    if [ $((${#DIR} + 20)) -gt 100 ]; then
        need_fallback=1
    elif [ "$(id -u)" -eq 0 ] && ! runuser -u "$RUN_AS" -- test -x "$DIR" 2>/dev/null; then
        need_fallback=1
    fi
    [ "$need_fallback" -eq 1 ] || return 0

    hash=$(printf '%s' "$DIR" | sha256sum | cut -c1-12)
    fallback=/var/tmp/steward-pg-$(id -u)-$hash
    if [ -e "$fallback" ] || [ -L "$fallback" ]; then
        # /var/tmp is shared: only reuse what is ours.
        if [ -L "$fallback" ] || [ ! -d "$fallback" ]; then
            die "$fallback exists and is not a directory"
        fi
        local owner
        owner=$(stat -c %U "$fallback")
        if [ "$owner" != "$(id -un)" ] && [ "$owner" != "$RUN_AS" ]; then
            die "$fallback is owned by $owner, refusing to use it"
        fi
    else
        mkdir -m 700 "$fallback"
    fi
    if [ "$(id -u)" -eq 0 ]; then
        chown "$RUN_AS:" "$fallback"
    fi
    ln -sfn "$fallback" "$DIR/pgroot"
    ROOT=$fallback
}

# Creates data/, sock/, log/ under ROOT owned by the server user.
make_dirs() {
    local d
    for d in data sock log; do
        if [ ! -d "$ROOT/$d" ]; then
            mkdir -m 700 "$ROOT/$d"
        fi
        if [ "$(id -u)" -eq 0 ]; then
            chown "$RUN_AS:" "$ROOT/$d"
        fi
    done
}

is_running() {
    [ -f "$ROOT/data/PG_VERSION" ] || return 1
    as_pg "$BINDIR/pg_ctl" -D "$ROOT/data" status >/dev/null 2>&1
}

# The port of the running server (postmaster.pid line 4), else DIR/port.
current_port() {
    local p=""
    if [ -f "$ROOT/data/postmaster.pid" ]; then
        p=$(sed -n 4p "$ROOT/data/postmaster.pid" 2>/dev/null || true)
    fi
    if [ -z "$p" ] && [ -f "$DIR/port" ]; then
        p=$(cat "$DIR/port")
    fi
    [ -n "$p" ] || return 1
    printf '%s\n' "$p"
}

url_for() {
    printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$PG_USER" "$1" "$PG_DB"
}

cmd_start() {
    local port attempt exists
    ensure_user
    resolve_root create
    make_dirs

    if is_running; then
        port=$(current_port) || die "running, but its port is unknown"
        echo "$port" >"$DIR/port"
        url_for "$port"
        return 0
    fi

    if [ ! -f "$ROOT/data/PG_VERSION" ]; then
        if [ -n "$(find "$ROOT/data" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
            die "$ROOT/data is not empty but holds no cluster; remove it or run destroy"
        fi
        as_pg "$BINDIR/initdb" -D "$ROOT/data" -U "$PG_USER" --auth=trust \
            -E UTF8 --locale=C >"$ROOT/log/initdb.log" 2>&1 ||
            { cat "$ROOT/log/initdb.log" >&2; die "initdb failed"; }
    fi

    for attempt in 1 2 3; do
        if [ "$attempt" -eq 1 ] && [ -f "$DIR/port" ]; then
            port=$(free_port "$(cat "$DIR/port")")
        else
            port=$(free_port)
        fi
        # shellcheck disable=SC2086 # STEWARD_PG_OPTS is a list of options
        if as_pg "$BINDIR/pg_ctl" -w -t 60 -D "$ROOT/data" -l "$ROOT/log/postgresql.log" \
            -o "-p $port -k '$ROOT/sock' -c listen_addresses=127.0.0.1 ${STEWARD_PG_OPTS:-}" \
            start >/dev/null; then
            break
        fi
        # Most likely the port was taken between probe and bind: try another.
        [ "$attempt" -lt 3 ] || { tail -n 20 "$ROOT/log/postgresql.log" >&2; die "server did not start"; }
    done
    echo "$port" >"$DIR/port"

    exists=$("$BINDIR/psql" -X -q -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")
    if [ "$exists" != 1 ]; then
        "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U "$PG_USER" "$PG_DB"
    fi
    url_for "$port"
}

cmd_stop() {
    resolve_root
    if is_running; then
        as_pg "$BINDIR/pg_ctl" -D "$ROOT/data" -m fast -w -t 60 stop >/dev/null
    fi
}

cmd_url() {
    local port
    resolve_root
    port=$(current_port) || die "no cluster in $DIR (run: pg.sh start $DIR)"
    url_for "$port"
}

cmd_status() {
    local port
    resolve_root
    if is_running; then
        port=$(current_port || echo "?")
        echo "postgresql: running on 127.0.0.1:$port (data $ROOT/data, log $ROOT/log/postgresql.log)"
        url_for "$port"
        return 0
    fi
    if [ -f "$ROOT/data/PG_VERSION" ]; then
        echo "postgresql: stopped (data $ROOT/data)"
    else
        echo "postgresql: no cluster in $DIR"
    fi
    return 3
}

cmd_psql() {
    local port
    resolve_root
    is_running || die "not running (run: pg.sh start $DIR)"
    port=$(current_port) || die "port unknown"
    exec "$BINDIR/psql" "$(url_for "$port")" "$@" 9>&-
}

cmd_destroy() {
    local link
    resolve_root
    cmd_stop
    if [ -L "$DIR/pgroot" ]; then
        link=$(readlink -f "$DIR/pgroot")
        case "$link" in
        /var/tmp/steward-pg-*) rm -rf -- "$link" ;;
        *) die "$DIR/pgroot points to $link, not removing it" ;;
        esac
        rm -f -- "$DIR/pgroot"
    else
        rm -rf -- "$DIR/data" "$DIR/sock" "$DIR/log"
    fi
    rm -f -- "$DIR/port"
}

[ $# -ge 2 ] || usage
cmd=$1
DIR=$2
shift 2
case "$cmd" in
start | stop | url | status | psql | destroy) ;;
*) usage ;;
esac

if [ "$cmd" = start ]; then
    mkdir -p -- "$DIR"
fi
if [ -d "$DIR" ]; then
    DIR=$(cd -- "$DIR" && pwd -P)
elif [ "$cmd" = stop ] || [ "$cmd" = destroy ]; then
    exit 0 # nothing to stop or remove
else
    die "$DIR does not exist"
fi
BINDIR=$(find_bindir)
ROOT=$DIR

# One pg.sh at a time per DIR (parallel test runs share nothing else).
exec 9>>"$DIR/.pg.lock"
flock -w 120 9 || die "another pg.sh holds $DIR/.pg.lock"


case "$cmd" in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
status) cmd_status ;;
psql) cmd_psql "$@" ;;
destroy)
    cmd_destroy
    rm -f -- "$DIR/.pg.lock"
    rmdir -- "$DIR" 2>/dev/null || true
    ;;
esac
