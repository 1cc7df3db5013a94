#!/bin/bash
# Point-in-time recovery tasks of the TimescaleDB host, on top of pgBackRest
# (stanza "tsa", repository in the archive bucket, /etc/pgbackrest):
#
#   tsa-pitr.sh backup full|diff   take a backup, then refresh the stamp
#   tsa-pitr.sh stamp              record when the newest backup finished
#   tsa-pitr.sh restore TARGET     restore an empty PGDATA as of TARGET
#                                  ("YYYY-MM-DD HH:MM:SS+00"), promoting at it
#   tsa-pitr.sh metrics            publish PostgresUp, ArchiveLagSeconds and
#                                  BackupAgeHours to CloudWatch
#
# The systemd units and the bootstrap run it on the host; the restore
# rehearsal (pitr_rehearsal_test.go) runs this very file against a local
# cluster, overriding the locations below through the environment.
set -euo pipefail
shopt -s inherit_errexit
# The AWS CLI is a snap; systemd units may not have /snap/bin on their PATH.
export PATH=$PATH:/snap/bin

env_file=${TSA_ENV_FILE:-/etc/tsa/timescaledb.env}
if [ -r "$env_file" ]; then
  # shellcheck source=/dev/null
  . "$env_file"
fi
readonly STANZA=tsa
PGDATA=${PGDATA:-/var/lib/postgresql/data}
PGBIN=${PGBIN:-/usr/lib/postgresql/${PG_MAJOR:?}/bin}
PGHOST=${PGHOST:-/var/run/postgresql}
DB_PORT=${DB_PORT:-5432}
PG_OS_USER=${PG_OS_USER:-postgres}
STAMP=${TSA_STATE:-/var/lib/tsa-bootstrap}/last-backup
# "cloudwatch" publishes; "print" writes the values to stdout instead.
METRICS_TO=${TSA_METRICS_TO:-cloudwatch}

log() { printf '%s tsa-pitr: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# Runs a command as the cluster's owner (pgBackRest must read PGDATA).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

backrest() { as_owner pgbackrest --stanza="$STANZA" "$@"; }

stamp() {
  local stop
  stop=$(backrest --output=json info | jq -r '[.[0].backup[].timestamp.stop] | max // empty')
  if [ -z "$stop" ]; then
    log "the archive holds no backup yet"
    rm -f "$STAMP"
    return 0
  fi
  install -d -m 0755 "$(dirname "$STAMP")"
  echo "$stop" >"$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
}

backup() {
  case ${1:-} in
  full | diff) ;;
  *)
    log "backup type must be full or diff"
    return 2
    ;;
  esac
  log "starting a $1 backup"
  backrest --pg1-path="$PGDATA" --pg1-port="$DB_PORT" --pg1-socket-path="$PGHOST" --type="$1" backup
  stamp
}

restore() {
  local target=${1:-}
  if ! [[ $target =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\+00$ ]]; then
    log "restore target must be \"YYYY-MM-DD HH:MM:SS+00\", got \"$target\""
    return 2
  fi
  if [ -e "$PGDATA/PG_VERSION" ]; then
    log "$PGDATA holds a cluster; a restore only fills an empty data directory"
    return 1
  fi
  as_owner install -d -m 0700 "$PGDATA"
  log "restoring $PGDATA as of $target"
  # type=time picks the newest backup that ended before the target; recovery
  # replays archived WAL up to the target (transactions committed after it are
  # left out) and promotes onto a new timeline, which archives again.
  backrest --pg1-path="$PGDATA" --type=time --target="$target" --target-action=promote restore
}

# Seconds the oldest WAL segment has waited for the archive (0 when none
# waits). archive_timeout closes a segment at least every minute, so a value
# well above 60 means WAL is not reaching the bucket.
archive_lag() {
  local oldest now
  oldest=$(find "$PGDATA/pg_wal/archive_status" -name '*.ready' -printf '%T@\n' 2>/dev/null | sort -n | head -n 1)
  [ -z "$oldest" ] && echo 0 && return 0
  now=$(date +%s)
  echo $((now - ${oldest%.*}))
}

metrics() {
  local up=0 lag age
  if [ "$(as_owner "$PGBIN/psql" -X -q -tA -h "$PGHOST" -p "$DB_PORT" -d postgres \
    -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]; then
    up=1
  fi
  lag=$(archive_lag)
  if [ -s "$STAMP" ]; then
    age=$((($(date +%s) - $(cat "$STAMP")) / 3600))
  else
    # No backup known: as bad as a very old one.
    age=100000
  fi
  if [ "$METRICS_TO" = print ]; then
    printf 'PostgresUp %s\nArchiveLagSeconds %s\nBackupAgeHours %s\n' "$up" "$lag" "$age"
    return 0
  fi
  local dims="Name=Endpoint,Value=${DNS_NAME:?}"
  aws cloudwatch put-metric-data --region "${AWS_REGION:?}" --namespace "${METRICS_NAMESPACE:?}" --metric-data \
    "MetricName=PostgresUp,Value=$up,Unit=Count,Dimensions=[{$dims}]" \
    "MetricName=ArchiveLagSeconds,Value=$lag,Unit=Seconds,Dimensions=[{$dims}]" \
    "MetricName=BackupAgeHours,Value=$age,Unit=None,Dimensions=[{$dims}]"
}

case ${1:-} in
backup) backup "${2:-}" ;;
stamp) stamp ;;
restore) restore "${2:-}" ;;
metrics) metrics ;;
*)
  echo "usage: $0 backup full|diff | stamp | restore 'YYYY-MM-DD HH:MM:SS+00' | metrics" >&2
  exit 2
  ;;
esac
