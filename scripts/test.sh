#!/usr/bin/env bash
# Install everything the suite needs on a fresh machine, then run lint, types and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests (never the product) use: ffprobe checks what the encoder wrote;
# PostgreSQL's initdb/pg_ctl start a throwaway server for the database tests; Debian's
# Chromium is the browser Playwright drives in tests/browser (never Playwright's own download).
missing=()
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
# Debian keeps the server binaries off PATH.
if ! command -v initdb >/dev/null 2>&1; then
    PATH="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1):$PATH"
    export PATH
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'

# The tools are installed above, so a missing one is a failure, not a skip.
export I2V_REQUIRE_FFPROBE=1
export I2V_REQUIRE_POSTGRES=1
export I2V_REQUIRE_BROWSER=1

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
