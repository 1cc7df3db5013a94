package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const root = ".."

// cdkContext is the "context" object of the project's cdk.json.
func cdkContext(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	require.NoError(t, err)
	var file struct {
		Context map[string]any `json:"context"`
	}
	require.NoError(t, json.Unmarshal(data, &file))
	return file.Context
}

// withEnv returns a context for env whose settings are cdk.json's with the
// JSON patch merged in (objects merge, other values replace).
func withEnv(t testing.TB, env string, patch string) map[string]any {
	t.Helper()
	ctx := cdkContext(t)
	ctx[KeyEnv] = env
	envs := ctx[KeyEnvironments].(map[string]any)
	base, _ := envs[env].(map[string]any)
	if base == nil {
		base = map[string]any{}
	}
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(patch), &p))
	envs[env] = merge(base, p)
	return ctx
}

func merge(dst, src map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = merge(dm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func TestCdkJSONEnvironmentsLoad(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		cfg, err := Load(withEnv(t, env, `{}`), root)
		require.NoError(t, err, env)
		assert.Equal(t, env, cfg.Name)
		assert.Equal(t, env, cfg.Profile)
		assert.Equal(t, "tsa-"+env+"-network", cfg.StackName("network"))
	}
}

func TestDefaultEnvironmentIsDev(t *testing.T) {
	ctx := cdkContext(t)
	cfg, err := Load(ctx, root)
	require.NoError(t, err)
	assert.Equal(t, "dev", cfg.Name)
	assert.False(t, cfg.Production())
}

func TestProfiles(t *testing.T) {
	dev, err := Load(withEnv(t, "dev", `{}`), root)
	require.NoError(t, err)
	prod, err := Load(withEnv(t, "prod", `{}`), root)
	require.NoError(t, err)

	assert.True(t, prod.Production())
	assert.True(t, prod.Database.MultiAz)
	assert.True(t, prod.Database.DeletionProtection)
	assert.GreaterOrEqual(t, prod.Network.NatGateways, 2, "a NAT gateway per zone in prod")
	assert.GreaterOrEqual(t, prod.Backend.MinCount, 2)
	assert.False(t, prod.Backend.Spot)

	assert.False(t, dev.Database.MultiAz)
	assert.False(t, dev.Database.DeletionProtection)
	assert.NotEqual(t, dev.Network.VpcCidr, prod.Network.VpcCidr, "environments can be peered")
}

func TestOverlapOnlyWithinOneAccountAndRegion(t *testing.T) {
	_, err := Load(withEnv(t, "staging", `{"profile":"dev","account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"]}`), root)
	assert.NoError(t, err, "dev's default block may repeat in another account")
}

// TestDevProfileCostSettings pins what keeps a dev environment under its idle
// budget (test/cost_test.go prices the result).
func TestDevProfileCostSettings(t *testing.T) {
	dev := defaults(ProfileDev)
	assert.Equal(t, 0, dev.Network.NatGateways, "no NAT gateway ($32.85 + $3.65 address a month each)")
	assert.True(t, dev.Backend.AssignPublicIp)
	assert.True(t, dev.Backend.Spot, "Fargate Spot")
	assert.Equal(t, "ARM64", dev.Backend.CpuArchitecture, "Graviton tasks")
	assert.Equal(t, []int{256, 512, 1}, []int{dev.Backend.Cpu, dev.Backend.MemoryMiB, dev.Backend.MinCount}, "smallest task, one of it")
	assert.Equal(t, "db.t4g.micro", dev.Database.InstanceClass, "smallest Graviton RDS class")
	assert.Equal(t, 20, dev.Database.AllocatedStorageGiB, "RDS minimum storage")
	assert.False(t, dev.Database.MultiAz)
	assert.False(t, dev.Monitoring.Dashboard, "a dashboard is $3 a month")
	assert.LessOrEqual(t, dev.Backend.LogRetentionDays, 14)
}

func TestStagingInheritsItsProfile(t *testing.T) {
	cfg, err := Load(withEnv(t, "staging", `{"profile":"prod","network":{"vpcCidr":"10.30.0.0/16"}}`), root)
	require.NoError(t, err)
	assert.Equal(t, "staging", cfg.Name)
	assert.True(t, cfg.Production())
	assert.Equal(t, "10.30.0.0/16", cfg.Network.VpcCidr)
	assert.Equal(t, "tsa-staging-data", cfg.StackName("data"))
}

func TestImageTagOverride(t *testing.T) {
	ctx := withEnv(t, "dev", `{}`)
	ctx[KeyImageTag] = "v1.4.2"
	cfg, err := Load(ctx, root)
	require.NoError(t, err)
	assert.Equal(t, Image{Tag: "v1.4.2"}, cfg.Backend.Image, "a CLI tag replaces the local build")
	assert.True(t, cfg.UsesImageRepository())
}

func TestPinnedEnvironment(t *testing.T) {
	cfg, err := Load(withEnv(t, "dev", `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"]}`), root)
	require.NoError(t, err)
	assert.True(t, cfg.PinnedEnvironment())
	assert.Equal(t, 2, cfg.AzCount())
}

// TestTimescaleEngine: a pinned environment runs the timescaledb tier with
// its zone written out; dev takes no volume snapshots (nothing blocks `cdk
// destroy`) and every profile archives for point-in-time recovery.
func TestTimescaleEngine(t *testing.T) {
	pinned := `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],%s"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1b"%s}}}`
	dev, err := Load(withEnv(t, "dev", fmt.Sprintf(pinned, `"network":{"natGateways":1},"backend":{"assignPublicIp":false},`, ``)), root)
	require.NoError(t, err)
	ts := dev.Database.Timescale
	assert.Equal(t, "eu-west-1b", ts.AvailabilityZone)
	assert.Equal(t, 0, ts.BackupRetentionDays, "dev: no AWS Backup vault")
	assert.Equal(t, TimescalePitr{RetentionDays: 7, FullBackupWeekday: "Sun", BackupHourUtc: 2}, ts.Pitr)
	assert.Empty(t, ts.Restore.TargetTime)

	prod, err := Load(withEnv(t, "prod", fmt.Sprintf(pinned, ``, `,"amiId":"ami-0123456789abcdef0","restore":{"targetTime":"2026-11-28T09:30:00Z"}`)), root)
	require.NoError(t, err)
	ts = prod.Database.Timescale
	assert.Equal(t, 35, ts.BackupRetentionDays)
	assert.Equal(t, 14, ts.Pitr.RetentionDays)
	assert.Equal(t, "2026-11-28T09:30:00Z", ts.Restore.TargetTime)
}

func TestExternalEngine(t *testing.T) {
	cfg, err := Load(withEnv(t, "dev", `{"database":{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:tsa/db-AbCdEf","cidr":"10.50.0.0/24"}}}`), root)
	require.NoError(t, err)
	assert.Equal(t, EngineExternal, cfg.Database.Engine)
}

// TestInvalidConfigurations is the table of refused inputs: each one stops
// synthesis with a message that names the setting and what it accepts.
func TestInvalidConfigurations(t *testing.T) {
	cases := []struct {
		name    string
		env     string
		patch   string
		mutate  func(ctx map[string]any)
		setting string
		want    string
	}{
		{name: "unknown environment", env: "qa", mutate: func(ctx map[string]any) { delete(ctx[KeyEnvironments].(map[string]any), "qa") }, setting: "env", want: "accepted: dev, prod"},
		{name: "environment name not a name", env: "dev", mutate: func(ctx map[string]any) { ctx[KeyEnv] = "Dev_1" }, setting: "env", want: "lower-case letters and digits"},
		{name: "environment not an object", env: "dev", mutate: func(ctx map[string]any) { ctx[KeyEnvironments].(map[string]any)["dev"] = "small" }, setting: "environments.dev", want: "must be an object"},
		{name: "no environments", env: "dev", mutate: func(ctx map[string]any) { delete(ctx, KeyEnvironments) }, setting: "environments", want: "no environments defined"},
		{name: "environments not JSON", env: "dev", mutate: func(ctx map[string]any) { ctx[KeyEnvironments] = "{dev" }, setting: "environments", want: "must be a JSON object"},
		{name: "custom environment without profile", env: "qa", patch: `{}`, setting: "environments.qa.profile", want: "accepted: dev, prod"},
		{name: "unknown profile", env: "dev", patch: `{"profile":"staging"}`, setting: "environments.dev.profile", want: "accepted: dev, prod"},
		{name: "unknown top-level key", env: "dev", patch: `{"vpc":{}}`, setting: "environments.dev.vpc", want: "unknown setting; accepted: account, availabilityZones"},
		{name: "unknown nested key", env: "dev", patch: `{"backend":{"cpus":512}}`, setting: "environments.dev.backend.cpus", want: "accepted: assignPublicIp, cpu,"},
		{name: "section not an object", env: "dev", patch: `{"network":"10.0.0.0/16"}`, setting: "environments.dev.network", want: "must be an object"},
		{name: "string where a number goes", env: "dev", patch: `{"backend":{"cpu":"256"}}`, setting: "environments.dev.backend.cpu", want: "expected a whole number, got string"},
		{name: "fraction where a whole number goes", env: "dev", patch: `{"backend":{"desiredCount":1.5}}`, setting: "environments.dev.backend.desiredCount", want: "expected a whole number"},
		{name: "number where a boolean goes", env: "dev", patch: `{"database":{"multiAz":1}}`, setting: "environments.dev.database.multiAz", want: "expected true or false"},
		{name: "account malformed", env: "dev", patch: `{"account":"12345","region":"us-east-1","availabilityZones":["us-east-1a","us-east-1b"]}`, setting: "environments.dev.account", want: "12 digits"},
		{name: "region malformed", env: "dev", patch: `{"account":"123456789012","region":"US-East","availabilityZones":["us-east-1a","us-east-1b"]}`, setting: "environments.dev.region", want: "not an AWS region name"},
		{name: "account without region", env: "dev", patch: `{"account":"123456789012"}`, setting: "environments.dev.account", want: "must be set together"},
		{name: "pinned region without zones", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1"}`, setting: "environments.dev.availabilityZones", want: "required when a region is pinned"},
		{name: "zone outside region", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","us-east-1b"]}`, setting: "environments.dev.availabilityZones", want: "not in region eu-west-1"},
		{name: "one zone", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a"]}`, setting: "environments.dev.availabilityZones", want: "accepted: 2 or 3"},
		{name: "zones without a pinned region", env: "dev", patch: `{"availabilityZones":["us-east-1a","us-east-1b"]}`, setting: "environments.dev.availabilityZones", want: "only allowed with a pinned account and region"},
		{name: "maxAzs out of range", env: "dev", patch: `{"network":{"maxAzs":1}}`, setting: "environments.dev.network.maxAzs", want: "accepted: 2 or 3"},
		{name: "malformed CIDR", env: "dev", patch: `{"network":{"vpcCidr":"10.0.0/16"}}`, setting: "environments.dev.network.vpcCidr", want: "not an IPv4 CIDR block"},
		{name: "CIDR with host bits", env: "dev", patch: `{"network":{"vpcCidr":"10.0.1.0/16"}}`, setting: "environments.dev.network.vpcCidr", want: "did you mean 10.0.0.0/16"},
		{name: "CIDR too large", env: "dev", patch: `{"network":{"vpcCidr":"10.0.0.0/8"}}`, setting: "environments.dev.network.vpcCidr", want: "/16 to /24"},
		{name: "public CIDR", env: "dev", patch: `{"network":{"vpcCidr":"8.8.0.0/16"}}`, setting: "environments.dev.network.vpcCidr", want: "not inside a private range"},
		{name: "CIDR overlaps another environment", env: "staging", patch: `{"profile":"prod","network":{"vpcCidr":"10.20.128.0/20"}}`, setting: "environments.staging.network.vpcCidr", want: "overlaps environment \"prod\" (10.20.0.0/16)"},
		{name: "subnets do not fit", env: "dev", patch: `{"network":{"vpcCidr":"10.0.0.0/22","natGateways":1},"backend":{"assignPublicIp":false}}`, setting: "environments.dev.network.subnetCidrMask", want: "6 subnets of /24 (3 subnet groups x 2 zones) do not fit in 10.0.0.0/22"},
		{name: "more NAT gateways than zones", env: "dev", patch: `{"network":{"natGateways":3},"backend":{"assignPublicIp":false}}`, setting: "environments.dev.network.natGateways", want: "accepted: 0 to 2"},
		{name: "prod with one NAT gateway", env: "prod", patch: `{"network":{"natGateways":1}}`, setting: "environments.prod.network.natGateways", want: "at least 2"},
		{name: "flow log retention not a CloudWatch value", env: "dev", patch: `{"network":{"flowLogRetentionDays":10}}`, setting: "environments.dev.network.flowLogRetentionDays", want: "accepted: 1, 3, 5, 7, 14"},
		{name: "unknown engine", env: "dev", patch: `{"database":{"engine":"aurora"}}`, setting: "environments.dev.database.engine", want: "accepted: rds-postgres, timescaledb, external"},
		{name: "DB class malformed", env: "dev", patch: `{"database":{"instanceClass":"t4g.micro"}}`, setting: "environments.dev.database.instanceClass", want: "e.g. db.t4g.micro"},
		{name: "burstable DB class in prod", env: "prod", patch: `{"database":{"instanceClass":"db.t4g.large"}}`, setting: "environments.prod.database.instanceClass", want: "burstable"},
		{name: "engine version not pinned", env: "dev", patch: `{"database":{"engineVersion":"17"}}`, setting: "environments.dev.database.engineVersion", want: "MAJOR.MINOR"},
		{name: "engine version too old", env: "dev", patch: `{"database":{"engineVersion":"13.4"}}`, setting: "environments.dev.database.engineVersion", want: "major 16, 17 or 18"},
		{name: "storage below RDS minimum", env: "dev", patch: `{"database":{"allocatedStorageGiB":10}}`, setting: "environments.dev.database.allocatedStorageGiB", want: "accepted: 20 to 65536"},
		{name: "max storage below allocated", env: "dev", patch: `{"database":{"allocatedStorageGiB":100,"maxAllocatedStorageGiB":50}}`, setting: "environments.dev.database.maxAllocatedStorageGiB", want: "at least 10% above"},
		{name: "backup retention too long", env: "dev", patch: `{"database":{"backupRetentionDays":40}}`, setting: "environments.dev.database.backupRetentionDays", want: "accepted: 1 to 35"},
		{name: "prod backups too short", env: "prod", patch: `{"database":{"backupRetentionDays":3}}`, setting: "environments.prod.database.backupRetentionDays", want: "accepted: 7 to 35"},
		{name: "monitoring interval", env: "dev", patch: `{"database":{"monitoringIntervalSeconds":20}}`, setting: "environments.dev.database.monitoringIntervalSeconds", want: "accepted: 0, 1, 5, 10, 15, 30, 60"},
		{name: "prod without deletion protection", env: "prod", patch: `{"database":{"deletionProtection":false}}`, setting: "environments.prod.database.deletionProtection", want: "must be true"},
		{name: "prod without Multi-AZ", env: "prod", patch: `{"database":{"multiAz":false}}`, setting: "environments.prod.database.multiAz", want: "must be true"},
		{name: "reserved database name", env: "dev", patch: `{"database":{"databaseName":"postgres"}}`, setting: "environments.dev.database.databaseName", want: "reserved"},
		{name: "database name shape", env: "dev", patch: `{"database":{"databaseName":"1-data"}}`, setting: "environments.dev.database.databaseName", want: "starting with a letter"},
		{name: "external without secret", env: "dev", patch: `{"database":{"engine":"external","external":{"cidr":"10.50.0.0/24"}}}`, setting: "environments.dev.database.external.secretArn", want: "required for engine external"},
		{name: "external bad secret ARN", env: "dev", patch: `{"database":{"engine":"external","external":{"secretArn":"arn:aws:s3:::bucket","cidr":"10.50.0.0/24"}}}`, setting: "environments.dev.database.external.secretArn", want: "not a Secrets Manager secret ARN"},
		{name: "external without network", env: "dev", patch: `{"database":{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}}}`, setting: "environments.dev.database.external.securityGroupId", want: "needs securityGroupId or cidr"},
		{name: "external open to the world", env: "dev", patch: `{"database":{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","cidr":"0.0.0.0/0"}}}`, setting: "environments.dev.database.external.cidr", want: "name the database's network"},
		{name: "timescale on x86", env: "dev", patch: `{"database":{"engine":"timescaledb","timescale":{"instanceType":"m7i.large"}}}`, setting: "environments.dev.database.timescale.instanceType", want: "Graviton"},
		{name: "timescale version unpinned", env: "dev", patch: `{"database":{"engine":"timescaledb","timescale":{"timescaleVersion":"latest"}}}`, setting: "environments.dev.database.timescale.timescaleVersion", want: "pinned TimescaleDB 2.x"},
		{name: "timescale burstable in prod", env: "prod", patch: `{"database":{"engine":"timescaledb","timescale":{"instanceType":"t4g.large"}}}`, setting: "environments.prod.database.timescale.instanceType", want: "burstable"},
		{name: "timescale backups too short in prod", env: "prod", patch: `{"database":{"engine":"timescaledb","timescale":{"backupRetentionDays":3}}}`, setting: "environments.prod.database.timescale.backupRetentionDays", want: "accepted: 7 to 35"},
		{name: "external port", env: "dev", patch: `{"database":{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","cidr":"10.50.0.0/24","port":0}}}`, setting: "environments.dev.database.external.port", want: "accepted: 1 to 65535"},
		{name: "external security group malformed", env: "dev", patch: `{"database":{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","securityGroupId":"group-1"}}}`, setting: "environments.dev.database.external.securityGroupId", want: "not a security group ID"},
		{name: "external security group and CIDR", env: "dev", patch: `{"database":{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","securityGroupId":"sg-0123456789abcdef0","cidr":"10.50.0.0/24"}}}`, setting: "environments.dev.database.external.securityGroupId", want: "not both"},
		{name: "timescale AMI malformed", env: "dev", patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"amiId":"ubuntu"}}}`, setting: "environments.dev.database.timescale.amiId", want: "not an AMI ID"},
		{name: "timescale AMI without region", env: "dev", patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"amiId":"ami-0123456789abcdef0"}}}`, setting: "environments.dev.database.timescale.amiId", want: "belongs to one region"},
		{name: "timescale unpinned", env: "dev", patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb"}}`, setting: "environments.dev.database.timescale.availabilityZone", want: "pin account, region and availabilityZones"},
		{name: "timescale zone missing", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb"}}`, setting: "environments.dev.database.timescale.availabilityZone", want: "required for engine timescaledb: the zone of the data volume and the host; accepted: eu-west-1a, eu-west-1b"},
		{name: "timescale zone not pinned", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","availabilityZone":"eu-west-1c"}}}`, setting: "environments.dev.database.timescale.availabilityZone", want: "not one of availabilityZones; accepted: eu-west-1a, eu-west-1b"},
		{name: "timescale prod without AMI", env: "prod", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","instanceType":"m7g.large"}}}`, setting: "environments.prod.database.timescale.amiId", want: "required in a prod-profile environment"},
		{name: "timescale EBS key malformed", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","ebsKmsKeyArn":"alias/aws/ebs"}}}`, setting: "environments.dev.database.timescale.ebsKmsKeyArn", want: "not a KMS key ARN"},
		{name: "timescale EBS key other region", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","ebsKmsKeyArn":"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}}`, setting: "environments.dev.database.timescale.ebsKmsKeyArn", want: "only use a key of their own region"},
		{name: "timescale snapshots negative", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","backupRetentionDays":-1}}}`, setting: "environments.dev.database.timescale.backupRetentionDays", want: "accepted: 0 (no volume snapshots) to 35"},
		{name: "timescale minor negative", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","postgresMinor":-1}}}`, setting: "environments.dev.database.timescale.postgresMinor", want: "accepted: 0 to 99"},
		{name: "pitr retention zero", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","pitr":{"retentionDays":0}}}}`, setting: "environments.dev.database.timescale.pitr.retentionDays", want: "accepted: 1 to 365"},
		{name: "pitr retention short in prod", env: "prod", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","amiId":"ami-0123456789abcdef0","pitr":{"retentionDays":3}}}}`, setting: "environments.prod.database.timescale.pitr.retentionDays", want: "accepted: 7 to 365"},
		{name: "pitr weekday", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","pitr":{"fullBackupWeekday":"Sunday"}}}}`, setting: "environments.dev.database.timescale.pitr.fullBackupWeekday", want: "accepted: Mon, Tue, Wed, Thu, Fri, Sat, Sun"},
		{name: "pitr hour", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","pitr":{"backupHourUtc":24}}}}`, setting: "environments.dev.database.timescale.pitr.backupHourUtc", want: "accepted: 0 to 23"},
		{name: "restore time malformed", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","restore":{"targetTime":"yesterday 9:30"}}}}`, setting: "environments.dev.database.timescale.restore.targetTime", want: "not an RFC 3339 time"},
		{name: "restore time in the future", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false},"database":{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","restore":{"targetTime":"2999-01-01T00:00:00Z"}}}}`, setting: "environments.dev.database.timescale.restore.targetTime", want: "in the future"},
		{name: "Fargate CPU unknown", env: "dev", patch: `{"backend":{"cpu":300}}`, setting: "environments.dev.backend.cpu", want: "accepted: 256, 512, 1024"},
		{name: "Fargate CPU/memory pair refused", env: "dev", patch: `{"backend":{"cpu":256,"memoryMiB":4096}}`, setting: "environments.dev.backend.memoryMiB", want: "Fargate does not run 4096 MiB with cpu 256; accepted: 512, 1024, 2048"},
		{name: "Fargate memory step", env: "dev", patch: `{"backend":{"cpu":1024,"memoryMiB":2500}}`, setting: "environments.dev.backend.memoryMiB", want: "accepted: 2048, 3072"},
		{name: "autoscaling min above max", env: "dev", patch: `{"backend":{"minCount":3,"maxCount":2,"desiredCount":2}}`, setting: "environments.dev.backend.minCount", want: "greater than maxCount"},
		{name: "desired outside bounds", env: "dev", patch: `{"backend":{"desiredCount":5}}`, setting: "environments.dev.backend.desiredCount", want: "outside minCount..maxCount"},
		{name: "prod with one task", env: "prod", patch: `{"backend":{"minCount":1,"desiredCount":1}}`, setting: "environments.prod.backend.minCount", want: "at least 2 tasks"},
		{name: "port privileged", env: "dev", patch: `{"backend":{"port":80}}`, setting: "environments.dev.backend.port", want: "accepted: 1024 to 65535"},
		{name: "port out of range", env: "dev", patch: `{"backend":{"port":70000}}`, setting: "environments.dev.backend.port", want: "accepted: 1024 to 65535"},
		{name: "health check path shape", env: "dev", patch: `{"backend":{"healthCheckPath":"api/health now"}}`, setting: "environments.dev.backend.healthCheckPath", want: "starting with /"},
		{name: "CPU architecture", env: "dev", patch: `{"backend":{"cpuArchitecture":"arm"}}`, setting: "environments.dev.backend.cpuArchitecture", want: "accepted: ARM64, X86_64"},
		{name: "Spot in prod", env: "prod", patch: `{"backend":{"spot":true}}`, setting: "environments.prod.backend.spot", want: "on-demand"},
		{name: "no NAT and no public IP", env: "dev", patch: `{"network":{"natGateways":0},"backend":{"assignPublicIp":false}}`, setting: "environments.dev.backend.assignPublicIp", want: "must be true when network.natGateways is 0"},
		{name: "public IP behind NAT", env: "dev", patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":true}}`, setting: "environments.dev.backend.assignPublicIp", want: "must be false when the VPC has NAT gateways"},
		{name: "timescaledb without NAT", env: "dev", patch: `{"database":{"engine":"timescaledb"}}`, setting: "environments.dev.database.engine", want: "needs network.natGateways"},
		{name: "scaling target", env: "dev", patch: `{"backend":{"targetCpuPercent":95}}`, setting: "environments.dev.backend.targetCpuPercent", want: "accepted: 10 to 90"},
		{name: "image source ambiguous", env: "dev", patch: `{"backend":{"image":{"directory":"apps/backend","tag":"v1"}}}`, setting: "environments.dev.backend.image", want: "not both"},
		{name: "image source missing", env: "dev", patch: `{"backend":{"image":{"directory":""}}}`, setting: "environments.dev.backend.image", want: "-c imageTag=TAG"},
		{name: "image directory without Dockerfile", env: "dev", patch: `{"backend":{"image":{"directory":"apps/frontend"}}}`, setting: "environments.dev.backend.image.directory", want: "has no Dockerfile"},
		{name: "image tag latest", env: "dev", mutate: func(ctx map[string]any) { ctx[KeyImageTag] = "latest" }, setting: "environments.dev.backend.image.tag", want: "not \"latest\""},
		{name: "image tag not a string", env: "dev", mutate: func(ctx map[string]any) { ctx[KeyImageTag] = 12.0 }, setting: "imageTag", want: "must be a string"},
		{name: "frontend directory without index.html", env: "dev", patch: `{"frontend":{"sourceDir":"apps/backend"}}`, setting: "environments.dev.frontend.sourceDir", want: "has no index.html"},
		{name: "domain without certificate", env: "dev", patch: `{"frontend":{"domainName":"app.example.com"}}`, setting: "environments.dev.frontend.certificateArn", want: "required with frontend.domainName"},
		{name: "certificate without domain", env: "dev", patch: `{"frontend":{"certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}`, setting: "environments.dev.frontend.certificateArn", want: "set without frontend.domainName"},
		{name: "certificate outside us-east-1", env: "dev", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}`, setting: "environments.dev.frontend.certificateArn", want: "only uses ACM certificates from us-east-1"},
		{name: "certificate ARN malformed", env: "dev", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"arn:aws:acm:us-east-1:123:cert"}}`, setting: "environments.dev.frontend.certificateArn", want: "not an ACM certificate ARN"},
		{name: "domain malformed", env: "dev", patch: `{"frontend":{"domainName":"App_Example","certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}`, setting: "environments.dev.frontend.domainName", want: "not a lower-case DNS name"},
		{name: "domain outside hosted zone", env: "dev", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012","hostedZoneId":"Z0123456789ABC","hostedZoneName":"example.org"}}`, setting: "environments.dev.frontend.domainName", want: "not inside hosted zone"},
		{name: "hosted zone half set", env: "dev", patch: `{"frontend":{"hostedZoneId":"Z0123456789ABC"}}`, setting: "environments.dev.frontend.hostedZoneId", want: "must be set together"},
		{name: "price class", env: "dev", patch: `{"frontend":{"priceClass":"cheap"}}`, setting: "environments.dev.frontend.priceClass", want: "accepted: PriceClass_100, PriceClass_200, PriceClass_All"},
		{name: "alarm e-mail", env: "dev", patch: `{"monitoring":{"alarmEmail":"oncall at example"}}`, setting: "environments.dev.monitoring.alarmEmail", want: "not an e-mail address"},
		{name: "alarm percent", env: "dev", patch: `{"monitoring":{"alb5xxPercent":150}}`, setting: "environments.dev.monitoring.alb5xxPercent", want: "at most 100"},
		{name: "free storage alarm above storage", env: "dev", patch: `{"monitoring":{"dbFreeStorageGiB":25}}`, setting: "environments.dev.monitoring.dbFreeStorageGiB", want: "would alarm at once"},
		{name: "tag key reserved", env: "dev", patch: `{"tags":{"aws:owner":"me"}}`, setting: "environments.dev.tags.aws:owner", want: "not a valid tag key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := withEnv(t, tc.env, orEmpty(tc.patch))
			if tc.mutate != nil {
				tc.mutate(ctx)
			}
			cfg, err := Load(ctx, root)
			require.Error(t, err, "accepted: %+v", cfg)
			var cerr *Error
			require.ErrorAs(t, err, &cerr)
			var found bool
			for _, p := range cerr.Problems {
				if p.Setting == tc.setting {
					found = true
					assert.Contains(t, p.Message, tc.want)
				}
			}
			assert.True(t, found, "no problem names %s; got:\n%v", tc.setting, err)
			assert.Contains(t, err.Error(), tc.setting+": ", "the message names the setting")
		})
	}
	assert.GreaterOrEqual(t, len(cases), 25)
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := Load(withEnv(t, "dev", `{"backend":{"port":1,"cpu":300},"network":{"vpcCidr":"x"}}`), root)
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, `invalid configuration for environment "dev":`))
	for _, s := range []string{"backend.port", "backend.cpu", "network.vpcCidr"} {
		assert.Contains(t, msg, "environments.dev."+s+": ")
	}
}

func orEmpty(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// FuzzLoad feeds arbitrary JSON environments to the loader: every input ends
// in a valid configuration or an *Error, never a panic.
func FuzzLoad(f *testing.F) {
	f.Add(`{"backend":{"cpu":256,"memoryMiB":512}}`, "dev", "")
	f.Add(`{"network":{"vpcCidr":"10.0.0.0/16","natGateways":0},"backend":{"assignPublicIp":true}}`, "dev", "v1")
	f.Add(`{"profile":"prod","database":{"engine":"external","external":{"cidr":"10.1.0.0/24"}}}`, "stage", "")
	f.Add(`{"frontend":{"domainName":"a.example.com","certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}`, "prod", "")
	f.Add(`[]`, "dev", "")
	f.Add(`{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a",7]}`, "dev", "x")
	f.Fuzz(func(t *testing.T, envJSON, env, tag string) {
		var settings any
		if json.Unmarshal([]byte(envJSON), &settings) != nil {
			return
		}
		ctx := map[string]any{KeyEnv: env, KeyEnvironments: map[string]any{env: settings, "dev": settings}}
		if tag != "" {
			ctx[KeyImageTag] = tag
		}
		cfg, err := Load(ctx, root)
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("error is not a configuration error naming a setting: %v", err)
			}
			return
		}
		if Validate(cfg) != nil {
			t.Fatalf("Load returned a configuration that does not validate")
		}
	})
}
