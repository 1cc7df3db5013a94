#!/usr/bin/env bash
# Sourced by integration-test.sh and loadbench.sh: starts a throw-away
# PostgreSQL cluster (with pg_partman when installable) on a free loopback port
# and removes it on exit. After start_pg, PG_PORT, PG_PASSWORD and PG_URL (the
# superuser's URL) are set and PG_TMP is a private scratch directory that is
# deleted on exit. TCP connections need a password (scram-sha-256), so the
# tests can prove that a rotated password replaces the old one.
#
# Env: PG_BINDIR to pick a PostgreSQL installation (default: newest under
# /usr/lib/postgresql); TSA_IT_NO_INSTALL=1 to never call apt-get.

export PATH="$PATH:/usr/local/go/bin"

log() { echo "${0##*/}: $*" >&2; }

find_bindir() {
	if [[ -n "${PG_BINDIR:-}" ]]; then echo "$PG_BINDIR"; return; fi
	local d
	d="$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n1 || true)"
	if [[ -z "$d" ]] && command -v pg_ctl >/dev/null; then d="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"; fi
	echo "$d"
}

apt_install() {
	[[ "${TSA_IT_NO_INSTALL:-}" == 1 ]] && return 1
	[[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || return 1
	if [[ -z "${apt_updated:-}" ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

pg_started=""
pg_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if declare -F pg_before_cleanup >/dev/null; then pg_before_cleanup || true; fi
	if [[ -n "$pg_started" ]]; then
		"${pg_runas[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	[[ -n "${PG_TMP:-}" ]] && rm -rf "$PG_TMP"
	exit "$rc"
}

start_pg() {
	PG_BIN="$(find_bindir)"
	if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
		log "PostgreSQL server not found, installing"
		apt_install postgresql postgresql-contrib || { log "cannot install PostgreSQL (need root and apt-get); set PG_BINDIR"; exit 1; }
		PG_BIN="$(find_bindir)"
	fi
	local pgmajor
	pgmajor="$("$PG_BIN/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
	log "using PostgreSQL $pgmajor from $PG_BIN"

	# pg_partman lets the tests cover real partition registration; optional.
	if [[ ! -e "/usr/share/postgresql/$pgmajor/extension/pg_partman.control" ]]; then
		apt_install "postgresql-$pgmajor-partman" || log "pg_partman not installed; its tests will be skipped"
	fi

	# Cluster files must belong to a non-root user: initdb refuses to run as root.
	pg_runas=()
	local owner
	owner="$(id -un)"
	if [[ "$(id -u)" == 0 ]]; then
		owner=postgres
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
		pg_runas=(runuser -u postgres --)
	fi

	PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/tsa-pg.XXXXXX")"
	chown "$owner" "$PG_TMP"
	chmod 700 "$PG_TMP"
	trap pg_cleanup EXIT INT TERM

	PG_PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
	printf '%s\n' "$PG_PASSWORD" >"$PG_TMP/pw"
	"${pg_runas[@]}" "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
		--pwfile="$PG_TMP/pw" -E UTF8 --no-locale >"$PG_TMP/initdb.log" 2>&1 \
		|| { cat "$PG_TMP/initdb.log" >&2; exit 1; }
	rm -f "$PG_TMP/pw"

	PG_PORT=""
	local p
	for _ in $(seq 1 20); do
		p=$((20000 + RANDOM % 40000))
		port_in_use "$p" && continue
		if "${pg_runas[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -c port=$p -c unix_socket_directories=$PG_TMP -c fsync=off" start >/dev/null; then
			PG_PORT="$p"
			pg_started=1
			break
		fi
	done
	if [[ -z "$PG_PORT" ]]; then
		log "could not start PostgreSQL"; cat "$PG_TMP/server.log" >&2 || true; exit 1
	fi
	log "PostgreSQL listening on 127.0.0.1:$PG_PORT (data in $PG_TMP)"
	# shellcheck disable=SC2034 # used by the scripts that source this file
	PG_URL="postgres://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		port_in_use "$p" || { echo "$p"; return; }
	done
	return 1
}
