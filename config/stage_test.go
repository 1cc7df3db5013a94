package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadStage(t *testing.T, env, stage, patch string) (*Config, error) {
	t.Helper()
	ctx := withEnv(t, env, patch)
	ctx[KeyStage] = stage
	return load(ctx)
}

func TestStageIsACopyNamedForTheStage(t *testing.T) {
	cfg, err := loadStage(t, "dev", "pr42", `{}`)
	require.NoError(t, err)
	assert.Equal(t, "pr42", cfg.Name, "every physical name derives from Name")
	assert.Equal(t, "dev", cfg.Env)
	assert.Equal(t, "dev", cfg.Environment())
	assert.Equal(t, "pr42", cfg.Stage)
	assert.True(t, cfg.IsStage())
	assert.False(t, cfg.Production())
	for _, part := range []string{"network", "data", "compute", "frontend"} {
		assert.Equal(t, "tsa-pr42-"+part, cfg.StackName(part))
	}

	env, err := load(withEnv(t, "dev", `{}`))
	require.NoError(t, err)
	assert.False(t, env.IsStage())
	assert.Equal(t, "dev", env.Name)
	assert.Equal(t, "dev", env.Environment())
}

func TestStageNamesAccepted(t *testing.T) {
	for _, name := range []string{"pr42", "pr-42", "alice", "a", "feature-x-2", strings.Repeat("s", MaxStageLength)} {
		cfg, err := loadStage(t, "dev", name, `{}`)
		if assert.NoError(t, err, name) {
			assert.Equal(t, name, cfg.Name)
			assert.True(t, IsStageName(name), name)
		}
	}
}

// TestMaxStageLengthIsTheTightestName: the limit comes from the RDS
// identifier tsa-STAGE-postgres (63 characters); test/stage_test.go checks
// it against every name in a stage's templates.
func TestMaxStageLengthIsTheTightestName(t *testing.T) {
	assert.Equal(t, 63-len("tsa--postgres"), MaxStageLength)
	for _, n := range StageNames {
		name := strings.Repeat("s", MaxStageLength)
		assert.LessOrEqual(t, len(strings.Replace(n.Format, "%s", name, 1)), n.Limit, n.What)
	}
}

// TestStageSafeOverrides: whatever the environment says, a stage is
// disposable and as cheap as it runs.
func TestStageSafeOverrides(t *testing.T) {
	const costly = `{
		"network": {"natGateways": 2, "flowLogRetentionDays": 90},
		"database": {"instanceClass": "db.m7g.large", "multiAz": true, "deletionProtection": true, "allocatedStorageGiB": 100,
			"maxAllocatedStorageGiB": 500, "backupRetentionDays": 14, "performanceInsights": true, "monitoringIntervalSeconds": 15, "logRetentionDays": 90},
		"backend": {"cpu": 1024, "memoryMiB": 2048, "desiredCount": 3, "minCount": 2, "maxCount": 10, "spot": false, "assignPublicIp": false, "logRetentionDays": 90},
		"frontend": {"priceClass": "PriceClass_All", "domainName": "dev.example.com",
			"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
			"waf": {"enabled": true}},
		"monitoring": {"alarmEmail": "oncall@example.com", "dashboard": true, "containerInsights": true, "operationsKeyRotation": true,
			"execSessionLogDays": 365, "dbFreeStorageGiB": 30, "dbFreeableMemoryMiB": 2048, "dbConnections": 400}
	}`
	env, err := load(withEnv(t, "dev", costly))
	require.NoError(t, err, "the costly dev environment is itself valid")
	require.True(t, env.Database.DeletionProtection)

	cfg, err := loadStage(t, "dev", "pr42", costly)
	require.NoError(t, err)
	n, d, b, f, m := cfg.Network, cfg.Database, cfg.Backend, cfg.Frontend, cfg.Monitoring
	assert.Equal(t, ProfileDev, cfg.Profile)
	assert.Equal(t, 0, n.NatGateways)
	assert.True(t, b.AssignPublicIp)
	assert.Equal(t, env.Network.VpcCidr, n.VpcCidr, "the stage's VPC repeats its environment's block")
	assert.Equal(t, "db.t4g.micro", d.InstanceClass)
	assert.False(t, d.MultiAz)
	assert.False(t, d.DeletionProtection)
	assert.False(t, d.PerformanceInsights)
	assert.Equal(t, 0, d.MonitoringIntervalSeconds)
	assert.Equal(t, 20, d.AllocatedStorageGiB)
	assert.Equal(t, 0, d.MaxAllocatedStorageGiB)
	assert.Equal(t, 1, d.BackupRetentionDays)
	assert.Equal(t, [4]int{256, 512, 1, 1}, [4]int{b.Cpu, b.MemoryMiB, b.DesiredCount, b.MinCount})
	assert.True(t, b.Spot)
	assert.Equal(t, "PriceClass_100", f.PriceClass)
	assert.Empty(t, f.DomainName+f.CertificateArn+f.HostedZoneID+f.HostedZoneName, "the domain belongs to the environment's distribution")
	assert.True(t, env.Frontend.Waf.Enabled)
	assert.False(t, f.Waf.Enabled, "no web ACL (and no edge stack) for a stage")
	assert.Empty(t, m.AlarmEmail, "a stage pages nobody")
	assert.False(t, m.Dashboard || m.ContainerInsights || m.OperationsKeyRotation)
	for what, days := range map[string]int{"flow logs": n.FlowLogRetentionDays, "database logs": d.LogRetentionDays, "API logs": b.LogRetentionDays, "exec sessions": m.ExecSessionLogDays} {
		assert.Equal(t, 7, days, what)
	}
	assert.Less(t, m.DbFreeStorageGiB, float64(d.AllocatedStorageGiB))
	assert.Less(t, m.DbFreeableMemoryMiB, 1024.0)
	assert.LessOrEqual(t, m.DbConnections, 112.0)

	ctx := withEnv(t, "dev", `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],
		"network":{"natGateways":2},"backend":{"assignPublicIp":false}}`)
	ctx[KeyEnvironments].(map[string]any)["dev"].(map[string]any)["database"] = map[string]any{
		"engine": "timescaledb", "timescale": map[string]any{"availabilityZone": "eu-west-1a", "backupRetentionDays": 7.0,
			"restore": map[string]any{"targetTime": "2026-01-01T00:00:00Z"}}}
	ctx[KeyStage] = "pr42"
	tsdb, err := load(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, tsdb.Network.NatGateways, "the TimescaleDB host installs its packages through NAT")
	assert.False(t, tsdb.Backend.AssignPublicIp)
	assert.Equal(t, 0, tsdb.Database.Timescale.BackupRetentionDays, "no backup vault stands in the way of destroy")
	assert.Empty(t, tsdb.Database.Timescale.Restore.TargetTime, "a new stage has no archive to restore from")
}

func TestStageKeepsImageTagAndFrontendDir(t *testing.T) {
	ctx := withEnv(t, "dev", `{}`)
	ctx[KeyStage], ctx[KeyImageTag] = "pr-7", "0123abcd"
	cfg, err := load(ctx)
	require.NoError(t, err)
	assert.Equal(t, "0123abcd", cfg.Backend.Image.Tag)
	assert.True(t, cfg.UsesImageRepository())
}

func TestStageOfACustomDevProfileEnvironment(t *testing.T) {
	ctx := withEnv(t, "staging", `{"profile":"dev","network":{"vpcCidr":"10.30.0.0/16"}}`)
	ctx[KeyStage] = "qa-1"
	cfg, err := load(ctx)
	require.NoError(t, err)
	assert.Equal(t, "staging", cfg.Environment())
	assert.Equal(t, "tsa-qa-1-data", cfg.StackName("data"))
	assert.Equal(t, "10.30.0.0/16", cfg.Network.VpcCidr)
}

func TestStagesRefused(t *testing.T) {
	const want = "is not a stage name; accepted: lower-case letters, digits and single hyphens"
	cases := []badCase{
		{name: "upper case", env: "dev", cli: m(KeyStage, "PR42"), want: want},
		{name: "two hyphens in a row (RDS identifiers refuse them)", env: "dev", cli: m(KeyStage, "pr--42"), want: want},
		{name: "trailing hyphen", env: "dev", cli: m(KeyStage, "pr42-"), want: want},
		{name: "leading digit", env: "dev", cli: m(KeyStage, "42"), want: want},
		{name: "underscore", env: "dev", cli: m(KeyStage, "pr_42"), want: want},
		{name: "dot", env: "dev", cli: m(KeyStage, "pr.42"), want: want},
		{name: "one character too long", env: "dev", cli: m(KeyStage, strings.Repeat("s", MaxStageLength+1)), want: "at most 50 characters (the longest name it reaches, tsa-<stage>-postgres, holds 63"},
		{name: "empty", env: "dev", cli: m(KeyStage, ""), want: "leave the key out"},
		{name: "not a string", env: "dev", cli: m(KeyStage, 42.0), want: "must be a stage name, got number 42"},
		{name: "an environment's name", env: "dev", cli: m(KeyStage, "prod"), want: "starts with \"prod\""},
		{name: "the environment itself", env: "dev", cli: m(KeyStage, "dev"), want: "\"dev\" is an environment of cdk.json; its stacks tsa-dev-* would be that environment's"},
		{name: "another environment", env: "dev", mutate: func(ctx map[string]any) {
			ctx[KeyEnvironments].(map[string]any)["qa"] = map[string]any{"profile": "dev", "network": map[string]any{"vpcCidr": "10.40.0.0/16"}}
		}, cli: m(KeyStage, "qa"), want: "\"qa\" is an environment of cdk.json"},
		{name: "a production name", env: "dev", cli: m(KeyStage, "prod-copy"), want: "names production environments"},
		// The production rule: a stage is no way around it.
		{name: "stage of prod", env: "prod", cli: m(KeyStage, "pr42"), want: "environment \"prod\" uses the prod profile; a stage is a disposable copy"},
		{name: "stage of a prod-profile environment", env: "staging", patch: `{"profile":"prod","network":{"vpcCidr":"10.30.0.0/16"}}`, cli: m(KeyStage, "pr42"), want: "uses the prod profile"},
		{name: "stage sharing an external database", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","cidr":"10.50.0.0/24"}}`, cli: m(KeyStage, "pr42"), want: "uses an external database, which its stages would share"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.setting = KeyStage
			cfg, err := loadCase(t, tc)
			require.Error(t, err, "accepted: %+v", cfg)
			var cerr *Error
			require.ErrorAs(t, err, &cerr)
			require.Len(t, cerr.Problems, 1, "%v", err)
			assert.Equal(t, KeyStage, cerr.Problems[0].Setting)
			assert.Contains(t, cerr.Problems[0].Message, tc.want)
			assert.Contains(t, err.Error(), "stage: ", "the message names the setting")
		})
	}
	for _, name := range []string{"PR42", "pr--42", "pr42-", "prod-copy", strings.Repeat("s", MaxStageLength+1)} {
		assert.False(t, IsStageName(name), name)
	}
}

// TestStageTagLimit: a stage's resources carry a third app tag, so its
// environment may have one user tag less.
func TestStageTagLimit(t *testing.T) {
	patch := `{"tags":{` + manyTags(48) + `}}`
	_, err := load(withEnv(t, "dev", patch))
	require.NoError(t, err, "48 user tags fit an environment")
	_, err = loadStage(t, "dev", "pr42", patch)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environments.dev.tags: 48 tags; accepted: at most 47")

	_, err = load(withEnv(t, "dev", `{"tags":{"stage":"x"}}`))
	require.Error(t, err, "stage is the app's tag")
	assert.Contains(t, err.Error(), "environments.dev.tags.stage: the app tags every resource")
}

func TestStageVPCMayRepeatItsEnvironments(t *testing.T) {
	// dev and a staging environment on the same block are refused (they
	// could never be peered); a stage of dev on dev's block is not.
	ctx := withEnv(t, "staging", `{"profile":"dev","network":{"vpcCidr":"10.10.0.0/16"}}`)
	_, err := load(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "overlaps environment \"dev\"")
	_, err = loadStage(t, "dev", "pr42", `{}`)
	assert.NoError(t, err)
}
