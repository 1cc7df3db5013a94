#!/usr/bin/env bash
# Load benchmark on loopback: starts a throw-away PostgreSQL (pg-cluster.sh),
# builds and starts the backend against it on 127.0.0.1, runs cmd/loadbench and
# removes everything. Bounded: each phase lasts -duration (default 10 s, at
# most 1 min). Extra arguments go to loadbench (e.g. -duration 5s -phases writes).
#
# Env: SERVER_BIN to benchmark a prebuilt server binary instead of this tree;
# SCHEMA_MODE (default partman); plus pg-cluster.sh's PG_BINDIR/TSA_IT_NO_INSTALL.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=pg-cluster.sh
source "$here/scripts/pg-cluster.sh"

start_pg

server_pid=""
pg_before_cleanup() {
	if [[ -n "$server_pid" ]]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
}

cd "$here"
bin="${SERVER_BIN:-}"
if [[ -z "$bin" ]]; then
	bin="$PG_TMP/app"
	go build -o "$bin" .
fi
go build -o "$PG_TMP/loadbench" ./cmd/loadbench

PGPASSWORD="$PG_PASSWORD" "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'CREATE DATABASE tsa_bench' >/dev/null

api_port="$(free_port)"
export APP_ENV=bench PORT="$api_port" API_KEY="bench-key-$RANDOM$RANDOM" \
	DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_NAME=tsa_bench DB_SSLMODE=disable SCHEMA_MODE="${SCHEMA_MODE:-partman}"
if "$bin" -h 2>&1 | grep -q -- -migrate; then
	# The deploy-time task as the master, then the API as the application role.
	app_password="app-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
	DB_USER=postgres DB_PASSWORD="$PG_PASSWORD" MIGRATOR_USER=tsa_bench_migrator \
		MIGRATOR_PASSWORD="mig-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" \
		APP_USER=tsa_bench_app APP_PASSWORD="$app_password" "$bin" -migrate >"$PG_TMP/migrate.log" 2>&1 \
		|| { log "-migrate failed:"; cat "$PG_TMP/migrate.log" >&2; exit 1; }
	export DB_USER=tsa_bench_app DB_PASSWORD="$app_password"
else
	# Builds from before the role split create the schema themselves.
	export DB_USER=postgres DB_PASSWORD="$PG_PASSWORD"
fi
"$bin" >"$PG_TMP/app.log" 2>&1 &
server_pid=$!

log "backend on 127.0.0.1:$api_port (log $PG_TMP/app.log); load: $(cut -d' ' -f1-3 /proc/loadavg)"
if ! "$PG_TMP/loadbench" -url "http://127.0.0.1:$api_port" -wait 60s "$@"; then
	log "benchmark failed; backend log:"
	tail -n 30 "$PG_TMP/app.log" >&2
	exit 1
fi
log "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
