#!/usr/bin/env bash
# System packages and the PostgreSQL server the test suite needs.
#
# 1. Debian packages: installed only when `dpkg -s` says they are missing (a prepared machine never runs apt);
#    `apt-get update` runs at most once.
# 2. PostgreSQL: the cluster $PG_VERSION/$PG_CLUSTER is started when `pg_lsclusters` says it is down, then we
#    wait until `pg_isready` answers on 127.0.0.1 and check that postgres@127.0.0.1 can log in.
# 3. NATS with JetStream on 127.0.0.1:4222 (started when nothing answers there).
#
# Environment: APT_PACKAGES (override the list), PG_VERSION (15), PG_CLUSTER (main), SKIP_POSTGRES=1.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# postgresql-15-postgis-3: PostGIS for the PostgreSQL pass (pulls in postgresql-15 itself when missing)
# chromium: the browser the e2e tests drive; fonts-noto-cjk: so Chinese renders in Chromium and PDFs
read -r -a PACKAGES <<<"${APT_PACKAGES:-postgresql-${PG_VERSION}-postgis-3 chromium fonts-noto-cjk}"

install_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        # dpkg -s succeeds for removed-but-configured packages too; ask for the real install state.
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != "installed" ]]; then
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        ok "system packages present: ${PACKAGES[*]}"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: install them by hand"
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
    ok "installed ${missing[*]}"
}

cluster_status() {
    # pg_lsclusters -h: "15 main 5432 online postgres /var/lib/... /var/log/..."
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $4 }'
}

start_postgres() {
    command -v pg_lsclusters >/dev/null 2>&1 || die "pg_lsclusters not found: is postgresql-common installed?"
    local status
    status="$(cluster_status)"
    [[ -n "$status" ]] || die "no PostgreSQL cluster $PG_VERSION/$PG_CLUSTER (pg_lsclusters: $(pg_lsclusters -h | tr '\n' ';'))"
    if [[ "$status" != online* ]]; then
        log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER (was: $status)"
        as_root pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start
    fi
    local i
    for ((i = 0; i < 60; i++)); do
        if pg_isready -q -h 127.0.0.1 -p "${PG_PORT:-5432}"; then
            break
        fi
        sleep 1
    done
    pg_isready -q -h 127.0.0.1 -p "${PG_PORT:-5432}" || die "PostgreSQL did not become ready on 127.0.0.1 within 60s"
    # The test URL logs in as postgres over TCP without a password (trust auth, as on python-svc machines).
    if ! psql -h 127.0.0.1 -p "${PG_PORT:-5432}" -U postgres -d postgres -Atqc 'select 1' </dev/null >/dev/null 2>&1; then
        die "PostgreSQL is up but postgres@127.0.0.1 cannot log in without a password; allow it in pg_hba.conf
     (host all postgres 127.0.0.1/32 trust) or set CHENGGUAN_TEST_DATABASE_URL with a password"
    fi
    ok "PostgreSQL $PG_VERSION/$PG_CLUSTER ready on 127.0.0.1:${PG_PORT:-5432}"
}

# NATS with JetStream on 127.0.0.1:4222: the broker of the PostgreSQL pass's pipeline tests (a consumer killed
# mid-replay). Started when nothing answers there; installed with apt (nats-server) when missing.
start_nats() {
    if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
        ok "NATS answering on 127.0.0.1:4222"
        return
    fi
    if ! command -v nats-server >/dev/null 2>&1 && [[ ! -x /usr/sbin/nats-server ]]; then
        PACKAGES=(nats-server) install_packages
    fi
    local bin
    bin="$(command -v nats-server || echo /usr/sbin/nats-server)"
    log "starting NATS (JetStream) on 127.0.0.1:4222"
    as_root mkdir -p /var/lib/nats-server
    as_root start-stop-daemon --start --oknodo --background --exec "$bin" -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    local i
    for ((i = 0; i < 30; i++)); do
        if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
            ok "NATS ready on 127.0.0.1:4222"
            return
        fi
        sleep 1
    done
    die "NATS did not answer on 127.0.0.1:4222 within 30s (log: /var/log/nats-server.log)"
}

install_packages
if [[ "${SKIP_POSTGRES:-0}" != 1 ]]; then
    start_postgres
    start_nats
fi
