#!/usr/bin/env bash
# Installs whatever is missing for tests and runs; idempotent and quick the second time.
#   - Debian's redis-server (and chromium for the report's browser test) when not on PATH
#   - a C compiler (Debian's gcc) if none, and ./bin/libmrclock.so, the clock library of clock faults
#   - the real Toxiproxy server, built by `go install` at a pinned version, as ./bin/toxiproxy-server
#   - .venv with the project installed editable, with its dev extras
set -euo pipefail
cd "$(dirname "$0")/.."

TOXIPROXY_VERSION="v2.12.0"
TOXIPROXY_MODULE="github.com/Shopify/toxiproxy/v2/cmd/server"
PYTHON="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*"; }

apt_updated=""
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        log "apt-get not available: install $* yourself"; return 1
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ -z "$apt_updated" ]; then $sudo apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server (Debian)"
    apt_install redis-server
    # Debian's package starts a system service on 6379; the project starts its own servers.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
    if command -v service >/dev/null 2>&1; then service redis-server stop >/dev/null 2>&1 || true; fi
fi

# Clock faults preload bin/libmrclock.so into redis-server: our C source, built with the system compiler.
compiler="${CC:-}"
for candidate in cc gcc clang; do
    [ -n "$compiler" ] && break
    command -v "$candidate" >/dev/null 2>&1 && compiler="$candidate"
done
if [ -z "$compiler" ]; then
    log "installing gcc (Debian) to build the clock library"
    apt_install gcc libc6-dev || { log "a C compiler (cc, gcc or clang) is required to build bin/libmrclock.so"; exit 4; }
    compiler=gcc
fi
if [ ! -f bin/libmrclock.so ] || [ harness/cluster/clockshim/clockshim.c -nt bin/libmrclock.so ]; then
    log "building bin/libmrclock.so with $compiler"
    mkdir -p bin
    "$compiler" -shared -fPIC -O2 -Wall -o bin/.libmrclock.so.tmp harness/cluster/clockshim/clockshim.c -ldl
    mv bin/.libmrclock.so.tmp bin/libmrclock.so
fi

# Chromium renders report.html in the browser test; optional, the test skips loudly without it.
if ! command -v chromium >/dev/null 2>&1 && [ "${SKIP_CHROMIUM:-}" != "1" ]; then
    log "installing chromium (Debian) for the report browser test"
    apt_install chromium || log "WARNING: chromium could not be installed; the browser test will be skipped"
fi

# `go install` builds report their version as "git", so the pinned version is kept in a stamp beside the binary.
if [ ! -x bin/toxiproxy-server ] || [ "$(cat bin/.toxiproxy-version 2>/dev/null)" != "$TOXIPROXY_VERSION" ]; then
    command -v go >/dev/null 2>&1 || { log "Go is required to build toxiproxy-server"; exit 4; }
    log "building toxiproxy-server ${TOXIPROXY_VERSION} with go install"
    gobin="$(mktemp -d)"
    GOBIN="$gobin" go install "${TOXIPROXY_MODULE}@${TOXIPROXY_VERSION}"
    mkdir -p bin
    mv "$gobin/server" bin/toxiproxy-server
    rm -rf "$gobin"
    echo "$TOXIPROXY_VERSION" > bin/.toxiproxy-version
fi

if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.setup-stamp ] || [ pyproject.toml -nt .venv/.setup-stamp ]; then
    log "installing the project into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch .venv/.setup-stamp
fi
log "ready: redis-server $(redis-server --version | awk '{print $3}'), toxiproxy-server ${TOXIPROXY_VERSION}, $(.venv/bin/python --version)"
