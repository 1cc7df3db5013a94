#!/usr/bin/env bash
# Rehearses the TimescaleDB tier's point-in-time restore with real
# PostgreSQL, the real pgBackRest (Debian's packages) and moto's S3 server on
# loopback: back up, write rows, restore to a time between writes, and check
# that exactly the rows before it are back (pitr_rehearsal_test.go), after
# checking the scripts the host unpacks (payload/) with shellcheck. Installs what is
# missing with apt-get (as root) and fails, never skips, when it cannot.
# Everything it starts (moto, two clusters) lives in a scratch directory and
# ends with the test. Extra arguments go to `go test`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
log() { echo "rehearse-pitr: $*" >&2; }

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || [ -n "${PG_BINDIR:-}" ]; }
# The Python that has moto: the image's python3, or Debian's after installing.
have_moto() {
  local py
  for py in "${TSA_MOTO_PYTHON:-python3}" /usr/bin/python3; do
    if "$py" -c 'import moto.server' 2>/dev/null; then
      export TSA_MOTO_PYTHON=$py
      return 0
    fi
  done
  return 1
}

missing=()
have_postgres || missing+=(postgresql)
command -v pgbackrest >/dev/null || missing+=(pgbackrest)
command -v jq >/dev/null || missing+=(jq)
command -v shellcheck >/dev/null || missing+=(shellcheck)
have_moto || missing+=(python3-moto python3-flask python3-flask-cors)
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "missing ${missing[*]}; install them (apt-get, as root) and run again"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
have_postgres || { log "no PostgreSQL server after installing"; exit 1; }
have_moto || { log "no python3 can import moto.server after installing"; exit 1; }
log "S3 on loopback: $TSA_MOTO_PYTHON -m moto.server"

shellcheck --shell=bash --severity=style "$here"/payload/*.sh "$here"/rehearse-pitr.sh

cd "$root"
start=$(date +%s)
go test -tags pitr -run '^TestPITRRehearsal$' -count=1 -v "$@" ./constructs/timescaledb
log "rehearsal passed in $(($(date +%s) - start)) s"
