#!/bin/bash
# TimescaleDB host bootstrap, rendered per environment by constructs/timescaledb.
# Runs as EC2 user data on first boot and again on every boot (cloud-init
# per-boot). Every step is idempotent: a re-run never re-initialises data or
# duplicates configuration. The database password is read from Secrets
# Manager at run time; it is never written to disk, logged or passed as an
# argument. Full-line comments (like this one) are stripped from the rendered
# user data to stay inside EC2's 16 KiB limit.
set -euo pipefail

readonly PG_MAJOR='{{.PostgresMajor}}'
readonly TIMESCALE_VERSION='{{.TimescaleVersion}}'
readonly VOLUME_ID='{{.VolumeID}}'
readonly SECRET_ID='{{.SecretArn}}'
readonly DB_NAME='{{.DatabaseName}}'
readonly DB_PORT='{{.Port}}'
readonly CLIENT_CIDR='{{.ClientCidr}}'
readonly DNS_NAME='{{.DNSName}}'
readonly CW_CONFIG_PARAM='{{.AgentConfigParameter}}'
readonly CW_AGENT_VERSION='{{.CloudWatchAgentVersion}}'
readonly STACK_NAME='{{.StackName}}'
readonly LOGICAL_ID='{{.LogicalID}}'
# Fingerprint of the key that signs the CloudWatch agent packages (AWS docs).
readonly CW_AGENT_KEY_FPR=937616F3450B7D806CBD9725D58167303B789C72

readonly MOUNT=/var/lib/postgresql
readonly PGDATA=$MOUNT/data
readonly TLS_DIR=$MOUNT/tls
readonly PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
readonly STATE=/var/lib/tsa-bootstrap
readonly LOG=/var/log/tsa-bootstrap.log
readonly UNIT=tsa-postgresql.service
readonly SELF=/var/lib/cloud/scripts/per-boot/tsa-timescaledb.sh
readonly DEVICE=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID//-/}
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l PATH=$PATH:/snap/bin
umask 022

[ -e "$LOG" ] || install -m 0600 /dev/null "$LOG"
exec > >(tee -a "$LOG") 2>&1
exec 9>/run/tsa-bootstrap.lock
flock 9
install -d -m 0700 "$STATE"

log() { printf '%s tsa-bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

imds_token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' http://169.254.169.254/latest/api/token)
imds() { curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $imds_token" "http://169.254.169.254/latest/meta-data/$1"; }
INSTANCE_ID=$(imds instance-id)
REGION=$(imds placement/region)
PRIVATE_IP=$(imds local-ipv4)
readonly INSTANCE_ID REGION PRIVATE_IP

# Tells CloudFormation (CreationPolicy) whether this instance is able to take
# over: it is sent once, after installation and before the volume is taken,
# so a failed install rolls the deployment back while the old instance keeps
# serving.
cfn_signal() {
  [ -e "$STATE/signalled" ] && return 0
  command -v aws >/dev/null || return 0
  aws cloudformation signal-resource --region "$REGION" --stack-name "$STACK_NAME" \
    --logical-resource-id "$LOGICAL_ID" --unique-id "$INSTANCE_ID" --status "$1" >/dev/null ||
    log "could not signal $1 to $STACK_NAME/$LOGICAL_ID"
  touch "$STATE/signalled"
}

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "bootstrap failed (exit $rc)"
    cfn_signal FAILURE || true
  fi
}
trap on_exit EXIT

apt_get() { apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold -y -q "$@"; }

# The newest repository version of a package that is the pinned upstream version.
pinned_version() {
  apt-cache madison "$1" | awk -v want="$TIMESCALE_VERSION~" 'index($3, want) == 1 && !found { print $3; found = 1 }'
}

install_packages() {
  local stamp="$PG_MAJOR $TIMESCALE_VERSION"
  local ts_pkg=timescaledb-2-postgresql-$PG_MAJOR ts_loader=timescaledb-2-loader-postgresql-$PG_MAJOR
  # shellcheck disable=SC2016 # ${Version} is a dpkg-query field, not a shell expansion
  if [ "$(cat "$STATE/packages" 2>/dev/null)" = "$stamp" ] &&
    [[ "$(dpkg-query -W -f='${Version}' "$ts_pkg" 2>/dev/null)" == "$TIMESCALE_VERSION~"* ]]; then
    return 0
  fi
  log "installing PostgreSQL $PG_MAJOR and TimescaleDB $TIMESCALE_VERSION"
  apt_get update
  apt_get install --no-install-recommends ca-certificates curl gnupg jq postgresql-common
  # Clusters are created on the data volume below, never by the package.
  sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf

  local codename key=/etc/apt/keyrings/timescaledb.gpg
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  install -d -m 0755 /etc/apt/keyrings
  if [ ! -s "$key" ]; then
    # Trusted over HTTPS from the vendor, as its install guide does.
    curl -fsSL --retry 5 https://packagecloud.io/timescale/timescaledb/gpgkey | gpg --dearmor >"$key.tmp"
    chmod 0644 "$key.tmp" && mv "$key.tmp" "$key"
  fi
  # PGDG's key ships in Ubuntu's postgresql-common package.
  echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt $codename-pgdg main" \
    >/etc/apt/sources.list.d/pgdg.list
  echo "deb [signed-by=$key] https://packagecloud.io/timescale/timescaledb/ubuntu/ $codename main" \
    >/etc/apt/sources.list.d/timescaledb.list
  apt_get update

  local ts_version loader_version
  ts_version=$(pinned_version "$ts_pkg")
  loader_version=$(pinned_version "$ts_loader")
  if [ -z "$ts_version" ] || [ -z "$loader_version" ]; then
    log "TimescaleDB $TIMESCALE_VERSION is not in the repository for PostgreSQL $PG_MAJOR on $codename"
    return 1
  fi
  apt-mark unhold "$ts_pkg" "$ts_loader" >/dev/null 2>&1 || true
  apt_get install --no-install-recommends --allow-downgrades "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" \
    "$ts_pkg=$ts_version" "$ts_loader=$loader_version" timescaledb-tools
  apt-mark hold "$ts_pkg" "$ts_loader" >/dev/null
  echo "$stamp" >"$STATE/packages"
}

install_aws_cli() {
  command -v aws >/dev/null && return 0
  log "installing the AWS CLI"
  snap wait system seed.loaded
  snap install aws-cli --classic --channel=v2/stable
}

install_cloudwatch_agent() {
  local ctl=/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
  if [ ! -x "$ctl" ]; then
    log "installing the CloudWatch agent ($CW_AGENT_VERSION)"
    local dir url=https://amazoncloudwatch-agent.s3.amazonaws.com
    dir=$(mktemp -d)
    curl -fsSL --retry 5 -o "$dir/agent.deb" "$url/ubuntu/arm64/$CW_AGENT_VERSION/amazon-cloudwatch-agent.deb"
    curl -fsSL --retry 5 -o "$dir/agent.deb.sig" "$url/ubuntu/arm64/$CW_AGENT_VERSION/amazon-cloudwatch-agent.deb.sig"
    curl -fsSL --retry 5 -o "$dir/key.gpg" "$url/assets/amazon-cloudwatch-agent.gpg"
    install -d -m 0700 "$dir/gnupg"
    gpg --homedir "$dir/gnupg" --batch --quiet --import "$dir/key.gpg"
    local status
    status=$(gpg --homedir "$dir/gnupg" --batch --status-fd 1 --verify "$dir/agent.deb.sig" "$dir/agent.deb" 2>/dev/null) || true
    if ! grep -q "^\[GNUPG:\] VALIDSIG .* $CW_AGENT_KEY_FPR\$" <<<"$status"; then
      log "the CloudWatch agent package is not signed by $CW_AGENT_KEY_FPR"
      return 1
    fi
    dpkg -i "$dir/agent.deb"
    rm -rf "$dir"
  fi
  # The agent configuration (metrics, log files) is an SSM parameter of the stack.
  "$ctl" -a fetch-config -m ec2 -s -c "ssm:$CW_CONFIG_PARAM" >/dev/null
}

write_unit() {
  cat >"/etc/systemd/system/$UNIT" <<EOF
[Unit]
Description=PostgreSQL $PG_MAJOR with TimescaleDB (data on $VOLUME_ID)
After=network-online.target
Wants=network-online.target
RequiresMountsFor=$PGDATA
ConditionPathExists=$PGDATA/PG_VERSION

[Service]
Type=notify
User=postgres
Group=postgres
ExecStart=$PGBIN/postgres -D $PGDATA
ExecReload=/bin/kill -HUP \$MAINPID
KillMode=mixed
KillSignal=SIGINT
TimeoutStartSec=infinity
TimeoutStopSec=120
Restart=on-failure
RestartSec=5
OOMScoreAdjust=-900

[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable "$UNIT" >/dev/null 2>&1
}

# Checks what taking over needs (attach the volume, read the secret) without
# doing it, so CloudFormation learns about a broken role before it deletes the
# instance being replaced.
preflight() {
  local out
  if [ ! -e "$DEVICE" ]; then
    out=$(aws ec2 attach-volume --dry-run --region "$REGION" --volume-id "$VOLUME_ID" \
      --instance-id "$INSTANCE_ID" --device /dev/sdf 2>&1) || true
    case $out in
    # Allowed; or allowed but still attached to the instance being replaced.
    *DryRunOperation* | *VolumeInUse* | *IncorrectState*) ;;
    *) log "cannot attach $VOLUME_ID: $out" && return 1 ;;
    esac
  fi
  aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ID" --query ARN --output text >/dev/null
}

# A replaced instance is terminated only after this one signalled; until then
# the volume is attached to it and attach-volume fails, so keep trying.
attach_volume() {
  [ -e "$DEVICE" ] && return 0
  log "attaching $VOLUME_ID"
  local i out
  for i in $(seq 1 360); do
    if out=$(aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" \
      --instance-id "$INSTANCE_ID" --device /dev/sdf 2>&1); then
      break
    fi
    if ((i % 6 == 1)); then log "volume not attachable yet: ${out//$'\n'/ }"; fi
    sleep 10
  done
  for i in $(seq 1 90); do
    [ -e "$DEVICE" ] && return 0
    udevadm settle
    sleep 2
  done
  log "volume $VOLUME_ID did not appear as $DEVICE"
  return 1
}

mount_volume() {
  local fstype rc=0 uuid
  fstype=$(blkid -p -o value -s TYPE "$DEVICE") || rc=$?
  if [ "$rc" -eq 2 ]; then
    log "formatting $VOLUME_ID: it has no filesystem"
    mkfs.ext4 -q -m 1 -L pgdata "$DEVICE"
    fstype=ext4
  elif [ "$rc" -ne 0 ]; then
    log "cannot probe $DEVICE (blkid exit $rc)"
    return 1
  fi
  if [ "$fstype" != ext4 ]; then
    log "$VOLUME_ID holds a $fstype filesystem, expected ext4; not touching it"
    return 1
  fi
  uuid=$(blkid -p -o value -s UUID "$DEVICE")
  if ! grep -q "^UUID=$uuid " /etc/fstab; then
    sed -i "\\| $MOUNT |d" /etc/fstab
    echo "UUID=$uuid $MOUNT ext4 defaults,noatime,nofail,x-systemd.device-timeout=60s 0 2" >>/etc/fstab
    systemctl daemon-reload
  fi
  install -d -m 0755 "$MOUNT"
  mountpoint -q "$MOUNT" || mount "$MOUNT"
  # Grows the filesystem after the volume was enlarged; a no-op otherwise.
  resize2fs "$DEVICE" >/dev/null 2>&1 || log "resize2fs $DEVICE failed"
}

init_cluster() {
  mountpoint -q "$MOUNT" || { log "$MOUNT is not mounted"; return 1; }
  chown postgres:postgres "$MOUNT"
  if [ -d "$PGDATA" ] && [ "$(stat -c %u "$PGDATA")" != "$(id -u postgres)" ]; then
    log "the postgres user id changed with the image; re-owning the data"
    chown -R postgres:postgres "$PGDATA"
    if [ -d "$TLS_DIR" ]; then chown -R postgres:postgres "$TLS_DIR"; fi
  fi
  if [ -f "$PGDATA/PG_VERSION" ]; then
    local have
    have=$(cat "$PGDATA/PG_VERSION")
    if [ "$have" != "$PG_MAJOR" ]; then
      log "the data directory is PostgreSQL $have but $PG_MAJOR is configured; run pg_upgrade first"
      return 1
    fi
    return 0
  fi
  if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
    log "$PGDATA is not empty but has no PG_VERSION; refusing to initialise over it"
    return 1
  fi
  log "initialising a new cluster in $PGDATA"
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" --encoding=UTF8 --locale=C.UTF-8 \
    --data-checksums --auth-local=peer --auth-host=scram-sha-256 >/dev/null
}

ensure_tls() {
  install -d -o postgres -g postgres -m 0700 "$TLS_DIR"
  [ -s "$TLS_DIR/server.crt" ] && [ -s "$TLS_DIR/server.key" ] && return 0
  log "creating a self-signed server certificate for $DNS_NAME"
  (umask 077 && openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 3650 \
    -subj "/CN=$DNS_NAME" -addext "subjectAltName=DNS:$DNS_NAME,DNS:localhost" \
    -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.crt" 2>/dev/null)
  chown postgres:postgres "$TLS_DIR/server.key" "$TLS_DIR/server.crt"
  chmod 0644 "$TLS_DIR/server.crt"
}

config_digest() { { cat "$PGDATA/postgresql.conf" "$PGDATA/tsa.conf" "$PGDATA/pg_hba.conf" 2>/dev/null || true; } | sha256sum; }

write_config() {
  local conf=$PGDATA/postgresql.conf
  # Sizes memory, workers and WAL for this instance type; edits in place.
  timescaledb-tune --quiet --yes --conf-path="$conf" --pg-config="$PGBIN/pg_config" >/dev/null
  grep -qxF "include 'tsa.conf'" "$conf" ||
    printf '%s\n' '' '# Settings managed by the TimescaleDB bootstrap (rewritten at every boot).' "include 'tsa.conf'" >>"$conf"
  install -d -o postgres -g postgres -m 0755 /var/log/postgresql
  cat >"$PGDATA/tsa.conf" <<EOF
# Managed by the TimescaleDB bootstrap: rewritten at every boot.
listen_addresses = 'localhost,$PRIVATE_IP'
port = $DB_PORT
ssl = on
ssl_cert_file = '$TLS_DIR/server.crt'
ssl_key_file = '$TLS_DIR/server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = 'off'
logging_collector = on
log_directory = '/var/log/postgresql'
log_filename = 'postgresql-%a.log'
log_rotation_age = '1d'
log_rotation_size = 0
log_truncate_on_rotation = on
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
log_min_duration_statement = '1s'
EOF
  cat >"$PGDATA/pg_hba.conf" <<EOF
# Managed by the TimescaleDB bootstrap: rewritten at every boot.
# TYPE    DATABASE USER ADDRESS          METHOD
local     all      all                   peer
hostssl   all      all  $CLIENT_CIDR     scram-sha-256
hostnossl all      all  0.0.0.0/0        reject
EOF
  chown postgres:postgres "$conf" "$PGDATA/tsa.conf" "$PGDATA/pg_hba.conf"
  chmod 0600 "$conf" "$PGDATA/tsa.conf" "$PGDATA/pg_hba.conf"
}

start_postgres() {
  local before=$1
  if ! systemctl is-active --quiet "$UNIT"; then
    log "starting PostgreSQL"
    systemctl start "$UNIT"
  elif [ "$before" != "$(config_digest)" ]; then
    log "configuration changed; restarting PostgreSQL"
    systemctl restart "$UNIT"
  fi
}

psql_admin() { runuser -u postgres -- "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# Creates the application role and database once and sets the role's
# password from the secret at every run (a rotated secret applies at the next
# boot). The password reaches psql only through its environment.
apply_credentials() {
  local secret user password
  secret=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ID" --query SecretString --output text)
  user=$(printf '%s' "$secret" | jq -er .username)
  password=$(printf '%s' "$secret" | jq -er .password)
  secret=
  TSA_DB_USER=$user TSA_DB_PASSWORD=$password TSA_DB_NAME=$DB_NAME psql_admin -d postgres <<'SQL'
\set VERBOSITY terse
\getenv db_user TSA_DB_USER
\getenv db_password TSA_DB_PASSWORD
\getenv db_name TSA_DB_NAME
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET log_min_error_statement = 'panic';
SELECT format('CREATE ROLE %I LOGIN', :'db_user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'db_user') \gexec
ALTER ROLE :"db_user" WITH LOGIN NOSUPERUSER PASSWORD :'db_password';
SELECT format('CREATE DATABASE %I OWNER %I', :'db_name', :'db_user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db_name') \gexec
SQL
  password=
  psql_admin -d "$DB_NAME" -c 'CREATE EXTENSION IF NOT EXISTS timescaledb'
  # Must be the first statement of its session; a no-op at the installed version.
  psql_admin -d "$DB_NAME" -c 'ALTER EXTENSION timescaledb UPDATE'
}

main() {
  log "starting on $INSTANCE_ID ($PRIVATE_IP) for $VOLUME_ID"
  if [ "$0" != "$SELF" ]; then
    install -d -m 0755 "$(dirname "$SELF")"
    install -m 0700 "$0" "$SELF"
  fi
  # The AWS CLI comes first so that any later failure is signalled at once.
  install_aws_cli
  install_packages
  install_cloudwatch_agent
  write_unit
  preflight
  cfn_signal SUCCESS
  attach_volume
  mount_volume
  init_cluster
  ensure_tls
  local before
  before=$(config_digest)
  write_config
  start_postgres "$before"
  apply_credentials
  log "TimescaleDB $TIMESCALE_VERSION on PostgreSQL $PG_MAJOR is ready at $DNS_NAME:$DB_PORT"
}

main
