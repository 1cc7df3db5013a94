package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const root = ".."

// cdkFile is the project's cdk.json, decoded.
func cdkFile(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, ProjectFile))
	require.NoError(t, err)
	var file map[string]any
	require.NoError(t, json.Unmarshal(data, &file))
	return file
}

// cdkContext is the "context" object of the project's cdk.json.
func cdkContext(t testing.TB) map[string]any {
	t.Helper()
	return cdkFile(t)["context"].(map[string]any)
}

// withEnv returns a context for env whose settings are cdk.json's with the
// JSON patch merged in (objects merge, other values replace).
func withEnv(t testing.TB, env string, patch string) map[string]any {
	t.Helper()
	ctx := cdkContext(t)
	ctx[KeyEnv] = env
	editEnv(t, ctx, env, patch)
	return ctx
}

func editEnv(t testing.TB, ctx map[string]any, env, patch string) {
	t.Helper()
	envs := ctx[KeyEnvironments].(map[string]any)
	base, _ := envs[env].(map[string]any)
	if base == nil {
		base = map[string]any{}
	}
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(patch), &p))
	envs[env] = merge(base, p)
}

// load loads ctx as if its environments were cdk.json's: the context the
// CLI passes for an edited cdk.json.
func load(ctx map[string]any) (*Config, error) {
	envs, _ := ctx[KeyEnvironments].(map[string]any)
	return Load(ctx, envs, root)
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

func m(kv ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestCdkJSONEnvironmentsLoad(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		cfg, err := load(withEnv(t, env, `{}`))
		require.NoError(t, err, env)
		assert.Equal(t, env, cfg.Name)
		assert.Equal(t, env, cfg.Profile)
		assert.Equal(t, "tsa-"+env+"-network", cfg.StackName("network"))
	}
}

// TestCdkJSONIsStrictJSON: the project's own cdk.json has no key twice at
// any depth (a second "prod" would silently replace the first) and loads
// through the app's path.
func TestCdkJSONIsStrictJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, ProjectFile))
	require.NoError(t, err)
	_, err = decodeStrict(data)
	require.NoError(t, err)
	for _, env := range []string{"dev", "prod"} {
		_, err := LoadProject(map[string]any{KeyEnv: env}, root)
		assert.NoError(t, err, env)
	}
}

func TestDuplicateKeysAreRefusedAtAnyDepth(t *testing.T) {
	for name, doc := range map[string]string{
		"top level":        `{"app": "a", "app": "b"}`,
		"environment":      `{"context": {"environments": {"prod": {"profile": "prod"}, "prod": {"profile": "dev"}}}}`,
		"setting":          `{"context": {"environments": {"prod": {"database": {"deletionProtection": true, "deletionProtection": false}}}}}`,
		"object in a list": `{"context": {"x": [{"a": 1}, {"b": 1, "b": 2}]}}`,
		"feature flag":     `{"context": {"@aws-cdk/core:checkSecretUsage": true, "@aws-cdk/core:checkSecretUsage": false}}`,
	} {
		_, err := decodeStrict([]byte(doc))
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), "appears twice", name)
		}
	}
	_, err := decodeStrict([]byte(`{"a": {"b": 1}, "c": {"b": 1}}`))
	assert.NoError(t, err, "the same key in two objects is fine")
}

func TestDefaultEnvironmentIsDev(t *testing.T) {
	cfg, err := load(cdkContext(t))
	require.NoError(t, err)
	assert.Equal(t, "dev", cfg.Name)
	assert.False(t, cfg.Production())
}

func TestProfiles(t *testing.T) {
	dev, err := load(withEnv(t, "dev", `{}`))
	require.NoError(t, err)
	prod, err := load(withEnv(t, "prod", `{}`))
	require.NoError(t, err)

	assert.True(t, prod.Production())
	assert.True(t, prod.Database.MultiAz)
	assert.True(t, prod.Database.DeletionProtection)
	assert.GreaterOrEqual(t, prod.Network.NatGateways, 2, "a NAT gateway per zone in prod")
	assert.GreaterOrEqual(t, prod.Backend.MinCount, 2)
	assert.False(t, prod.Backend.Spot)

	assert.True(t, prod.Frontend.Waf.Enabled, "a WAF in front of production")
	assert.NotEmpty(t, prod.Frontend.AllowDefaultCertificate, "cdk.json's prod has no domain yet, and says why")
	assert.Equal(t, []string{"network", "data", "compute", "edge", "frontend"}, prod.StackParts())

	assert.False(t, dev.Database.MultiAz)
	assert.False(t, dev.Database.DeletionProtection)
	assert.False(t, dev.Frontend.Waf.Enabled, "the web ACL and its rules are $9 a month")
	assert.Equal(t, []string{"network", "data", "compute", "frontend"}, dev.StackParts())
	assert.NotEqual(t, dev.Network.VpcCidr, prod.Network.VpcCidr, "environments can be peered")
}

// TestProductionIsBoundToTheEnvironment: an environment named prod (or
// prod...) gets the prod profile whatever it says, the CLI cannot replace
// cdk.json's environments, and cdk.json cannot hold a second prod.
func TestProductionIsBoundToTheEnvironment(t *testing.T) {
	prodeu, err := load(withEnv(t, "prodeu", `{"network":{"vpcCidr":"10.40.0.0/16"},"frontend":{"allowDefaultCertificate":"`+defaultCertificateReason+`"}}`))
	require.NoError(t, err)
	assert.True(t, prodeu.Production(), "a prod-named environment without profile is production")

	_, err = load(withEnv(t, "prod", `{"profile":"dev"}`))
	assert.ErrorContains(t, err, "always uses the prod profile")

	ctx := withEnv(t, "prod", `{}`)
	cli := withEnv(t, "prod", `{"database":{"deletionProtection":false}}`)
	_, err = Load(cli, ctx[KeyEnvironments].(map[string]any), root)
	assert.ErrorContains(t, err, "environments are read from cdk.json only")

	data, err := os.ReadFile(filepath.Join(root, ProjectFile))
	require.NoError(t, err)
	twice := strings.Replace(string(data), `"prod": {`, `"prod": {"profile": "dev"}, "prod": {`, 1)
	require.NotEqual(t, string(data), twice)
	_, err = loadProject(map[string]any{KeyEnv: "prod"}, []byte(twice), root)
	assert.ErrorContains(t, err, `key "prod" appears twice`)
}

// TestNullIsHandledAsOnTheAppPath: jsii drops null map entries on their way
// to Go, so the loader drops them from any context too; in the environments
// (read from cdk.json by the loader itself) null is refused.
func TestNullIsHandledAsOnTheAppPath(t *testing.T) {
	ctx := withEnv(t, "dev", `{}`)
	plain, err := load(ctx)
	require.NoError(t, err)

	ctx[KeyImageTag] = nil
	withNull, err := load(ctx)
	require.NoError(t, err)
	assert.Equal(t, plain, withNull, "a null context key is absent, as jsii makes it")

	_, err = load(withEnv(t, "dev", `{"backend":{"cpu":null}}`))
	assert.ErrorContains(t, err, "environments.dev.backend.cpu: null is not a value")
}

// TestJsiiWireFormLoadsLikePlainValues: the app receives nested maps as
// {"$jsii.map": ...}; the loader unwraps them.
func TestJsiiWireFormLoadsLikePlainValues(t *testing.T) {
	ctx := withEnv(t, "prod", `{}`)
	plain, err := load(ctx)
	require.NoError(t, err)
	wired, err := Load(jsiiWire(ctx), ctx[KeyEnvironments].(map[string]any), root)
	require.NoError(t, err)
	assert.Equal(t, plain, wired)
}

// jsiiWire wraps every object below the top level as jsii hands maps to Go.
func jsiiWire(v any) any {
	var wrap func(v any, top bool) any
	wrap = func(v any, top bool) any {
		switch t := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range t {
				out[k] = wrap(e, false)
			}
			if top {
				return out
			}
			return map[string]any{"$jsii.map": out}
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = wrap(e, false)
			}
			return out
		}
		return v
	}
	return wrap(v, true)
}

// TestContextKeysOfCDKPass: feature flags, the CLI's own keys and cached
// lookups are CDK's business and pass.
func TestContextKeysOfCDKPass(t *testing.T) {
	ctx := withEnv(t, "dev", `{}`)
	for _, k := range append(FeatureFlags(), CDKSettingKeys()...) {
		ctx[k] = true
	}
	ctx["acknowledged-issue-numbers"] = []any{32775.0}
	ctx["availability-zones:account=123456789012:region=eu-west-1"] = []any{"eu-west-1a"}
	ctx["hosted-zone:account=123456789012:domainName=example.com:region=us-east-1"] = m("Id", "/hostedzone/Z1")
	ctx[cdkPrivatePrefix+"0.123:defaultStackSynthesizer"] = "x"
	_, err := load(ctx)
	assert.NoError(t, err)
}

func TestOverlapOnlyWithinOneAccountAndRegion(t *testing.T) {
	_, err := load(withEnv(t, "staging", `{"profile":"dev","account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"]}`))
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
	assert.False(t, dev.Monitoring.ContainerInsights, "Container Insights is ~38 custom metrics, $11.40 a month")
	assert.False(t, dev.Monitoring.OperationsKeyRotation, "the first two rotations add $2 a month")
	assert.Zero(t, dev.Database.MonitoringIntervalSeconds, "Enhanced Monitoring ingests OS metrics into CloudWatch Logs")
	assert.LessOrEqual(t, dev.Backend.LogRetentionDays, 14)

	prod := defaults(ProfileProd)
	assert.True(t, prod.Monitoring.ContainerInsights, "prod keeps its observability")
	assert.True(t, prod.Monitoring.OperationsKeyRotation)
	assert.Equal(t, 15, prod.Database.MonitoringIntervalSeconds)
}

func TestStagingInheritsItsProfile(t *testing.T) {
	cfg, err := load(withEnv(t, "staging", `{"profile":"prod","network":{"vpcCidr":"10.30.0.0/16"},"frontend":{"allowDefaultCertificate":"`+defaultCertificateReason+`"}}`))
	require.NoError(t, err)
	assert.Equal(t, "staging", cfg.Name)
	assert.True(t, cfg.Production())
	assert.Equal(t, "10.30.0.0/16", cfg.Network.VpcCidr)
	assert.Equal(t, "tsa-staging-data", cfg.StackName("data"))
}

func TestImageTagOverride(t *testing.T) {
	ctx := withEnv(t, "dev", `{}`)
	ctx[KeyImageTag] = "v1.4.2"
	cfg, err := load(ctx)
	require.NoError(t, err)
	assert.Equal(t, Image{Tag: "v1.4.2"}, cfg.Backend.Image, "a CLI tag replaces the local build")
	assert.True(t, cfg.UsesImageRepository())
}

func TestPinnedEnvironment(t *testing.T) {
	cfg, err := load(withEnv(t, "dev", `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"]}`))
	require.NoError(t, err)
	assert.True(t, cfg.PinnedEnvironment())
	assert.Equal(t, 2, cfg.AzCount())
}

// TestTimescaleEngine: a pinned environment runs the timescaledb tier with
// its zone written out; dev takes no volume snapshots (nothing blocks `cdk
// destroy`) and every profile archives for point-in-time recovery.
func TestTimescaleEngine(t *testing.T) {
	pinned := `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"]%s}`
	// The whole database block is replaced: rds-postgres settings in cdk.json
	// are refused under another engine.
	withTimescale := func(env, patch, timescale string) map[string]any {
		ctx := withEnv(t, env, fmt.Sprintf(pinned, patch))
		var db map[string]any
		require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1b"%s}}`, timescale)), &db))
		ctx[KeyEnvironments].(map[string]any)[env].(map[string]any)["database"] = db
		return ctx
	}
	dev, err := load(withTimescale("dev", `,"network":{"natGateways":1},"backend":{"assignPublicIp":false}`, ``))
	require.NoError(t, err)
	ts := dev.Database.Timescale
	assert.Equal(t, "eu-west-1b", ts.AvailabilityZone)
	assert.Equal(t, 0, ts.BackupRetentionDays, "dev: no AWS Backup vault")
	assert.Equal(t, TimescalePitr{RetentionDays: 7, FullBackupWeekday: "Sun", BackupHourUtc: 2}, ts.Pitr)
	assert.Empty(t, ts.Restore.TargetTime)

	prod, err := load(withTimescale("prod", ``, `,"amiId":"ami-0123456789abcdef0","restore":{"targetTime":"2026-11-28T09:30:00Z"}`))
	require.NoError(t, err)
	ts = prod.Database.Timescale
	assert.Equal(t, 35, ts.BackupRetentionDays)
	assert.Equal(t, 14, ts.Pitr.RetentionDays)
	assert.Equal(t, "2026-11-28T09:30:00Z", ts.Restore.TargetTime)
}

func TestExternalEngine(t *testing.T) {
	ctx := withEnv(t, "dev", `{}`)
	ctx[KeyEnvironments].(map[string]any)["dev"].(map[string]any)["database"] = m("engine", "external", "external", m("secretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:tsa/db-AbCdEf", "cidr", "10.50.0.0/24", "host", "db.example.internal"))
	cfg, err := load(ctx)
	require.NoError(t, err)
	assert.Equal(t, EngineExternal, cfg.Database.Engine)
	assert.Equal(t, ExternalCASystem, cfg.Database.External.CACertificate, "the public CAs by default (Timescale Cloud)")
	assert.Equal(t, "tsa", cfg.Database.DatabaseName)
}

// TestValidInputIsAccepted: inputs AWS accepts that a stricter reading
// would refuse.
func TestValidInputIsAccepted(t *testing.T) {
	const cert = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
	pinned := func(region string, zones ...string) string {
		data, _ := json.Marshal(zones)
		return `"account":"123456789012","region":"` + region + `","availabilityZones":` + string(data)
	}
	cases := map[string]struct{ env, patch string }{
		// Tag values are limited to 256 Unicode characters, not bytes.
		"tag value of 256 multi-byte characters": {"dev", `{"tags":{"team":"` + strings.Repeat("é", 256) + `"}}`},
		"tag key of 128 multi-byte characters":   {"dev", `{"tags":{"` + strings.Repeat("ü", 128) + `":"x"}}`},
		"48 user tags":                           {"dev", `{"tags":{` + manyTags(48) + `}}`},
		// DNS names compare case-insensitively; a zone name may end in a dot.
		"hosted zone name in upper case with a dot": {"prod", `{"frontend":{"domainName":"app.example.com","certificateArn":"` + cert + `","hostedZoneId":"Z0123456789ABC","hostedZoneName":"Example.COM."}}`},
		"domain name in mixed case":                 {"prod", `{"frontend":{"domainName":"App.Example.com","certificateArn":"` + cert + `","hostedZoneId":"Z0123456789ABC","hostedZoneName":"example.com"}}`},
		"domain of 253 characters":                  {"prod", `{"frontend":{"domainName":"` + longName(253) + `","certificateArn":"` + cert + `"}}`},
		"certificate of the pinned account":         {"prod", `{` + pinned("eu-west-1", "eu-west-1a", "eu-west-1b") + `,"frontend":{"domainName":"app.example.com","certificateArn":"` + cert + `"}}`},
		"us-east-1f":                                {"dev", `{` + pinned("us-east-1", "us-east-1a", "us-east-1f") + `}`},
		"ca-central-1d":                             {"dev", `{` + pinned("ca-central-1", "ca-central-1a", "ca-central-1d") + `}`},
		"prod in 3 zones with 3 NAT gateways":       {"prod", `{` + pinned("eu-west-1", "eu-west-1a", "eu-west-1b", "eu-west-1c") + `,"network":{"natGateways":3}}`},
		"subnets of /27":                            {"dev", `{"network":{"subnetCidrMask":27}}`},
		"largest class memory threshold":            {"prod", `{"monitoring":{"dbFreeableMemoryMiB":8191,"dbConnections":901}}`},
		"a key word PostgreSQL does not reserve":    {"dev", `{"database":{"databaseName":"data"}}`},
		"newest PostgreSQL minor":                   {"dev", `{"database":{"engineVersion":"18.3"}}`},
		"WAF in dev, tightest rate":                 {"dev", `{"frontend":{"waf":{"enabled":true,"apiRateLimit":10,"rateWindowSeconds":60}}}`},
		"WAF at the highest rate limit":             {"prod", `{"frontend":{"waf":{"apiRateLimit":2000000000,"rateWindowSeconds":600}}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := withEnv(t, tc.env, tc.patch)
			if strings.Contains(tc.patch, `"domainName"`) {
				// With a domain, cdk.json's reason for the default
				// certificate is refused as having no effect.
				delete(ctx[KeyEnvironments].(map[string]any)[tc.env].(map[string]any)["frontend"].(map[string]any), "allowDefaultCertificate")
			}
			cfg, err := load(ctx)
			require.NoError(t, err)
			assert.Equal(t, strings.ToLower(cfg.Frontend.DomainName), cfg.Frontend.DomainName, "DNS names are handed on in lower case")
			assert.False(t, strings.HasSuffix(cfg.Frontend.HostedZoneName, "."))
		})
	}
}

func manyTags(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"k`+strings.Repeat("x", i)+`":"v"`)
	}
	return strings.Join(parts, ",")
}

// longName is a DNS name of n characters ending in .example.com.
func longName(n int) string {
	const suffix = ".example.com"
	var labels []string
	left := n - len(suffix)
	for left > 0 {
		l := min(63, left)
		if left-l == 1 { // a label needs a dot before it
			l--
		}
		labels = append(labels, strings.Repeat("a", l))
		left -= l + 1
	}
	return strings.Join(labels, ".") + suffix
}

// badCase is one refused configuration: edits of cdk.json (patch merged into
// the environment, db replacing its database block, edit on the context,
// file on the text) and what the CLI adds to the context (-c flags,
// cdk.context.json), run through the app's own path (loadProject).
type badCase struct {
	name    string
	env     string
	patch   string
	db      string
	mutate  func(ctx map[string]any)
	file    func(text string) string
	cli     map[string]any
	setting string
	want    string
}

const (
	secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	cert   = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
)

// TestInvalidConfigurations is the table of refused inputs: each one stops
// synthesis with a message that names the setting and what it accepts.
func TestInvalidConfigurations(t *testing.T) {
	cases := []badCase{
		{name: "unknown environment", env: "qa", mutate: func(ctx map[string]any) { delete(ctx[KeyEnvironments].(map[string]any), "qa") }, setting: "env", want: "accepted: dev, prod"},
		{name: "environment name not a name", env: "dev", cli: m(KeyEnv, "Dev_1"), setting: "env", want: "lower-case letters and digits"},
		{name: "environment not an object", env: "dev", mutate: func(ctx map[string]any) { ctx[KeyEnvironments].(map[string]any)["dev"] = "small" }, setting: "environments.dev", want: "must be an object"},
		{name: "no environments", env: "dev", mutate: func(ctx map[string]any) { ctx[KeyEnvironments] = map[string]any{} }, setting: "environments", want: "no environments defined"},
		{name: "custom environment without profile", env: "qa", patch: `{}`, setting: "environments.qa.profile", want: "accepted: dev, prod"},
		{name: "unknown profile", env: "dev", patch: `{"profile":"staging"}`, setting: "environments.dev.profile", want: "accepted: dev, prod"},
		{name: "unknown top-level key", env: "dev", patch: `{"vpc":{}}`, setting: "environments.dev.vpc", want: "unknown setting; accepted: account, availabilityZones"},
		{name: "unknown nested key", env: "dev", patch: `{"backend":{"cpus":512}}`, setting: "environments.dev.backend.cpus", want: "accepted: assignPublicIp, cpu,"},
		{name: "section not an object", env: "dev", patch: `{"network":"10.0.0.0/16"}`, setting: "environments.dev.network", want: "must be an object"},
		{name: "string where a number goes", env: "dev", patch: `{"backend":{"cpu":"256"}}`, setting: "environments.dev.backend.cpu", want: "expected a whole number, got string"},
		{name: "fraction where a whole number goes", env: "dev", patch: `{"backend":{"desiredCount":1.5}}`, setting: "environments.dev.backend.desiredCount", want: "expected a whole number"},
		{name: "number where a boolean goes", env: "dev", patch: `{"database":{"multiAz":1}}`, setting: "environments.dev.database.multiAz", want: "expected true or false"},
		{name: "account malformed", env: "dev", patch: `{"account":"12345","region":"us-east-1","availabilityZones":["us-east-1a","us-east-1b"]}`, setting: "environments.dev.account", want: "12 digits"},
		{name: "region malformed", env: "dev", patch: `{"account":"123456789012","region":"US-East","availabilityZones":["us-east-1a","us-east-1b"]}`, setting: "environments.dev.region", want: "not a region aws-cdk-lib 2.276 knows"},
		{name: "account without region", env: "dev", patch: `{"account":"123456789012"}`, setting: "environments.dev.account", want: "must be set together"},
		{name: "pinned region without zones", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1"}`, setting: "environments.dev.availabilityZones", want: "required when a region is pinned"},
		{name: "zone outside region", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","us-east-1b"]}`, setting: "environments.dev.availabilityZones", want: "not in region eu-west-1"},
		{name: "one zone", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a"]}`, setting: "environments.dev.availabilityZones", want: "accepted: 2 or 3"},
		{name: "zones without a pinned region", env: "dev", patch: `{"availabilityZones":["us-east-1a","us-east-1b"]}`, setting: "environments.dev.availabilityZones", want: "only allowed with a pinned account and region"},
		{name: "maxAzs out of range", env: "dev", patch: `{"network":{"maxAzs":1}}`, setting: "environments.dev.network.maxAzs", want: "accepted: 2 ("},
		{name: "malformed CIDR", env: "dev", patch: `{"network":{"vpcCidr":"10.0.0/16"}}`, setting: "environments.dev.network.vpcCidr", want: "not an IPv4 CIDR block"},
		{name: "CIDR with host bits", env: "dev", patch: `{"network":{"vpcCidr":"10.0.1.0/16"}}`, setting: "environments.dev.network.vpcCidr", want: "did you mean 10.0.0.0/16"},
		{name: "CIDR too large", env: "dev", patch: `{"network":{"vpcCidr":"10.0.0.0/8"}}`, setting: "environments.dev.network.vpcCidr", want: "/16 to /24"},
		{name: "public CIDR", env: "dev", patch: `{"network":{"vpcCidr":"8.8.0.0/16"}}`, setting: "environments.dev.network.vpcCidr", want: "not inside a private range"},
		{name: "CIDR overlaps another environment", env: "staging", patch: `{"profile":"prod","network":{"vpcCidr":"10.20.128.0/20"},"frontend":{"allowDefaultCertificate":"` + defaultCertificateReason + `"}}`, setting: "environments.staging.network.vpcCidr", want: "overlaps environment \"prod\" (10.20.0.0/16)"},
		{name: "subnets do not fit", env: "dev", patch: `{"network":{"vpcCidr":"10.0.0.0/22","natGateways":1},"backend":{"assignPublicIp":false}}`, setting: "environments.dev.network.subnetCidrMask", want: "6 subnets of /24 (3 subnet groups x 2 zones) do not fit in 10.0.0.0/22"},
		{name: "more NAT gateways than zones", env: "dev", patch: `{"network":{"natGateways":3},"backend":{"assignPublicIp":false}}`, setting: "environments.dev.network.natGateways", want: "accepted: 0 to 2"},
		{name: "prod with one NAT gateway", env: "prod", patch: `{"network":{"natGateways":1}}`, setting: "environments.prod.network.natGateways", want: "one NAT gateway per zone (2 zones, 1 gateways)"},
		{name: "flow log retention not a CloudWatch value", env: "dev", patch: `{"network":{"flowLogRetentionDays":10}}`, setting: "environments.dev.network.flowLogRetentionDays", want: "accepted: 1, 3, 5, 7, 14"},
		{name: "unknown engine", env: "dev", patch: `{"database":{"engine":"aurora"}}`, setting: "environments.dev.database.engine", want: "accepted: rds-postgres, timescaledb, external"},
		{name: "DB class malformed", env: "dev", patch: `{"database":{"instanceClass":"t4g.micro"}}`, setting: "environments.dev.database.instanceClass", want: "not an RDS for PostgreSQL instance class"},
		{name: "burstable DB class in prod", env: "prod", patch: `{"database":{"instanceClass":"db.t4g.large"}}`, setting: "environments.prod.database.instanceClass", want: "burstable"},
		{name: "engine version not pinned", env: "dev", patch: `{"database":{"engineVersion":"17"}}`, setting: "environments.dev.database.engineVersion", want: "not a pinned PostgreSQL minor version"},
		{name: "engine version too old", env: "dev", patch: `{"database":{"engineVersion":"13.4"}}`, setting: "environments.dev.database.engineVersion", want: "accepted: 16.6, 16.8"},
		{name: "storage below RDS minimum", env: "dev", patch: `{"database":{"allocatedStorageGiB":10}}`, setting: "environments.dev.database.allocatedStorageGiB", want: "accepted: 20 to 65536"},
		{name: "max storage below allocated", env: "dev", patch: `{"database":{"allocatedStorageGiB":100,"maxAllocatedStorageGiB":50}}`, setting: "environments.dev.database.maxAllocatedStorageGiB", want: "at least 10% above"},
		{name: "backup retention too long", env: "dev", patch: `{"database":{"backupRetentionDays":40}}`, setting: "environments.dev.database.backupRetentionDays", want: "accepted: 1 to 35"},
		{name: "prod backups too short", env: "prod", patch: `{"database":{"backupRetentionDays":3}}`, setting: "environments.prod.database.backupRetentionDays", want: "accepted: 7 to 35"},
		{name: "monitoring interval", env: "dev", patch: `{"database":{"monitoringIntervalSeconds":20}}`, setting: "environments.dev.database.monitoringIntervalSeconds", want: "accepted: 0, 1, 5, 10, 15, 30, 60"},
		{name: "prod without deletion protection", env: "prod", patch: `{"database":{"deletionProtection":false}}`, setting: "environments.prod.database.deletionProtection", want: "must be true"},
		{name: "prod without Multi-AZ", env: "prod", patch: `{"database":{"multiAz":false}}`, setting: "environments.prod.database.multiAz", want: "must be true"},
		{name: "prod without key rotation", env: "prod", patch: `{"monitoring":{"operationsKeyRotation":false}}`, setting: "environments.prod.monitoring.operationsKeyRotation", want: "must be true"},
		{name: "reserved database name", env: "dev", patch: `{"database":{"databaseName":"postgres"}}`, setting: "environments.dev.database.databaseName", want: "reserved"},
		{name: "database name shape", env: "dev", patch: `{"database":{"databaseName":"1-data"}}`, setting: "environments.dev.database.databaseName", want: "starting with a letter"},
		{name: "external without secret", env: "dev", db: `{"engine":"external","external":{"cidr":"10.50.0.0/24"}}`, setting: "environments.dev.database.external.secretArn", want: "required for engine external"},
		{name: "external bad secret ARN", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:s3:::bucket","cidr":"10.50.0.0/24"}}`, setting: "environments.dev.database.external.secretArn", want: "not a Secrets Manager secret ARN"},
		{name: "external without network", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}}`, setting: "environments.dev.database.external.securityGroupId", want: "needs securityGroupId or cidr"},
		{name: "external open to the world", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","cidr":"0.0.0.0/0"}}`, setting: "environments.dev.database.external.cidr", want: "name the database's network"},
		{name: "timescale on x86", env: "dev", db: `{"engine":"timescaledb","timescale":{"instanceType":"m7i.large"}}`, setting: "environments.dev.database.timescale.instanceType", want: "Graviton"},
		{name: "timescale version unpinned", env: "dev", db: `{"engine":"timescaledb","timescale":{"timescaleVersion":"latest"}}`, setting: "environments.dev.database.timescale.timescaleVersion", want: "pinned TimescaleDB 2.x"},
		{name: "timescale burstable in prod", env: "prod", db: `{"engine":"timescaledb","timescale":{"instanceType":"t4g.large"}}`, setting: "environments.prod.database.timescale.instanceType", want: "burstable"},
		{name: "timescale backups too short in prod", env: "prod", db: `{"engine":"timescaledb","timescale":{"backupRetentionDays":3}}`, setting: "environments.prod.database.timescale.backupRetentionDays", want: "accepted: 7 to 35"},
		{name: "external port", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","cidr":"10.50.0.0/24","port":0}}`, setting: "environments.dev.database.external.port", want: "accepted: 1 to 65535"},
		{name: "external security group malformed", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","securityGroupId":"group-1"}}`, setting: "environments.dev.database.external.securityGroupId", want: "not a security group ID"},
		{name: "external security group and CIDR", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","securityGroupId":"sg-0123456789abcdef0","cidr":"10.50.0.0/24"}}`, setting: "environments.dev.database.external.securityGroupId", want: "not both"},
		{name: "timescale AMI malformed", env: "dev", patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"amiId":"ubuntu"}}`, setting: "environments.dev.database.timescale.amiId", want: "not an AMI ID"},
		{name: "timescale AMI without region", env: "dev", patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"amiId":"ami-0123456789abcdef0"}}`, setting: "environments.dev.database.timescale.amiId", want: "belongs to one region"},
		{name: "timescale unpinned", env: "dev", patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb"}`, setting: "environments.dev.database.timescale.availabilityZone", want: "pin account, region and availabilityZones"},
		{name: "timescale zone missing", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb"}`, setting: "environments.dev.database.timescale.availabilityZone", want: "required for engine timescaledb: the zone of the data volume and the host; accepted: eu-west-1a, eu-west-1b"},
		{name: "timescale zone not pinned", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1c"}}`, setting: "environments.dev.database.timescale.availabilityZone", want: "not one of availabilityZones; accepted: eu-west-1a, eu-west-1b"},
		{name: "timescale prod without AMI", env: "prod", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"]}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","instanceType":"m7g.large"}}`, setting: "environments.prod.database.timescale.amiId", want: "required in a prod-profile environment"},
		{name: "timescale EBS key malformed", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","ebsKmsKeyArn":"alias/aws/ebs"}}`, setting: "environments.dev.database.timescale.ebsKmsKeyArn", want: "not a KMS key ARN"},
		{name: "timescale EBS key other region", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","ebsKmsKeyArn":"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}`, setting: "environments.dev.database.timescale.ebsKmsKeyArn", want: "only use a key of their own region"},
		{name: "timescale snapshots negative", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","backupRetentionDays":-1}}`, setting: "environments.dev.database.timescale.backupRetentionDays", want: "accepted: 0 (no volume snapshots) to 35"},
		{name: "timescale minor negative", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","postgresMinor":-1}}`, setting: "environments.dev.database.timescale.postgresMinor", want: "accepted: 0 to 99"},
		{name: "pitr retention zero", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","pitr":{"retentionDays":0}}}`, setting: "environments.dev.database.timescale.pitr.retentionDays", want: "accepted: 1 to 365"},
		{name: "pitr retention short in prod", env: "prod", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"]}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","amiId":"ami-0123456789abcdef0","pitr":{"retentionDays":3}}}`, setting: "environments.prod.database.timescale.pitr.retentionDays", want: "accepted: 7 to 365"},
		{name: "pitr weekday", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","pitr":{"fullBackupWeekday":"Sunday"}}}`, setting: "environments.dev.database.timescale.pitr.fullBackupWeekday", want: "accepted: Mon, Tue, Wed, Thu, Fri, Sat, Sun"},
		{name: "pitr hour", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","pitr":{"backupHourUtc":24}}}`, setting: "environments.dev.database.timescale.pitr.backupHourUtc", want: "accepted: 0 to 23"},
		{name: "restore time malformed", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","restore":{"targetTime":"yesterday 9:30"}}}`, setting: "environments.dev.database.timescale.restore.targetTime", want: "not an RFC 3339 time"},
		{name: "restore time in the future", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, db: `{"engine":"timescaledb","timescale":{"availabilityZone":"eu-west-1a","restore":{"targetTime":"2999-01-01T00:00:00Z"}}}`, setting: "environments.dev.database.timescale.restore.targetTime", want: "in the future"},
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
		{name: "timescaledb without NAT", env: "dev", db: `{"engine":"timescaledb"}`, setting: "environments.dev.database.engine", want: "needs network.natGateways"},
		{name: "scaling target", env: "dev", patch: `{"backend":{"targetCpuPercent":95}}`, setting: "environments.dev.backend.targetCpuPercent", want: "accepted: 10 to 90"},
		{name: "image source ambiguous", env: "dev", patch: `{"backend":{"image":{"directory":"apps/backend","tag":"v1"}}}`, setting: "environments.dev.backend.image", want: "not both"},
		{name: "image source missing", env: "dev", patch: `{"backend":{"image":{"directory":""}}}`, setting: "environments.dev.backend.image", want: "-c imageTag=TAG"},
		{name: "image directory without Dockerfile", env: "dev", patch: `{"backend":{"image":{"directory":"apps/frontend"}}}`, setting: "environments.dev.backend.image.directory", want: "has no Dockerfile"},
		{name: "image tag latest", env: "dev", cli: m(KeyImageTag, "latest"), setting: "environments.dev.backend.image.tag", want: "not \"latest\""},
		{name: "image tag not a string", env: "dev", cli: m(KeyImageTag, 12.0), setting: "imageTag", want: "must be an image tag"},
		{name: "frontend directory without index.html", env: "dev", patch: `{"frontend":{"sourceDir":"apps/backend"}}`, setting: "environments.dev.frontend.sourceDir", want: "has no index.html"},
		{name: "domain without certificate", env: "dev", patch: `{"frontend":{"domainName":"app.example.com"}}`, setting: "environments.dev.frontend.certificateArn", want: "required with frontend.domainName"},
		{name: "certificate without domain", env: "dev", patch: `{"frontend":{"certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}`, setting: "environments.dev.frontend.certificateArn", want: "set without frontend.domainName"},
		{name: "certificate outside us-east-1", env: "dev", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}`, setting: "environments.dev.frontend.certificateArn", want: "only uses ACM certificates from us-east-1"},
		{name: "certificate ARN malformed", env: "dev", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"arn:aws:acm:us-east-1:123:cert"}}`, setting: "environments.dev.frontend.certificateArn", want: "not an ACM certificate ARN"},
		{name: "domain malformed", env: "dev", patch: `{"frontend":{"domainName":"App_Example","certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}`, setting: "environments.dev.frontend.domainName", want: "not a DNS name"},
		{name: "domain outside hosted zone", env: "dev", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012","hostedZoneId":"Z0123456789ABC","hostedZoneName":"example.org"}}`, setting: "environments.dev.frontend.domainName", want: "not inside hosted zone"},
		{name: "hosted zone half set", env: "dev", patch: `{"frontend":{"hostedZoneId":"Z0123456789ABC"}}`, setting: "environments.dev.frontend.hostedZoneId", want: "must be set together"},
		{name: "price class", env: "dev", patch: `{"frontend":{"priceClass":"cheap"}}`, setting: "environments.dev.frontend.priceClass", want: "accepted: PriceClass_100, PriceClass_200, PriceClass_All"},
		{name: "alarm e-mail", env: "dev", patch: `{"monitoring":{"alarmEmail":"oncall at example"}}`, setting: "environments.dev.monitoring.alarmEmail", want: "not an e-mail address"},
		{name: "alarm percent", env: "dev", patch: `{"monitoring":{"alb5xxPercent":150}}`, setting: "environments.dev.monitoring.alb5xxPercent", want: "at most 100"},
		{name: "free storage alarm above storage", env: "dev", patch: `{"monitoring":{"dbFreeStorageGiB":25}}`, setting: "environments.dev.monitoring.dbFreeStorageGiB", want: "would alarm at once"},
		{name: "tag key reserved", env: "dev", patch: `{"tags":{"aws:owner":"me"}}`, setting: "environments.dev.tags.aws:owner", want: "reserved for AWS"},
		// One rule for production: its protections cannot be taken away.
		{name: "prod choosing the dev profile", env: "prod", patch: `{"profile":"dev"}`, setting: "environments.prod.profile", want: "always uses the prod profile"},
		{name: "prod-named environment choosing the dev profile", env: "prodeu", patch: `{"profile":"dev","network":{"vpcCidr":"10.40.0.0/16"}}`, setting: "environments.prodeu.profile", want: "would take away deletion protection"},
		{name: "environments replaced on the command line", env: "prod", cli: m(KeyEnvironments, `{"prod":{"profile":"dev"}}`), setting: "environments", want: "environments are read from cdk.json only"},
		{name: "environments changed in cdk.context.json", env: "prod", cli: m(KeyEnvironments, m("prod", m("profile", "prod", "database", m("deletionProtection", false)))), setting: "environments", want: "no -c environments=..., cdk.context.json or ~/.cdk.json can replace or extend them"},
		{name: "second prod key in cdk.json", env: "prod", file: func(s string) string {
			return strings.Replace(s, `"prod":{`, `"prod":{"profile":"dev"},"prod":{`, 1)
		}, setting: "cdk.json", want: `key "prod" appears twice`},
		{name: "setting given twice in cdk.json", env: "prod", file: func(s string) string {
			return strings.Replace(s, `"deletionProtection":true`, `"deletionProtection":true,"deletionProtection":false`, 1)
		}, setting: "cdk.json", want: `key "deletionProtection" appears twice (context.environments.prod.database.deletionProtection)`},

		// Every context key accounted for.
		{name: "mis-cased -c key", env: "dev", cli: m("imagetag", "v1"), setting: "imagetag", want: "did you mean imageTag?"},
		{name: "upper-case -c key", env: "dev", cli: m("Env", "prod"), setting: "Env", want: "did you mean env?"},
		{name: "dotted -c path to a setting", env: "prod", cli: m("environments.prod.database.deletionProtection", "false"), setting: "environments.prod.database.deletionProtection", want: "settings cannot be set with -c; edit environments.<env>.database.deletionProtection in cdk.json"},
		{name: "dotted -c path to nothing", env: "dev", cli: m("backend.cpus", "512"), setting: "backend.cpus", want: "a dotted path does not reach into environments"},
		{name: "unknown -c key", env: "dev", cli: m("region", "eu-west-1"), setting: "region", want: "unknown context key; this app reads ci, env, environments, frontendDir, github, imageTag, stage"},
		{name: "misspelt feature flag", env: "dev", mutate: func(ctx map[string]any) { ctx["@aws-cdk/aws-s3:createDefaultLogingPolicy"] = true }, setting: "@aws-cdk/aws-s3:createDefaultLogingPolicy", want: "did you mean @aws-cdk/aws-s3:createDefaultLoggingPolicy?"},
		{name: "flag aws-cdk-lib does not have", env: "dev", mutate: func(ctx map[string]any) { ctx["@aws-cdk/core:madeUp"] = true }, setting: "@aws-cdk/core:madeUp", want: "not a feature flag or setting of aws-cdk-lib 2.276"},
		{name: "zone fallback for agnostic stacks", env: "dev", cli: m("aws:cdk:availability-zones:fallback", []any{"us-east-1a", "us-east-1b", "us-east-1c"}), setting: "aws:cdk:availability-zones:fallback", want: "remove the key"},
		{name: "null setting in cdk.json", env: "dev", patch: `{"backend":{"cpu":null}}`, setting: "environments.dev.backend.cpu", want: "null is not a value"},
		{name: "empty image tag", env: "dev", cli: m(KeyImageTag, ""), setting: "imageTag", want: "leave the key out"},

		// Settings of an engine that is not selected.
		{name: "external block under rds-postgres", env: "dev", patch: `{"database":{"external":{"cidr":"10.50.0.0/24"}}}`, setting: "environments.dev.database.external", want: "read only by database.engine external, and this environment's engine is rds-postgres"},
		{name: "timescale block under rds-postgres", env: "prod", patch: `{"database":{"timescale":{"instanceType":"m7g.large"}}}`, setting: "environments.prod.database.timescale", want: "read only by database.engine timescaledb"},
		{name: "timescale block under external", env: "dev", db: `{"engine":"external","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24"},"timescale":{"amiId":"ami-0123456789abcdef0"}}`, setting: "environments.dev.database.timescale", want: "this environment's engine is external"},
		{name: "RDS setting under timescaledb", env: "prod", db: `{"engine":"timescaledb","multiAz":true}`, setting: "environments.prod.database.multiAz", want: "read only by database.engine rds-postgres"},
		{name: "RDS class under external", env: "dev", db: `{"engine":"external","instanceClass":"db.t4g.micro","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24"}}`, setting: "environments.dev.database.instanceClass", want: "read only by database.engine rds-postgres"},
		{name: "database name under external", env: "dev", db: `{"engine":"external","databaseName":"select","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24","host":"db.example.internal"}}`, setting: "environments.dev.database.databaseName", want: "reserved key word"},
		{name: "external without host", env: "dev", db: `{"engine":"external","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24"}}`, setting: "environments.dev.database.external.host", want: "required for engine external: the database's DNS name"},
		{name: "external host not a DNS name", env: "dev", db: `{"engine":"external","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24","host":"db_1"}}`, setting: "environments.dev.database.external.host", want: "not a DNS name"},
		{name: "external CA neither choice nor PEM", env: "dev", db: `{"engine":"external","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24","host":"db.example.internal","caCertificate":"public"}}`, setting: "environments.dev.database.external.caCertificate", want: `accepted: "system" (public CAs), "rds"`},
		{name: "external CA empty", env: "dev", db: `{"engine":"external","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24","host":"db.example.internal","caCertificate":""}}`, setting: "environments.dev.database.external.caCertificate", want: "must not be empty"},
		{name: "external CA that is a key", env: "dev", db: `{"engine":"external","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24","host":"db.example.internal","caCertificate":` + jsonString(keyPEM) + `}}`, setting: "environments.dev.database.external.caCertificate", want: "only CERTIFICATE blocks are accepted (never a key)"},
		{name: "external CA that is a server certificate", env: "dev", db: `{"engine":"external","external":{"secretArn":"` + secret + `","cidr":"10.50.0.0/24","host":"db.example.internal","caCertificate":` + jsonString(leafPEM) + `}}`, setting: "environments.dev.database.external.caCertificate", want: "is not a CA certificate"},
		{name: "prod on AWS-managed keys", env: "prod", patch: `{"encryption":{"customerManagedKeys":false}}`, setting: "environments.prod.encryption.customerManagedKeys", want: "must be true in a prod-profile environment"},
		{name: "RDS alarm under timescaledb", env: "prod", db: `{"engine":"timescaledb"}`, patch: `{"monitoring":{"dbConnections":100}}`, setting: "environments.prod.monitoring.dbConnections", want: "read only by database.engine rds-postgres"},

		{name: "prod without a domain or a reason", env: "prod", mutate: dropDefaultCertificateReason("prod"), setting: "environments.prod.frontend.domainName", want: "required in a prod-profile environment: with a custom domain (and certificateArn) the distribution only accepts TLS 1.2 and later"},
		{name: "default certificate without a reason", env: "prod", patch: `{"frontend":{"allowDefaultCertificate":"yes"}}`, setting: "environments.prod.frontend.allowDefaultCertificate", want: "is not a reason; accepted: a sentence of 20 to 500 characters"},
		{name: "default certificate reason of blanks", env: "prod", patch: `{"frontend":{"allowDefaultCertificate":"` + strings.Repeat(" ", 30) + `"}}`, setting: "environments.prod.frontend.allowDefaultCertificate", want: "is not a reason"},
		{name: "default certificate reason not a string", env: "prod", patch: `{"frontend":{"allowDefaultCertificate":true}}`, setting: "environments.prod.frontend.allowDefaultCertificate", want: "expected a string, got bool"},
		{name: "default certificate reason beside a domain", env: "prod", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"` + cert + `"}}`, setting: "environments.prod.frontend.allowDefaultCertificate", want: "has no effect with frontend.domainName \"app.example.com\""},
		{name: "default certificate reason in dev", env: "dev", patch: `{"frontend":{"allowDefaultCertificate":"dev has no domain and never will"}}`, setting: "environments.dev.frontend.allowDefaultCertificate", want: "only a prod-profile environment needs a reason"},
		{name: "prod without WAF", env: "prod", patch: `{"frontend":{"waf":{"enabled":false}}}`, setting: "environments.prod.frontend.waf.enabled", want: "must be true in a prod-profile environment"},
		{name: "WAF rate limit below AWS's minimum", env: "dev", patch: `{"frontend":{"waf":{"enabled":true,"apiRateLimit":5}}}`, setting: "environments.dev.frontend.waf.apiRateLimit", want: "accepted: 10 to 2000000000"},
		{name: "WAF window AWS does not offer", env: "dev", patch: `{"frontend":{"waf":{"rateWindowSeconds":30}}}`, setting: "environments.dev.frontend.waf.rateWindowSeconds", want: "accepted: 60, 120, 300, 600"},
		{name: "WAF setting misspelt", env: "dev", patch: `{"frontend":{"waf":{"apiRateLimits":100}}}`, setting: "environments.dev.frontend.waf.apiRateLimits", want: "did you mean apiRateLimit?"},
		// Value sets from their sources.
		{name: "region aws-cdk-lib does not know", env: "dev", patch: `{"account":"123456789012","region":"eu-west-9","availabilityZones":["eu-west-9a","eu-west-9b"]}`, setting: "environments.dev.region", want: "not a region aws-cdk-lib 2.276 knows"},
		{name: "region near miss", env: "dev", patch: `{"account":"123456789012","region":"us-east1","availabilityZones":["us-east1a","us-east1b"]}`, setting: "environments.dev.region", want: "did you mean us-east-1?"},
		{name: "zone in upper case", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["EU-WEST-1A","eu-west-1b"]}`, setting: "environments.dev.availabilityZones", want: "did you mean eu-west-1a?"},
		{name: "zone the region does not have", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1d"]}`, setting: "environments.dev.availabilityZones", want: "eu-west-1 has no zone \"eu-west-1d\"; accepted: eu-west-1a, eu-west-1b, eu-west-1c"},
		{name: "local zone", env: "dev", patch: `{"account":"123456789012","region":"us-east-1","availabilityZones":["us-east-1a","us-east-1-bos-1a"]}`, setting: "environments.dev.availabilityZones", want: "Local or Wavelength Zone"},
		{name: "RDS class family unknown", env: "dev", patch: `{"database":{"instanceClass":"db.m9g.large"}}`, setting: "environments.dev.database.instanceClass", want: "not an RDS for PostgreSQL instance class"},
		{name: "RDS class size the family lacks", env: "dev", patch: `{"database":{"instanceClass":"db.m7g.24xlarge"}}`, setting: "environments.dev.database.instanceClass", want: "not an RDS for PostgreSQL instance class"},
		{name: "RDS class near miss", env: "dev", patch: `{"database":{"instanceClass":"db.t4g.mirco"}}`, setting: "environments.dev.database.instanceClass", want: "did you mean db.t4g.micro?"},
		{name: "PostgreSQL minor that does not exist", env: "dev", patch: `{"database":{"engineVersion":"17.99"}}`, setting: "environments.dev.database.engineVersion", want: "not a pinned PostgreSQL minor version"},
		{name: "PostgreSQL minor RDS deprecated", env: "dev", patch: `{"database":{"engineVersion":"16.1"}}`, setting: "environments.dev.database.engineVersion", want: "deprecated on RDS"},
		{name: "database name a reserved word", env: "dev", patch: `{"database":{"databaseName":"select"}}`, setting: "environments.dev.database.databaseName", want: "reserved key word of PostgreSQL"},
		{name: "database name reserved: user", env: "prod", patch: `{"database":{"databaseName":"user"}}`, setting: "environments.prod.database.databaseName", want: "reserved key word"},
		{name: "database name reserved: join (type or function)", env: "dev", db: `{"engine":"timescaledb","databaseName":"join"}`, patch: `{"network":{"natGateways":1},"backend":{"assignPublicIp":false}}`, setting: "environments.dev.database.databaseName", want: "reserved key word"},
		{name: "timescale instance size that does not exist", env: "dev", db: `{"engine":"timescaledb","timescale":{"instanceType":"m7g.huge"}}`, setting: "environments.dev.database.timescale.instanceType", want: "not a Graviton"},

		// Cross-field rules, each with its reason.
		{name: "prod in 3 zones with 2 NAT gateways", env: "prod", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b","eu-west-1c"]}`, setting: "environments.prod.network.natGateways", want: "(3 zones, 2 gateways): the private subnets of a zone without its own gateway"},
		{name: "3 zones in an environment-agnostic synth", env: "dev", patch: `{"network":{"maxAzs":3}}`, setting: "environments.dev.network.maxAzs", want: "first two zones of Fn::GetAZs"},
		{name: "maxAzs beside pinned zones", env: "dev", patch: `{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"network":{"maxAzs":2}}`, setting: "environments.dev.network.maxAzs", want: "has no effect when availabilityZones is set"},
		{name: "subnets too small for an ALB", env: "dev", patch: `{"network":{"subnetCidrMask":28}}`, setting: "environments.dev.network.subnetCidrMask", want: "need at least a /27"},
		{name: "certificate of another account", env: "prod", patch: `{"account":"210987654321","region":"eu-west-1","availabilityZones":["eu-west-1a","eu-west-1b"],"frontend":{"domainName":"app.example.com","certificateArn":"` + cert + `"}}`, setting: "environments.prod.frontend.certificateArn", want: "belongs to account 123456789012, but the environment deploys to account 210987654321"},
		{name: "user tag overriding project", env: "dev", patch: `{"tags":{"project":"other"}}`, setting: "environments.dev.tags.project", want: "the app tags every resource with project=tsa"},
		{name: "user tag shadowing environment", env: "prod", patch: `{"tags":{"Environment":"dev"}}`, setting: "environments.prod.tags.Environment", want: "would override or shadow it"},
		{name: "more tags than a resource holds", env: "dev", patch: `{"tags":{` + manyTags(49) + `}}`, setting: "environments.dev.tags", want: "accepted: at most 48"},
		{name: "tag value longer than 256 characters", env: "dev", patch: `{"tags":{"team":"` + strings.Repeat("é", 257) + `"}}`, setting: "environments.dev.tags.team", want: "257 characters long; accepted: at most 256"},
		{name: "tag value with characters AWS refuses", env: "dev", patch: `{"tags":{"team":"<ops>"}}`, setting: "environments.dev.tags.team", want: "characters AWS does not accept"},
		{name: "freeable memory alarm above the instance's RAM", env: "dev", patch: `{"monitoring":{"dbFreeableMemoryMiB":2048}}`, setting: "environments.dev.monitoring.dbFreeableMemoryMiB", want: "can never be healthy: db.t4g.micro has 1024 MiB of memory"},
		{name: "connection alarm above max_connections", env: "dev", patch: `{"monitoring":{"dbConnections":500}}`, setting: "environments.dev.monitoring.dbConnections", want: "gives db.t4g.micro at most 112 connections"},
		{name: "domain longer than DNS allows", env: "prod", patch: `{"frontend":{"domainName":"` + longName(254) + `","certificateArn":"` + cert + `"}}`, setting: "environments.prod.frontend.domainName", want: "254 characters long; DNS allows at most 253"},
		{name: "domain label longer than 63", env: "prod", patch: `{"frontend":{"domainName":"` + strings.Repeat("a", 64) + `.example.com","certificateArn":"` + cert + `"}}`, setting: "environments.prod.frontend.domainName", want: "DNS allows at most 63"},
		{name: "hosted zone name not a DNS name", env: "prod", patch: `{"frontend":{"domainName":"app.example.com","certificateArn":"` + cert + `","hostedZoneId":"Z0123456789ABC","hostedZoneName":"example_com"}}`, setting: "environments.prod.frontend.hostedZoneName", want: "not a DNS name"},

		// Never a panic: what would panic later is refused here.
		{name: "number too large for a whole number", env: "dev", patch: `{"backend":{"cpu":1e300}}`, setting: "environments.dev.backend.cpu", want: "expected a whole number, got number 1e+300"},
		{name: "number too large for JSON", env: "dev", file: func(s string) string {
			return strings.Replace(s, `"natGateways":0`, `"natGateways":1e400`, 1)
		}, setting: "cdk.json", want: "number 1e400 is out of range"},
		{name: "NAT gateway count beyond any zone count", env: "dev", patch: `{"network":{"natGateways":1e18},"backend":{"assignPublicIp":false}}`, setting: "environments.dev.network.natGateways", want: "accepted: 0 to 2"},
		{name: "secret ARN without its suffix", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:tsa/db","cidr":"10.50.0.0/24","host":"db.example.internal"}}`, setting: "environments.dev.database.external.secretArn", want: "six-character suffix"},
		{name: "secret ARN in the wrong partition", env: "dev", db: `{"engine":"external","external":{"secretArn":"arn:aws:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf","cidr":"10.50.0.0/24"}}`, setting: "environments.dev.database.external.secretArn", want: "partition aws-cn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadCase(t, tc)
			require.Error(t, err, "accepted: %+v", cfg)
			assertRefused(t, err, tc.setting, tc.want)
			assert.Contains(t, err.Error(), tc.setting+": ", "the message names the setting")
		})
	}
	t.Logf("%d refused configurations", len(cases))
	assert.GreaterOrEqual(t, len(cases), 140)
}

// loadCase edits cdk.json as the case says, writes it, and loads it with the
// context the CLI would pass: the app's own path.
func loadCase(t *testing.T, tc badCase) (*Config, error) {
	t.Helper()
	file := cdkFile(t)
	ctx := file["context"].(map[string]any)
	editEnv(t, ctx, tc.env, orEmpty(tc.patch))
	if tc.db != "" {
		var db map[string]any
		require.NoError(t, json.Unmarshal([]byte(tc.db), &db))
		ctx[KeyEnvironments].(map[string]any)[tc.env].(map[string]any)["database"] = db
	}
	if tc.mutate != nil {
		tc.mutate(ctx)
	}
	data, err := json.Marshal(file)
	require.NoError(t, err)
	if tc.file != nil {
		edited := tc.file(string(data))
		require.NotEqual(t, string(data), edited, "the case's edit of cdk.json's text applies")
		data = []byte(edited)
	}
	cli := m(KeyEnv, tc.env)
	for k, v := range ctx {
		cli[k] = v
	}
	for k, v := range tc.cli {
		cli[k] = v
	}
	return loadProject(cli, data, root)
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := load(withEnv(t, "dev", `{"backend":{"port":1,"cpu":300},"network":{"vpcCidr":"x"}}`))
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, `invalid configuration for environment "dev":`))
	for _, s := range []string{"backend.port", "backend.cpu", "network.vpcCidr"} {
		assert.Contains(t, msg, "environments.dev."+s+": ")
	}
}

// defaultCertificateReason lets a new prod-profile environment serve on the
// default certificate.
const defaultCertificateReason = "staging has no DNS name of its own"

// dropDefaultCertificateReason removes cdk.json's reason for serving env on
// the default certificate.
func dropDefaultCertificateReason(env string) func(ctx map[string]any) {
	return func(ctx map[string]any) {
		delete(ctx[KeyEnvironments].(map[string]any)[env].(map[string]any)["frontend"].(map[string]any), "allowDefaultCertificate")
	}
}

func orEmpty(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// assertRefused checks that err is an *Error with a problem that names
// setting and says want.
func assertRefused(t *testing.T, err error, setting, want string) {
	t.Helper()
	var cerr *Error
	require.ErrorAs(t, err, &cerr)
	var found bool
	for _, p := range cerr.Problems {
		if p.Setting == setting {
			found = true
			assert.Contains(t, p.Message, want)
		}
	}
	assert.True(t, found, "no problem names %s; got:\n%v", setting, err)
}
