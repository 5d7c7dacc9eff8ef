#!/usr/bin/env bash
# `make test`: install everything that is missing, then lint, type-check and run the suite on both databases.
#
#   system packages + PostgreSQL (scripts/system-deps.sh) -> .venv + pip + npm (scripts/bootstrap.sh)
#   -> ruff check -> ruff format --check -> mypy -> lint-imports
#   -> pytest on SQLite and pytest on PostgreSQL + PostGIS (at the same time, see PARALLEL_PASSES) -> summary
#
# Every check runs even when an earlier one failed, so one run reports everything; the script exits non-zero
# when any failed. A pytest pass that collects no tests (exit code 5) counts as a failure.
#
# Each pytest pass spreads its tests over PYTEST_WORKERS pytest-xdist workers (`-n N --dist loadgroup`; the e2e
# tests form one group, so their server is started once). The demo city is built once per pass and copied
# (tests/conftest.py).
#
# Environment:
#   STEPS            checks to run, in order (default: "ruff format mypy imports sqlite postgres")
#   PYTEST_ARGS      extra pytest arguments for both passes, e.g. "tests/unit -x"
#   PYTEST_WORKERS   xdist workers per pytest pass; 0 or 1 = no xdist (default: see default_workers below)
#   PARALLEL_PASSES  1 = run the SQLite and PostgreSQL passes at the same time, 0 = one after the other
#                    (default 1; each pass's output is printed whole when both are done)
#   CHENGGUAN_TEST_DATABASE_URL  admin URL for the PostgreSQL pass
#                    (default postgresql+psycopg://postgres@127.0.0.1/postgres; throwaway databases are made)
#   SKIP_SYSTEM=1    do not touch apt or PostgreSQL (you manage them)
#   FAIL_FAST=1      stop at the first failing check (the passes then run one after the other)
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEPS="${STEPS:-ruff format mypy imports sqlite postgres}"
PG_TEST_URL="${CHENGGUAN_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1/postgres}"
read -r -a EXTRA <<<"${PYTEST_ARGS:-}"

wants() { [[ " $STEPS " == *" $1 "* ]]; }

# The two pytest passes run at the same time when both are asked for (one after the other with FAIL_FAST=1).
TOGETHER=0
if [[ "${PARALLEL_PASSES:-1}" == 1 && "${FAIL_FAST:-0}" != 1 ]] && wants sqlite && wants postgres; then
    TOGETHER=1
fi
# xdist workers per pass: the CPU count, shared between the passes when they run together.
CPUS="$(nproc 2>/dev/null || echo 1)"
DEFAULT_WORKERS=$((CPUS / (TOGETHER + 1)))
WORKERS="${PYTEST_WORKERS:-$((DEFAULT_WORKERS > 1 ? DEFAULT_WORKERS : 1))}"
[[ "$WORKERS" =~ ^[0-9]+$ ]] || die "PYTEST_WORKERS must be a number (got '$WORKERS')"
PYTEST_CMD=("$VENV/bin/pytest" -p no:cacheprovider -q)
if [[ $WORKERS -gt 1 ]]; then
    PYTEST_CMD+=(-n "$WORKERS" --dist loadgroup)
fi
PYTEST_CMD+=(${EXTRA[@]+"${EXTRA[@]}"})
LOG_DIR="$ROOT/artifacts/test"
mkdir -p "$LOG_DIR"
T_ALL="$(now)"

# ---- setup: failures here stop the run at once ------------------------------------------------------------
if [[ "${SKIP_SYSTEM:-0}" != 1 ]]; then
    if wants postgres; then
        bash scripts/system-deps.sh
    else
        SKIP_POSTGRES=1 bash scripts/system-deps.sh
    fi
fi
bash scripts/bootstrap.sh
export PATH="$VENV/bin:$PATH"

# Lint targets that exist in this checkout (git does not keep empty folders such as a new bench/).
LINT_PATHS=()
for p in src tests bench; do
    [[ -d "$p" ]] && LINT_PATHS+=("$p")
done

# ---- checks -------------------------------------------------------------------------------------------------
RESULTS=()  # "name|status|time|detail"
FAILED=0

record() {
    RESULTS+=("$1|$2|$3|$4")
    if [[ "$2" != PASS ]]; then
        FAILED=1
        if [[ "${FAIL_FAST:-0}" == 1 ]]; then
            summary
            exit 1
        fi
    fi
}

# check NAME COMMAND...: run a lint-style command, record pass/fail.
check() {
    local name="$1" t0 rc
    shift
    log "$name: $*"
    t0="$(now)"
    set +e
    "$@" 2>&1 | tee "$LOG_DIR/$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    if [[ $rc -eq 0 ]]; then
        record "$name" PASS "$(elapsed "$t0")" ""
    else
        record "$name" FAIL "$(elapsed "$t0")" "exit $rc, log artifacts/test/$name.log"
    fi
}

# pytest_run NAME [VAR=VALUE...]: one pass of the suite with the given environment; its output goes to
# artifacts/test/pytest-NAME.log (and to the terminal when QUIET is unset), its result line
# "STATUS|TIME|DETAIL" to artifacts/test/pytest-NAME.result.
pytest_run() {
    local name="$1" t0 rc counts status detail logfile="$LOG_DIR/pytest-$1.log"
    shift
    t0="$(now)"
    set +e
    if [[ -n "${QUIET:-}" ]]; then
        env -u CHENGGUAN_TEST_DATABASE_URL "$@" "${PYTEST_CMD[@]}" </dev/null >"$logfile" 2>&1
        rc=$?
    else
        env -u CHENGGUAN_TEST_DATABASE_URL "$@" "${PYTEST_CMD[@]}" </dev/null 2>&1 | tee "$logfile"
        rc=${PIPESTATUS[0]}
    fi
    set -e
    # pytest -q ends with e.g. "12 passed, 3 deselected in 4.56s" (or "no tests ran in 0.01s").
    counts="$(grep -E '(passed|failed|error|errors|skipped|deselected|xfailed|xpassed|no tests ran).* in [0-9.]+s' \
        "$logfile" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//; s/ in [0-9.]+s.*$//' || true)"
    counts="${counts:-no summary line}"
    case $rc in
    0) status=PASS detail="$counts" ;;
    5) status=FAIL detail="NO TESTS COLLECTED (pytest exit 5): $counts" ;;
    *) status=FAIL detail="pytest exit $rc: $counts" ;;
    esac
    echo "$status|$(elapsed "$t0")|$detail" >"$LOG_DIR/pytest-$name.result"
}

pass_env() {
    case $1 in
    sqlite) ;;
    postgres) echo "CHENGGUAN_TEST_DATABASE_URL=$PG_TEST_URL" ;;
    esac
}

record_pass() {
    local status time detail
    IFS='|' read -r status time detail <"$LOG_DIR/pytest-$1.result"
    record "pytest-$1" "$status" "$time" "$detail"
}

# pytest_pass NAME: one pass in the foreground.
pytest_pass() {
    local env_args
    read -r -a env_args <<<"$(pass_env "$1")"
    log "pytest ($1): ${env_args[*]:-} ${PYTEST_CMD[*]/#$ROOT\//}"
    rm -f "$LOG_DIR/pytest-$1.result"
    pytest_run "$1" ${env_args[@]+"${env_args[@]}"}
    record_pass "$1"
}

# pytest_passes NAME...: the passes at the same time; each one's output is printed whole once all are done.
# Each pass runs in a process group of its own (set -m), so an interrupt reaches pytest as SIGINT and it still
# tears down (drops its PostgreSQL databases, stops the e2e server).
pytest_passes() {
    local name env_args pids=() groups=()
    set -m
    for name in "$@"; do
        read -r -a env_args <<<"$(pass_env "$name")"
        log "pytest ($name, in the background): ${env_args[*]:-} ${PYTEST_CMD[*]/#$ROOT\//}"
        rm -f "$LOG_DIR/pytest-$name.result"
        QUIET=1 pytest_run "$name" ${env_args[@]+"${env_args[@]}"} &
        pids+=($!)
        groups+=("-$!")
    done
    set +m
    # shellcheck disable=SC2064  # the groups are known now
    trap "kill -INT -- ${groups[*]} 2>/dev/null || true; INTERRUPTED=1" INT TERM
    local pid
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null; do
            wait "$pid" || true # returns early when a signal is trapped; wait again
        done
    done
    trap - INT TERM
    for name in "$@"; do
        log "pytest ($name): output (artifacts/test/pytest-$name.log)"
        cat "$LOG_DIR/pytest-$name.log"
        if [[ ! -f "$LOG_DIR/pytest-$name.result" ]]; then
            echo "FAIL|?|the pass did not finish" >"$LOG_DIR/pytest-$name.result"
        fi
        record_pass "$name"
    done
}

summary() {
    local line name status time detail colour
    printf '\n%s==> summary%s (%s in all; logs in artifacts/test/)\n' "$_B" "$_N" "$(elapsed "$T_ALL")" |
        tee "$LOG_DIR/summary.txt"
    for line in "${RESULTS[@]}"; do
        IFS='|' read -r name status time detail <<<"$line"
        [[ $status == PASS ]] && colour="$_G" || colour="$_R"
        printf '  %-16s %s%-4s%s %8s  %s\n' "$name" "$colour" "$status" "$_N" "$time" "$detail"
        printf '  %-16s %-4s %8s  %s\n' "$name" "$status" "$time" "$detail" >>"$LOG_DIR/summary.txt"
    done
    if [[ $FAILED -eq 0 ]]; then
        printf '%sall checks passed%s\n' "$_G" "$_N" | tee -a "$LOG_DIR/summary.txt"
    else
        printf '%sSOME CHECKS FAILED%s\n' "$_R" "$_N" | tee -a "$LOG_DIR/summary.txt"
    fi
}

PASSES=()
for step in $STEPS; do
    [[ $step == sqlite || $step == postgres ]] && PASSES+=("$step")
done

for step in $STEPS; do
    case $step in
    ruff) check ruff "$VENV/bin/ruff" check "${LINT_PATHS[@]}" ;;
    format) check format "$VENV/bin/ruff" format --check "${LINT_PATHS[@]}" ;;
    mypy) check mypy "$VENV/bin/mypy" ;;
    imports) check imports "$VENV/bin/lint-imports" ;;
    sqlite | postgres)
        if [[ $TOGETHER == 0 ]]; then
            pytest_pass "$step"
        elif [[ $step == "${PASSES[0]}" ]]; then
            pytest_passes "${PASSES[@]}"
        fi
        ;;
    *) die "unknown step '$step' in STEPS (known: ruff format mypy imports sqlite postgres)" ;;
    esac
done

summary
if [[ -n "${INTERRUPTED:-}" ]]; then
    exit 130
fi
exit "$FAILED"
