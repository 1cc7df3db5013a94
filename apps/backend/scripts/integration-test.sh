#!/usr/bin/env bash
# Runs the backend tests, including the PostgreSQL integration tests, against a
# throw-away cluster on a free loopback port. Safe to re-run; removes everything
# it created. Extra arguments go to `go test` (e.g. -v -run Integration).
#
# Env: PG_BINDIR to pick a PostgreSQL installation (default: newest under
# /usr/lib/postgresql); TSA_IT_NO_INSTALL=1 to never call apt-get.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=pg-cluster.sh
source "$here/scripts/pg-cluster.sh"

start_pg
export TSA_TEST_DATABASE_URL="$PG_URL"
cd "$here"
go test -count=1 "$@" ./...
