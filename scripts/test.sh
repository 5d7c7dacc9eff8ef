#!/usr/bin/env bash
# `make test`: install everything that is missing, then lint, type-check and run the suite on both databases.
#
#   system packages + PostgreSQL (scripts/system-deps.sh) -> .venv + pip + npm (scripts/bootstrap.sh)
#   -> ruff check -> ruff format --check -> mypy -> lint-imports
#   -> pytest pass 1 on SQLite -> pytest pass 2 on PostgreSQL + PostGIS -> summary
#
# Every check runs even when an earlier one failed, so one run reports everything; the script exits non-zero
# when any failed. A pytest pass that collects no tests (exit code 5) counts as a failure.
#
# Environment:
#   STEPS          checks to run, in order (default: "ruff format mypy imports sqlite postgres")
#   PYTEST_ARGS    extra pytest arguments for both passes, e.g. "tests/unit -x"
#   CHENGGUAN_TEST_DATABASE_URL  admin URL for the PostgreSQL pass
#                  (default postgresql+psycopg://postgres@127.0.0.1/postgres; a throwaway database is made)
#   SKIP_SYSTEM=1  do not touch apt or PostgreSQL (you manage them)
#   FAIL_FAST=1    stop at the first failing check
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEPS="${STEPS:-ruff format mypy imports sqlite postgres}"
PG_TEST_URL="${CHENGGUAN_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1/postgres}"
read -r -a EXTRA <<<"${PYTEST_ARGS:-}"
LOG_DIR="$ROOT/artifacts/test"
mkdir -p "$LOG_DIR"
T_ALL="$(now)"

wants() { [[ " $STEPS " == *" $1 "* ]]; }

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

# pytest_pass NAME [VAR=VALUE...]: one pass of the suite with the given environment.
pytest_pass() {
    local name="$1" t0 rc counts status detail
    shift
    log "pytest ($name): ${*:-} pytest -p no:cacheprovider -q ${EXTRA[*]:-}"
    t0="$(now)"
    set +e
    env -u CHENGGUAN_TEST_DATABASE_URL "$@" "$VENV/bin/pytest" -p no:cacheprovider -q ${EXTRA[@]+"${EXTRA[@]}"} \
        </dev/null 2>&1 | tee "$LOG_DIR/pytest-$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    # pytest -q ends with e.g. "12 passed, 3 deselected in 4.56s" (or "no tests ran in 0.01s").
    counts="$(grep -E '(passed|failed|error|errors|skipped|deselected|xfailed|xpassed|no tests ran).* in [0-9.]+s' \
        "$LOG_DIR/pytest-$name.log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//; s/ in [0-9.]+s.*$//')"
    counts="${counts:-no summary line}"
    case $rc in
    0) status=PASS detail="$counts" ;;
    5) status=FAIL detail="NO TESTS COLLECTED (pytest exit 5): $counts" ;;
    *) status=FAIL detail="pytest exit $rc: $counts" ;;
    esac
    record "pytest-$name" "$status" "$(elapsed "$t0")" "$detail"
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

for step in $STEPS; do
    case $step in
    ruff) check ruff "$VENV/bin/ruff" check "${LINT_PATHS[@]}" ;;
    format) check format "$VENV/bin/ruff" format --check "${LINT_PATHS[@]}" ;;
    mypy) check mypy "$VENV/bin/mypy" ;;
    imports) check imports "$VENV/bin/lint-imports" ;;
    sqlite) pytest_pass sqlite ;;
    postgres) pytest_pass postgres "CHENGGUAN_TEST_DATABASE_URL=$PG_TEST_URL" ;;
    *) die "unknown step '$step' in STEPS (known: ruff format mypy imports sqlite postgres)" ;;
    esac
done

summary
exit "$FAILED"
