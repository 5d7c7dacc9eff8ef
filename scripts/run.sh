#!/usr/bin/env bash
# `make run`: install what is missing, migrate, load the demo city once, serve.
#
# Embedded default: SQLite file under var/ (CHENGGUAN_DATA_DIR), side effects run in-process.
# Environment: HOST (127.0.0.1), PORT (8000), anything CHENGGUAN_* (see .env.example).
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

bash scripts/bootstrap.sh

CLI="$VENV/bin/chengguan"
mkdir -p "${CHENGGUAN_DATA_DIR:-var}"

log "chengguan migrate"
"$CLI" migrate

log "chengguan seed-demo --if-empty"
"$CLI" seed-demo --if-empty

log "chengguan serve --host $HOST --port $PORT"
exec "$CLI" serve --host "$HOST" --port "$PORT"
