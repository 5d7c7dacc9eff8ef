# shellcheck shell=bash
# Shared helpers for the setup scripts. Source it; do not run it.
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It sets ROOT (the repository root) and cds there, so every script works from any directory.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3.11}"
VENV="${VENV:-$ROOT/.venv}"
PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    _B=$'\033[1m' _G=$'\033[32m' _Y=$'\033[33m' _R=$'\033[31m' _N=$'\033[0m'
else
    _B='' _G='' _Y='' _R='' _N=''
fi

log() { printf '%s==>%s %s\n' "$_B" "$_N" "$*"; }
ok() { printf '%s  ok%s %s\n' "$_G" "$_N" "$*"; }
warn() { printf '%swarn%s %s\n' "$_Y" "$_N" "$*" >&2; }
die() {
    printf '%sfail%s %s\n' "$_R" "$_N" "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, else through sudo when it exists.
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $* (run as root or install sudo)"
    fi
}

# sha256 of the given files, one line; used to skip an install whose inputs have not changed.
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

# Seconds since the epoch, with a fraction (for timings in summaries).
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
