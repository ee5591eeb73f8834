#!/usr/bin/env bash
# Install the Debian packages steward needs (deploy/apt-packages.txt).
# Runs as root, or through sudo for a normal user.  Installs only what is
# missing, so a second run is fast and needs no network.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t want < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/apt-packages.txt")
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#want[@]} packages present"
else
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "deps: installing ${#missing[@]} packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # prometheus is here for promtool (make check-deploy), but its package
    # also starts a Prometheus server (port 9090) and enables it at boot.  It
    # is installed on its own, with services kept from starting (policy-rc.d,
    # unless the machine already has one), then disabled.
    others=()
    for p in "${missing[@]}"; do [ "$p" = prometheus ] || others+=("$p"); done
    [ ${#others[@]} -eq 0 ] || $sudo apt-get install -y -qq --no-install-recommends "${others[@]}"
    if [ ${#others[@]} -ne ${#missing[@]} ]; then
        made_policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\n# deploy/deps.sh: no service starts while prometheus installs\nexit 101\n' |
                $sudo tee /usr/sbin/policy-rc.d >/dev/null
            $sudo chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
        fi
        $sudo apt-get install -y -qq --no-install-recommends prometheus || status=$?
        [ -z "$made_policy" ] || $sudo rm -f /usr/sbin/policy-rc.d
        [ "${status:-0}" -eq 0 ] || exit "$status"
        if [ -d /run/systemd/system ]; then
            $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
        else
            $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
        fi
    fi
fi

# The OpenAI SDK (npm) for the compatibility test, pinned by
# tests/sdk/package-lock.json; installed into tests/sdk/node_modules.
sdk=$here/../tests/sdk
if ! command -v npm >/dev/null 2>&1; then
    # Debian's nodejs comes without npm (NodeSource's includes it).
    ${sudo:-$( [ "$(id -u)" -eq 0 ] || echo sudo)} apt-get install -y -qq --no-install-recommends npm
fi
if [ -f "$sdk/package-lock.json" ] && [ ! -d "$sdk/node_modules/openai" ]; then
    echo "deps: installing the OpenAI SDK for tests (npm ci in tests/sdk)"
    npm ci --prefix "$sdk" --no-audit --no-fund --loglevel=error
fi
