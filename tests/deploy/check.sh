#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make check-deploy: the deployment artifacts and the man pages, checked.
#
#   yamllint       yamllint --strict over deploy/ with the committed .yamllint
#   install        make install (PREFIX=/usr/local and PREFIX=/usr) into temp
#                  DESTDIRs: the expected files, then make uninstall leaves none
#   units          systemd-analyze verify on the installed units (their
#                  binaries and man pages from the temp tree), and every path
#                  their Exec lines name exists
#   rules          promtool check rules and promtool test rules
#                  (tests/deploy/alerts_test.yml) on deploy/monitoring/alerts.yml;
#                  each alert's runbook link names a section of docs/runbook.md
#   metrics        a sidecar started alone: /healthz and /readyz answer 200,
#                  its /metrics passes promtool check metrics, and every
#                  steward_* metric the alerts use is one it serves; run under
#                  strace, its system calls (start, an exchange, metrics,
#                  reloads, the spool, the stop) all pass steward.service's
#                  SystemCallFilter
#   keys           every option deploy/ sets exists (--config-doc)
#   configs        every configuration deploy/ ships passes `steward -n` /
#                  `steward-loader -n` (absolute paths mapped into a temp root
#                  holding the install tree, the policy and generated secrets)
#   k8s            programs, mounts and files the manifests name exist
#   container      the Containerfile's stages against the programs' libraries
#   man            groff -man -ww without a warning; every --help option named
#
# Prints one line per check and "check-deploy: N passed, N failed"; exits 1
# if any failed.  STEWARD_BUILD selects the build (default build/debug).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd)
build=${STEWARD_BUILD:-build/debug}
bin=$repo/$build/bin
work=$(mktemp -d /tmp/steward-check-deploy-XXXXXX)
passed=0
failed=0
pids=()
tracer=""
cleanup() {
    # the traced sidecar first (strace's child), then what we started
    [ -z "$tracer" ] || kill "$(pgrep -P "$tracer" -x steward)" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# check NAME COMMAND...: runs COMMAND, its output indented; passes on exit 0.
check() {
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
    [ -z "$out" ] || sed 's/^/     /' <<<"$out"
}

# silent COMMAND...: fails when COMMAND fails or prints anything (warnings).
silent() {
    local out
    out=$("$@" 2>&1) || { printf '%s\n' "$out"; return 1; }
    [ -z "$out" ] || { printf '%s\n' "$out"; return 1; }
}

for tool in yamllint promtool systemd-analyze groff readelf dpkg curl python3 strace; do
    command -v "$tool" >/dev/null || { echo "check-deploy: $tool is missing (make deps)"; exit 1; }
done

# ---------------------------------------------------------------- yamllint
check yamllint yamllint --strict -c .yamllint deploy/ tests/deploy/

# ---------------------------------------------------------------- install
local_root=$work/root-local # PREFIX=/usr/local, as the systemd units expect
usr_root=$work/root-usr     # PREFIX=/usr, as the container image has it
install_trees() {
    make --no-print-directory -s FLAVOUR="${build#build/}" install DESTDIR="$local_root" >/dev/null &&
        make --no-print-directory -s FLAVOUR="${build#build/}" install DESTDIR="$usr_root" PREFIX=/usr >/dev/null ||
        return 1
    local missing=0 f
    for f in bin/steward bin/steward-loader bin/steward-audit bin/steward-policy bin/steward-pii \
        share/steward/steward-pii.model share/steward/schema/sql/0001_lineage.sql \
        share/steward/examples/steward.conf share/steward/examples/steward-loader.conf \
        share/steward/examples/policies/default.json share/steward/examples/alerts.yml \
        lib/systemd/system/steward.service lib/systemd/system/steward-loader.service \
        lib/sysusers.d/steward.conf share/man/man5/steward.conf.5 \
        share/man/man1/steward.1 share/man/man1/steward-loader.1 share/man/man1/steward-audit.1 \
        share/man/man1/steward-policy.1 share/man/man1/steward-pii.1; do
        [ -e "$local_root/usr/local/$f" ] || { echo "missing after install: /usr/local/$f"; missing=1; }
        [ -e "$usr_root/usr/$f" ] || { echo "missing after install PREFIX=/usr: /usr/$f"; missing=1; }
    done
    grep -q '/usr/local' "$usr_root/usr/lib/systemd/system/steward.service" &&
        { echo "PREFIX=/usr: the unit still names /usr/local"; missing=1; }
    cp -a "$local_root" "$work/uninstall" &&
        make --no-print-directory -s FLAVOUR="${build#build/}" uninstall DESTDIR="$work/uninstall" >/dev/null || return 1
    if [ -n "$(find "$work/uninstall" -type f)" ]; then
        echo "left after make uninstall:"
        find "$work/uninstall" -type f
        missing=1
    fi
    return $missing
}
check "make install (PREFIX, DESTDIR) and uninstall" install_trees

# ---------------------------------------------------------------- systemd
# verify needs the Exec binaries at their real paths: a copy of each unit
# whose /usr/local points into the temp tree; man: pages from the same tree.
verify_units() {
    mkdir -p "$work/units"
    local u
    for u in "$local_root"/usr/local/lib/systemd/system/*.service; do
        sed "s|/usr/local/|$local_root/usr/local/|g" "$u" >"$work/units/$(basename "$u")"
    done
    MANPATH=$local_root/usr/local/share/man silent systemd-analyze verify "$work"/units/*.service
}
check "systemd-analyze verify" verify_units
check "systemd units: paths" python3 tests/deploy/check_refs.py units "$local_root" /usr/local

# ---------------------------------------------------------------- prometheus
check "promtool check rules" promtool check rules deploy/monitoring/alerts.yml
check "promtool test rules" bash -c 'cd tests/deploy && promtool test rules alerts_test.yml'
check "alerts: runbook sections exist" python3 tests/deploy/check_refs.py anchors

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A sidecar alone: no model server, Kafka unreachable (its records spool);
# HTTPS with a throw-away certificate, so that the TLS metrics are served
# and the handshake's system calls meet the filter too.
admin_port=$(free_port)
mkdir -p "$work/sidecar"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$work/sidecar/tls.key" -out "$work/sidecar/tls.pem" >/dev/null 2>&1
chmod 600 "$work/sidecar/tls.key"
cat >"$work/sidecar/steward.conf" <<CONF
listen = 127.0.0.1:0
admin_listen = 127.0.0.1:$admin_port
upstream = http://127.0.0.1:9
policy = $repo/deploy/policies/default.json
instance = check-deploy
workers = 1
kafka.bootstrap.servers = 127.0.0.1:9
spool_dir = $work/sidecar/spool
tls_cert = $work/sidecar/tls.pem
tls_key = $work/sidecar/tls.key
CONF
# Under strace, to hold its system calls against the unit's SystemCallFilter.
strace -f -qq -o "$work/sidecar/trace" "$bin/steward" -c "$work/sidecar/steward.conf" \
    >"$work/sidecar/log" 2>&1 &
tracer=$!
pids+=("$tracer")
admin=http://127.0.0.1:$admin_port
for _ in $(seq 100); do
    curl -sf "$admin/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
live_metrics() {
    local h r
    h=$(curl -s -o /dev/null -w '%{http_code}' "$admin/healthz")
    r=$(curl -s -o /dev/null -w '%{http_code}' "$admin/readyz")
    [ "$h $r" = "200 200" ] || { echo "/healthz $h, /readyz $r"; tail -n 5 "$work/sidecar/log"; return 1; }
    # one exchange, so that the counters have samples: the model server is
    # not there, so it is a 502 (upstream_error) after a redaction
    local data
    data=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$work/sidecar/log" | head -n 1)
    curl -sk -o /dev/null -H 'Content-Type: application/json' \
        -d '{"model":"m","messages":[{"role":"user","content":"write to jane.roe@example.com"}]}' \
        "https://$data/v1/chat/completions"
    curl -sf "$admin/metrics" >"$work/metrics.txt" || { echo "no /metrics"; return 1; }
    grep -q "^steward_exchanges_total{" "$work/metrics.txt" || { echo "no exchange counted"; return 1; }
    silent promtool check metrics <"$work/metrics.txt" || return 1
    # every steward_* metric an alert uses is served
    local m bad=0
    for m in $(grep -o 'steward_[a-z_]*' deploy/monitoring/alerts.yml | sort -u); do
        grep -q "^# TYPE $m " "$work/metrics.txt" ||
            { echo "alerts.yml uses $m, which /metrics does not serve"; bad=1; }
    done
    return $bad
}
check "/healthz, /readyz, promtool check metrics, alert metric names" live_metrics

# A reload and a stop, then every system call the sidecar made must pass
# steward.service's SystemCallFilter (with SystemCallErrorNumber=EPERM a
# call outside it would fail at run time under systemd).
syscalls_in_filter() {
    local sc
    sc=$(pgrep -P "$tracer" -x steward) || { echo "the sidecar is not running"; return 1; }
    curl -s -X POST "$admin/reload" >/dev/null
    kill -HUP "$sc" && sleep 0.3 && kill -TERM "$sc"
    # strace has written the whole trace once it exits (not our child here)
    for _ in $(seq 150); do
        kill -0 "$tracer" 2>/dev/null || break
        sleep 0.1
    done
    ! kill -0 "$tracer" 2>/dev/null || { echo "the sidecar did not stop in 15 s"; return 1; }
    python3 tests/deploy/check_refs.py syscalls "$work/sidecar/trace" \
        "$local_root/usr/local/lib/systemd/system/steward.service"
}
check "systemd: the sidecar's system calls pass SystemCallFilter" syscalls_in_filter

# ---------------------------------------------------------------- configs
check "config keys in deploy/ exist" python3 tests/deploy/check_refs.py keys "$bin"

# Each shipped configuration, its absolute paths moved into a temp root that
# holds both install trees, the policy, and freshly made secrets (mode 0600).
validate_confs() {
    local fake=$work/fake conf prog where bad=0
    python3 tests/deploy/check_refs.py confs "$work/confs" || return 1
    mkdir -p "$fake/etc/steward/policy" "$fake/run/steward/secrets" "$fake/var/lib/steward" "$fake/usr"
    cp -a "$local_root/usr/local" "$fake/usr/" && cp -a "$usr_root/usr/." "$fake/usr/"
    cp "$work/confs/k8s-policy.yaml" "$fake/etc/steward/policy/policy.yaml"
    cp deploy/policies/default.json "$fake/etc/steward/policy.yaml"
    for d in "$fake/etc/steward" "$fake/run/steward/secrets"; do
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$d/pii.key" &&
            : >"$d/keys.jsonl") || return 1
        "$bin/steward-audit" keygen --out "$d/signing.key" >/dev/null || return 1
    done
    for conf in "$work"/confs/*.conf; do
        prog=${conf##*-}
        prog=${prog%.conf}
        [ "$prog" = loader ] && prog=steward-loader
        where=$(cat "$conf.where")
        # absolute paths into the fake root; the dev example's relative
        # policy path is the repository's
        sed -E -e "s#= */#= $fake/#" -e "s#^policy = deploy/#policy = $repo/deploy/#" "$conf" >"$conf.fake"
        if ! out=$("$bin/$prog" -n -c "$conf.fake" 2>&1); then
            echo "$where: $prog -n failed:"
            sed 's/^/  /' <<<"$out"
            bad=1
        fi
    done
    return $bad
}
check "shipped configurations pass -n" validate_confs

# ---------------------------------------------------------------- k8s, container
check "k8s: programs, mounts, files" python3 tests/deploy/check_refs.py k8s "$usr_root"
check "k8s: the policy ConfigMap passes steward-policy check" \
    "$bin/steward-policy" check "$work/confs/k8s-policy.yaml"
check "Containerfile: stages, libraries, user" python3 tests/deploy/check_refs.py container "$usr_root" "$bin"

# ---------------------------------------------------------------- man pages
groff_pages() {
    local page bad=0
    for page in docs/man/*.[15]; do
        silent groff -man -Tutf8 -ww -z "$page" || { echo "$page: groff warnings"; bad=1; }
    done
    return $bad
}
check "man pages: groff -man -ww" groff_pages
check "man pages: every --help option" python3 tests/deploy/check_refs.py man "$bin"

echo "check-deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
