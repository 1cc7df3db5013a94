#!/bin/bash
# User data of the TimescaleDB host, rendered per environment by
# constructs/timescaledb: this host's settings, its pgBackRest configuration,
# and the scripts that do the work (payload/, packed as a base64 tar.gz to
# stay inside EC2's 16 KiB user data limit). It unpacks them and runs
# payload/bootstrap.sh. Full-line comments (like this one) are stripped from
# the rendered user data.
set -euo pipefail
umask 022
readonly LIB=/usr/local/lib/tsa-timescaledb
install -d -m 0755 /etc/tsa "$LIB"
cat >/etc/tsa/timescaledb.env <<'EOF'
PG_MAJOR='{{.PostgresMajor}}'
PG_MINOR='{{.PostgresMinor}}'
TIMESCALE_VERSION='{{.TimescaleVersion}}'
TIMESCALE_TOOLS_VERSION='{{.TimescaleToolsVersion}}'
PGBACKREST_VERSION='{{.PgBackRestVersion}}'
CW_AGENT_VERSION='{{.CloudWatchAgentVersion}}'
VOLUME_ID='{{.VolumeID}}'
SECRET_ID='{{.SecretArn}}'
DB_NAME='{{.DatabaseName}}'
DB_PORT='{{.Port}}'
CLIENT_CIDR='{{.ClientCidr}}'
DNS_NAME='{{.DNSName}}'
CW_CONFIG_PARAM='{{.AgentConfigParameter}}'
CA_PARAM='{{.CAParameter}}'
AWS_REGION='{{.Region}}'
METRICS_NAMESPACE='{{.MetricsNamespace}}'
STACK_NAME='{{.StackName}}'
LOGICAL_ID='{{.LogicalID}}'
RESTORE_TARGET='{{.RestoreTarget}}'
EOF
cat >/etc/tsa/pgbackrest.conf <<'EOF'
{{.PgBackRestConfig}}EOF
base64 -d >"$LIB/payload.tar.gz" <<'EOF'
{{.Payload}}EOF
tar -xzf "$LIB/payload.tar.gz" -C "$LIB" --no-same-owner
exec "$LIB/bootstrap.sh"
