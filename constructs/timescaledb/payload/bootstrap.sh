#!/bin/bash
# TimescaleDB host bootstrap. The user data (userdata.sh) unpacks it into
# /usr/local/lib/tsa-timescaledb with the host's settings in
# /etc/tsa/timescaledb.env; it runs at first boot and again at every boot
# (cloud-init per-boot). Every step is idempotent: a re-run never
# re-initialises data or duplicates configuration. The database password is
# read from Secrets Manager at run time; it is never written to disk, logged
# or passed as an argument.
#
# CloudFormation (CreationPolicy) hears SUCCESS only once PostgreSQL answers
# on the data volume, over TLS, with the secret's credentials, and archives
# WAL to the bucket. When this instance replaces another, it takes the data
# volume over first (stopping the old instance cleanly); if anything fails
# after that, it hands the volume back and starts the old instance again
# before it signals FAILURE, so a rollback leaves the old host serving.
set -euo pipefail
shopt -s inherit_errexit

readonly LIB=/usr/local/lib/tsa-timescaledb
# shellcheck source=/dev/null
. /etc/tsa/timescaledb.env
readonly PG_MAJOR PG_MINOR TIMESCALE_VERSION TIMESCALE_TOOLS_VERSION PGBACKREST_VERSION VOLUME_ID SECRET_ID \
  DB_NAME DB_PORT CLIENT_CIDR DNS_NAME CW_CONFIG_PARAM CA_PARAM CW_AGENT_VERSION STACK_NAME LOGICAL_ID RESTORE_TARGET
# Fingerprint of the key that signs the CloudWatch agent packages (AWS docs).
readonly CW_AGENT_KEY_FPR=937616F3450B7D806CBD9725D58167303B789C72

readonly MOUNT=/var/lib/postgresql
readonly PGDATA=$MOUNT/data
readonly TLS_DIR=$MOUNT/tls
readonly PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
# tsa-pitr.sh reads the same two.
export PGDATA PGBIN
readonly STATE=/var/lib/tsa-bootstrap
readonly LOG=/var/log/tsa-bootstrap.log
readonly UNIT=tsa-postgresql.service
readonly HOOK=/var/lib/cloud/scripts/per-boot/tsa-timescaledb.sh
readonly DEVICE=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID//-/}
readonly STANZA=tsa
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

# Tells CloudFormation (CreationPolicy) whether this instance took over; sent
# once per instance, never again at later boots.
cfn_signal() {
  [ -e "$STATE/signalled" ] && return 0
  command -v aws >/dev/null || return 0
  aws cloudformation signal-resource --region "$REGION" --stack-name "$STACK_NAME" \
    --logical-resource-id "$LOGICAL_ID" --unique-id "$INSTANCE_ID" --status "$1" >/dev/null ||
    log "could not signal $1 to $STACK_NAME/$LOGICAL_ID"
  touch "$STATE/signalled"
}

# Set once this run took the data volume from the instance it replaces.
previous_instance=""
took_volume=0

# Gives the volume back to the instance it was taken from and starts that
# instance again; it attaches the volume at boot and serves as before.
hand_back() {
  if [ "$took_volume" != 1 ] || [ -z "$previous_instance" ]; then return 0; fi
  log "handing $VOLUME_ID back to $previous_instance"
  systemctl stop tsa-metrics.timer 'tsa-backup@*.service' "$UNIT" 2>/dev/null || true
  if mountpoint -q "$MOUNT"; then umount "$MOUNT"; fi
  aws ec2 detach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" >/dev/null
  aws ec2 wait volume-available --region "$REGION" --volume-ids "$VOLUME_ID"
  aws ec2 start-instances --region "$REGION" --instance-ids "$previous_instance" >/dev/null
}

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "bootstrap failed (exit $rc)"
    hand_back || log "could not hand $VOLUME_ID back to $previous_instance"
    cfn_signal FAILURE || true
  fi
}
trap on_exit EXIT

apt_get() { apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold -y -q "$@"; }

# The newest repository version of package $1 that is upstream version $2.
pinned() {
  apt-cache madison "$1" | awk -v want="$2" '
    !found && index($3, want) == 1 && index("~-+", substr($3, length(want) + 1, 1)) > 0 { print $3; found = 1 }'
}

install_packages() {
  local stamp="$PG_MAJOR.$PG_MINOR $TIMESCALE_VERSION $TIMESCALE_TOOLS_VERSION $PGBACKREST_VERSION"
  local ts_pkg=timescaledb-2-postgresql-$PG_MAJOR ts_loader=timescaledb-2-loader-postgresql-$PG_MAJOR
  [ "$(cat "$STATE/packages" 2>/dev/null)" = "$stamp" ] && return 0
  log "installing PostgreSQL $PG_MAJOR.$PG_MINOR, TimescaleDB $TIMESCALE_VERSION, pgBackRest $PGBACKREST_VERSION"
  apt_get update
  apt_get install --no-install-recommends ca-certificates curl gnupg jq postgresql-common
  # Clusters are created on the data volume below, never by the package.
  sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf

  local codename key=/etc/apt/keyrings/timescaledb.gpg pgdg=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  install -d -m 0755 /etc/apt/keyrings
  if [ ! -s "$key" ]; then
    # Trusted over HTTPS from the vendor, as its install guide does.
    curl -fsSL --retry 5 https://packagecloud.io/timescale/timescaledb/gpgkey | gpg --dearmor >"$key.tmp"
    chmod 0644 "$key.tmp" && mv "$key.tmp" "$key"
  fi
  # PGDG's key ships in Ubuntu's postgresql-common package.
  echo "deb [signed-by=$pgdg] https://apt.postgresql.org/pub/repos/apt $codename-pgdg main" >/etc/apt/sources.list.d/pgdg.list
  echo "deb [signed-by=$key] https://packagecloud.io/timescale/timescaledb/ubuntu/ $codename main" \
    >/etc/apt/sources.list.d/timescaledb.list
  apt_get update

  local pg client
  pg=$(pinned "postgresql-$PG_MAJOR" "$PG_MAJOR.$PG_MINOR")
  if [ -z "$pg" ] || [ -z "$(pinned pgbackrest "$PGBACKREST_VERSION")" ]; then
    # PGDG's main repository keeps the newest release only; its archive
    # keeps every release, so a pinned version still installs later.
    echo "deb [signed-by=$pgdg] https://apt-archive.postgresql.org/pub/repos/apt $codename-pgdg-archive main" \
      >/etc/apt/sources.list.d/pgdg-archive.list
    apt_get update
    pg=$(pinned "postgresql-$PG_MAJOR" "$PG_MAJOR.$PG_MINOR")
  fi
  client=$(pinned "postgresql-client-$PG_MAJOR" "$PG_MAJOR.$PG_MINOR")
  local pins=("postgresql-$PG_MAJOR=$pg" "postgresql-client-$PG_MAJOR=$client"
    "$ts_pkg=$(pinned "$ts_pkg" "$TIMESCALE_VERSION")" "$ts_loader=$(pinned "$ts_loader" "$TIMESCALE_VERSION")"
    "timescaledb-tools=$(pinned timescaledb-tools "$TIMESCALE_TOOLS_VERSION")" "pgbackrest=$(pinned pgbackrest "$PGBACKREST_VERSION")")
  local pin
  for pin in "${pins[@]}"; do
    if [ -z "${pin#*=}" ]; then
      log "${pin%=*}: the pinned version is not in the repositories for $codename"
      return 1
    fi
  done
  local names=("${pins[@]%%=*}")
  apt-mark unhold "${names[@]}" >/dev/null 2>&1 || true
  apt_get install --no-install-recommends --allow-downgrades "${pins[@]}"
  apt-mark hold "${names[@]}" >/dev/null
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
  if [ "$(cat "$STATE/cloudwatch-agent" 2>/dev/null)" != "$CW_AGENT_VERSION" ]; then
    log "installing the CloudWatch agent $CW_AGENT_VERSION"
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
    echo "$CW_AGENT_VERSION" >"$STATE/cloudwatch-agent"
  fi
  # The agent configuration (metrics, log files) is an SSM parameter of the stack.
  "$ctl" -a fetch-config -m ec2 -s -c "ssm:$CW_CONFIG_PARAM" >/dev/null
}

write_units() {
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
  # Backups and metrics: units rendered with the environment's schedule.
  install -m 0644 "$LIB"/systemd/* /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable "$UNIT" >/dev/null 2>&1
}

# pgBackRest reads its repository (the archive bucket) from this file; the
# user data wrote it next to the environment file.
configure_pgbackrest() {
  install -d -o postgres -g postgres -m 0750 /var/log/pgbackrest /var/spool/pgbackrest /etc/pgbackrest
  install -o root -g postgres -m 0640 /etc/tsa/pgbackrest.conf /etc/pgbackrest/pgbackrest.conf
}

# How many backups of the stanza the archive holds; fails when the archive
# cannot be read (nothing is taken over then).
archive_backups() {
  local info code
  info=$(runuser -u postgres -- pgbackrest --stanza="$STANZA" --output=json info) ||
    { log "pgbackrest info failed: the archive bucket cannot be read" >&2 && return 1; }
  code=$(jq -r '.[0].status.code' <<<"$info")
  case $code in
  # ok, missing stanza path, no valid backups, missing stanza data
  0 | 1 | 2 | 3) jq -r '.[0].backup | length' <<<"$info" ;;
  *)
    log "the archive cannot be read: $(jq -r '.[0].status.message' <<<"$info")" >&2
    return 1
    ;;
  esac
}

# The instance holding the volume and the state of that attachment.
volume_holder() {
  aws ec2 describe-volumes --region "$REGION" --volume-ids "$VOLUME_ID" \
    --query 'Volumes[0].Attachments[0].InstanceId' --output text
}

# Checks what taking over needs (attach the volume, stop its holder, read the
# secret and the archive) without doing it, so a broken role or bucket fails
# the deployment while the instance being replaced keeps serving.
preflight() {
  local out holder
  if [ ! -e "$DEVICE" ]; then
    out=$(aws ec2 attach-volume --dry-run --region "$REGION" --volume-id "$VOLUME_ID" \
      --instance-id "$INSTANCE_ID" --device /dev/sdf 2>&1) || true
    case $out in
    # Allowed; or allowed but still attached to the instance being replaced.
    *DryRunOperation* | *VolumeInUse* | *IncorrectState*) ;;
    *) log "cannot attach $VOLUME_ID: $out" && return 1 ;;
    esac
    holder=$(volume_holder)
    if [ -n "$holder" ] && [ "$holder" != None ] && [ "$holder" != "$INSTANCE_ID" ]; then
      out=$(aws ec2 stop-instances --dry-run --region "$REGION" --instance-ids "$holder" 2>&1) || true
      case $out in
      *DryRunOperation*) ;;
      *) log "cannot take $VOLUME_ID from $holder: $out" && return 1 ;;
      esac
    fi
  fi
  aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ID" --query ARN --output text >/dev/null
  backups=$(archive_backups)
}

# Takes the volume: from the instance this one replaces (stopped cleanly, so
# PostgreSQL shuts down), or as it is when nothing holds it.
take_volume() {
  [ -e "$DEVICE" ] && return 0
  local holder
  holder=$(volume_holder)
  if [ -n "$holder" ] && [ "$holder" != None ] && [ "$holder" != "$INSTANCE_ID" ]; then
    log "$VOLUME_ID is attached to $holder; stopping it to take the volume over"
    previous_instance=$holder
    aws ec2 stop-instances --region "$REGION" --instance-ids "$holder" >/dev/null
    if ! aws ec2 wait instance-stopped --region "$REGION" --instance-ids "$holder"; then
      log "$holder did not stop within 10 minutes; forcing it (PostgreSQL recovers from its WAL)"
      aws ec2 stop-instances --force --region "$REGION" --instance-ids "$holder" >/dev/null
      aws ec2 wait instance-stopped --region "$REGION" --instance-ids "$holder"
    fi
    took_volume=1
    aws ec2 detach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$holder" >/dev/null
    aws ec2 wait volume-available --region "$REGION" --volume-ids "$VOLUME_ID"
  fi
  log "attaching $VOLUME_ID"
  took_volume=1
  aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" --device /dev/sdf >/dev/null
  local i
  for i in $(seq 1 90); do
    [ -e "$DEVICE" ] && return 0
    udevadm settle
    sleep 2
  done
  log "volume $VOLUME_ID did not appear as $DEVICE after $i tries"
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

# Finds, restores or creates the cluster on the volume. Returns "existing",
# "restored" or "created" in $cluster.
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
    cluster=existing
    return 0
  fi
  if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
    log "$PGDATA is not empty but has no PG_VERSION; refusing to initialise over it"
    return 1
  fi
  if [ -n "$RESTORE_TARGET" ]; then
    log "restoring the cluster as of $RESTORE_TARGET from the archive"
    "$LIB/tsa-pitr.sh" restore "$RESTORE_TARGET"
    cluster=restored
    return 0
  fi
  if [ "$backups" -gt 0 ]; then
    # An empty volume while the archive holds this database: the volume was
    # replaced (a changed zone or logical ID). Starting over would look like
    # a lost database to the API; restore instead.
    log "$VOLUME_ID is empty but the archive holds $backups backups of this database; refusing to start an empty one (set database.timescale.restore.targetTime to restore)"
    return 1
  fi
  log "initialising a new cluster in $PGDATA"
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" --encoding=UTF8 --locale=C.UTF-8 \
    --data-checksums --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  cluster=created
}

# The server's TLS: a private CA kept on the data volume (it survives host
# replacement, so clients keep trusting the same CA) and a server
# certificate it signs for the DNS name clients connect to, which verify-full
# checks. The certificate is issued again when it is missing, not signed by
# this CA, not for DNS_NAME, or expires within 30 days.
ensure_tls() {
  install -d -o postgres -g postgres -m 0700 "$TLS_DIR"
  local ca=$TLS_DIR/ca.crt ca_key=$TLS_DIR/ca.key crt=$TLS_DIR/server.crt key=$TLS_DIR/server.key
  if [ ! -s "$ca" ] || [ ! -s "$ca_key" ]; then
    log "creating the database CA for $DNS_NAME"
    (umask 077 && openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 7300 \
      -subj "/CN=tsa TimescaleDB CA ($DNS_NAME)" -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout "$ca_key" -out "$ca" 2>/dev/null)
    chmod 0644 "$ca"
  fi
  if [ -s "$crt" ] && [ -s "$key" ] && openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1 &&
    openssl x509 -in "$crt" -noout -checkhost "$DNS_NAME" | grep -q 'does match' &&
    openssl x509 -in "$crt" -noout -checkend 2592000 >/dev/null; then
    return 0
  fi
  log "issuing the server certificate for $DNS_NAME"
  local csr ext
  csr=$(mktemp) ext=$(mktemp)
  printf '%s\n' "subjectAltName=DNS:$DNS_NAME,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$ext"
  (umask 077 && openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=$DNS_NAME" \
    -keyout "$key.new" -out "$csr" 2>/dev/null)
  openssl x509 -req -in "$csr" -CA "$ca" -CAkey "$ca_key" -set_serial "0x$(openssl rand -hex 16)" -days 3650 \
    -extfile "$ext" -out "$crt.new" 2>/dev/null
  rm -f "$csr" "$ext"
  mv "$key.new" "$key" && mv "$crt.new" "$crt"
  chown postgres:postgres "$key" "$crt" "$ca" "$ca_key"
  chmod 0600 "$key" "$ca_key"
  chmod 0644 "$crt"
}

# Publishes the CA certificate (public) to the SSM String parameter the API's
# tasks read at start; written only when it differs, so the parameter's
# history shows each CA change.
publish_ca() {
  local current
  current=$(aws ssm get-parameter --region "$REGION" --name "$CA_PARAM" --query Parameter.Value --output text 2>/dev/null) || current=
  if [ "$current" = "$(cat "$TLS_DIR/ca.crt")" ]; then return 0; fi
  log "publishing the database CA to $CA_PARAM"
  aws ssm put-parameter --region "$REGION" --name "$CA_PARAM" --type String --overwrite \
    --description "CA certificate of the TimescaleDB host ($DNS_NAME); public" --value "file://$TLS_DIR/ca.crt" >/dev/null
}

config_digest() { { cat "$PGDATA/postgresql.conf" "$PGDATA/tsa.conf" "$PGDATA/pg_hba.conf" 2>/dev/null || true; } | sha256sum; }

write_config() {
  local conf=$PGDATA/postgresql.conf
  # Sizes memory, workers and WAL for this instance type; edits in place.
  timescaledb-tune --quiet --yes --conf-path="$conf" --pg-config="$PGBIN/pg_config" >/dev/null
  grep -qxF "include 'tsa.conf'" "$conf" ||
    printf '%s\n' '' '# Settings managed by the TimescaleDB bootstrap (rewritten at every boot).' "include 'tsa.conf'" >>"$conf"
  install -d -o postgres -g postgres -m 0755 /var/log/postgresql
  {
    cat <<EOF
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
    # Continuous archiving; the restore rehearsal runs the same lines.
    cat "$LIB/archive.conf"
  } >"$PGDATA/tsa.conf"
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

# Waits until PostgreSQL accepts writes: after a restore, until recovery has
# reached the target and promoted. A recovery that fails (a target outside
# the archive) makes PostgreSQL exit, and systemd restart it: that fails here.
wait_writable() {
  local i state restarts
  restarts=$(systemctl show -p NRestarts --value "$UNIT")
  for i in $(seq 1 100000); do
    state=$(psql_admin -d postgres -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null) || state=down
    [ "$state" = f ] && return 0
    if [ "$(systemctl show -p NRestarts --value "$UNIT")" != "$restarts" ]; then
      log "PostgreSQL exited while starting; see /var/log/postgresql"
      return 1
    fi
    if ((i % 30 == 1)); then log "waiting for PostgreSQL ($state)"; fi
    sleep 2
  done
  return 1
}

# Creates the administrator role (the secret's user: NOSUPERUSER, CREATEROLE,
# owner of the database) and the database once and sets the role's password
# from the secret at every run (a rotated secret applies at the next boot).
# The deploy-time migration task logs in as this role and creates the
# migrator and the application role (apps/README.md). A database created
# before that split is owned by the old application role: ownership moves to
# the administrator and the old role is dropped, so the migration task
# creates it again as a plain application role. Then a client login as the
# administrator, over TLS on the private address, verified against the CA.
# The password reaches psql only through its environment.
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
ALTER ROLE :"db_user" WITH LOGIN NOSUPERUSER NOREPLICATION NOBYPASSRLS CREATEROLE NOCREATEDB PASSWORD :'db_password';
SELECT format('CREATE DATABASE %I OWNER %I', :'db_name', :'db_user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db_name') \gexec
SQL
  local old
  old=$(TSA_DB_NAME=$DB_NAME psql_admin -d postgres -tA <<'SQL'
\getenv db_name TSA_DB_NAME
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db_name';
SQL
)
  if [ "$old" != "$user" ]; then
    log "the database belongs to $old: giving it to $user"
    TSA_DB_USER=$user TSA_DB_NAME=$DB_NAME psql_admin -d postgres <<'SQL'
\getenv db_user TSA_DB_USER
\getenv db_name TSA_DB_NAME
ALTER DATABASE :"db_name" OWNER TO :"db_user";
SQL
    local super
    super=$(TSA_OLD=$old psql_admin -d postgres -tA <<'SQL'
\getenv old TSA_OLD
SELECT rolsuper FROM pg_roles WHERE rolname = :'old';
SQL
)
    if [ "$super" = f ]; then
      # The application role of a version before the role split: the
      # migration task creates it again, as a role the administrator manages.
      log "moving what $old owns to $user and dropping $old"
      TSA_OLD=$old TSA_DB_USER=$user psql_admin -d "$DB_NAME" <<'SQL'
\getenv old TSA_OLD
\getenv db_user TSA_DB_USER
REASSIGN OWNED BY :"old" TO :"db_user";
DROP OWNED BY :"old";
SQL
      TSA_OLD=$old psql_admin -d postgres <<'SQL'
\getenv old TSA_OLD
DROP ROLE :"old";
SQL
    fi
  fi
  update_extension
  PGPASSWORD=$password PGSSLMODE=verify-full PGSSLROOTCERT=$TLS_DIR/ca.crt PGCONNECT_TIMEOUT=10 \
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -tA \
    "host=$DNS_NAME hostaddr=$PRIVATE_IP port=$DB_PORT dbname=$DB_NAME user=$user" \
    -c "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'" >"$STATE/client-check"
  password=
  if [ "$(cat "$STATE/client-check")" != "$TIMESCALE_VERSION" ]; then
    log "a client login found TimescaleDB '$(cat "$STATE/client-check")', expected $TIMESCALE_VERSION"
    return 1
  fi
}

# ALTER EXTENSION ... UPDATE must be the first statement of its session
# (before the old library is loaded); CREATE only when there is nothing to
# update.
update_extension() {
  local out
  if out=$(psql_admin -d "$DB_NAME" -c 'ALTER EXTENSION timescaledb UPDATE' 2>&1); then
    return 0
  fi
  case $out in
  *'does not exist'*) psql_admin -d "$DB_NAME" -c 'CREATE EXTENSION timescaledb' ;;
  *)
    log "ALTER EXTENSION timescaledb UPDATE failed: $out"
    return 1
    ;;
  esac
}

# Makes sure WAL reaches the archive: creates the stanza (a no-op once it
# exists) and lets pgBackRest force a WAL switch and wait for it in the
# bucket. A new cluster gets its first full backup before the host reports
# ready; a restored one (new timeline) or one the archive has no backup of
# yet starts a full backup in the background.
start_archiving() {
  runuser -u postgres -- pgbackrest --stanza="$STANZA" stanza-create
  runuser -u postgres -- pgbackrest --stanza="$STANZA" check
  if [ "$cluster" = created ]; then
    "$LIB/tsa-pitr.sh" backup full
  else
    "$LIB/tsa-pitr.sh" stamp
    if [ "$cluster" = restored ] || [ "$backups" -eq 0 ]; then
      systemctl start --no-block tsa-backup@full.service
    fi
  fi
  systemctl enable --now tsa-backup-full.timer tsa-backup-diff.timer tsa-metrics.timer >/dev/null 2>&1
}

main() {
  log "starting on $INSTANCE_ID ($PRIVATE_IP) for $VOLUME_ID"
  if [ ! -e "$HOOK" ]; then
    install -d -m 0755 "$(dirname "$HOOK")"
    printf '#!/bin/bash\nexec %s\n' "$LIB/bootstrap.sh" >"$HOOK"
    chmod 0700 "$HOOK"
  fi
  # The AWS CLI comes first so that any later failure is signalled at once.
  install_aws_cli
  install_packages
  install_cloudwatch_agent
  write_units
  configure_pgbackrest
  preflight
  take_volume
  mount_volume
  init_cluster
  ensure_tls
  local before
  before=$(config_digest)
  write_config
  start_postgres "$before"
  wait_writable
  apply_credentials
  publish_ca
  start_archiving
  cfn_signal SUCCESS
  log "TimescaleDB $TIMESCALE_VERSION on PostgreSQL $PG_MAJOR.$PG_MINOR is ready at $DNS_NAME:$DB_PORT"
}

backups=0
cluster=
main
