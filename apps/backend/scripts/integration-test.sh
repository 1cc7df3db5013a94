#!/usr/bin/env bash
# Runs the backend tests, including the PostgreSQL integration tests, against a
# throw-away cluster on a free loopback port. Safe to re-run; removes everything
# it created. Extra arguments go to `go test` (e.g. -v -run Integration).
#
# Env: PG_BINDIR to pick a PostgreSQL installation (default: newest under
# /usr/lib/postgresql); TSA_IT_NO_INSTALL=1 to never call apt-get.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$PATH:/usr/local/go/bin"

log() { echo "integration-test: $*" >&2; }

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

bindir="$(find_bindir)"
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
	log "PostgreSQL server not found, installing"
	apt_install postgresql postgresql-contrib || { log "cannot install PostgreSQL (need root and apt-get); set PG_BINDIR"; exit 1; }
	bindir="$(find_bindir)"
fi
pgmajor="$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
log "using PostgreSQL $pgmajor from $bindir"

# pg_partman lets the test cover real partition registration; optional.
if [[ ! -e "/usr/share/postgresql/$pgmajor/extension/pg_partman.control" ]]; then
	apt_install "postgresql-$pgmajor-partman" || log "pg_partman not installed; its test will be skipped"
fi

# Cluster files must belong to a non-root user: initdb refuses to run as root.
runas=()
owner="$(id -un)"
if [[ "$(id -u)" == 0 ]]; then
	owner=postgres
	id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
	runas=(runuser -u postgres --)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tsa-pg.XXXXXX")"
chown "$owner" "$tmp"
chmod 700 "$tmp"
started=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n "$started" ]]; then
		"${runas[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT INT TERM

"${runas[@]}" "$bindir/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1 \
	|| { cat "$tmp/initdb.log" >&2; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=""
for _ in $(seq 1 20); do
	p=$((20000 + RANDOM % 40000))
	port_in_use "$p" && continue
	if "${runas[@]}" "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$p -c unix_socket_directories=$tmp -c fsync=off" start >/dev/null; then
		port="$p"
		started=1
		break
	fi
done
if [[ -z "$port" ]]; then
	log "could not start PostgreSQL"; cat "$tmp/server.log" >&2 || true; exit 1
fi
log "PostgreSQL listening on 127.0.0.1:$port (data in $tmp)"

export TSA_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
cd "$here"
go test -count=1 "$@" ./...
