#!/usr/bin/env bash
# Python and front-end dependencies: .venv (python3.11), `pip install -e '.[dev]'`, `npm ci`.
#
# Each install is skipped when its inputs are unchanged since the last successful run (a fingerprint of
# pyproject.toml / package-lock.json is stored next to what it installed); FORCE_INSTALL=1 reinstalls.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv() {
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        return
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: chengguan needs Python 3.11 (set PYTHON=/path/to/python3.11)"
    if [[ -e "$VENV" ]]; then
        warn "$VENV is not a working Python 3.11 virtual environment; recreating it"
        rm -rf "$VENV"
    fi
    log "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
}

install_python() {
    local stamp="$VENV/.chengguan-install" want
    want="$(fingerprint pyproject.toml)"
    if [[ "${FORCE_INSTALL:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/chengguan" ]]; then
        ok "Python dependencies up to date (.venv)"
        return
    fi
    log "pip install -e '.[dev]'"
    local t0
    t0="$(now)"
    rm -f "$stamp"
    # Some machines' pip.conf names local package indexes that are absent; pip then prints one
    # "Location ... is ignored" warning per package even with -q. Drop exactly those lines, keep the rest.
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q -e '.[dev]' \
        2> >(grep -v "^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory" >&2)
    echo "$want" >"$stamp"
    ok "Python dependencies installed ($(elapsed "$t0"))"
}

install_node() {
    if [[ ! -f package.json ]]; then
        warn "no package.json yet: skipping npm (Leaflet, ECharts and HTMX pages will lack their libraries)"
        return
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js and npm"
    local stamp="node_modules/.chengguan-install" want cmd
    if [[ -f package-lock.json ]]; then
        want="$(fingerprint package.json package-lock.json)"
        cmd=(npm ci --no-audit --no-fund --loglevel=error)
    else
        warn "package.json has no package-lock.json: falling back to npm install (commit the lockfile)"
        want="$(fingerprint package.json)"
        cmd=(npm install --no-audit --no-fund --loglevel=error)
    fi
    if [[ "${FORCE_INSTALL:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        ok "npm packages up to date (node_modules)"
        return
    fi
    log "${cmd[*]}"
    local t0
    t0="$(now)"
    "${cmd[@]}" </dev/null
    echo "$want" >"$stamp"
    ok "npm packages installed ($(elapsed "$t0"))"
}

ensure_venv
install_python
install_node
