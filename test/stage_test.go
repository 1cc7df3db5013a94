package test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
	"github.com/tsa-platform/infra/cost"
)

// A stage is -c env=dev -c stage=NAME: the tests synthesize pr42 (the name
// of the example, in allVariants: cdk-nag and cfn-lint see it) and a
// stage whose name is as long as config accepts.

// timescaleStageSynth is a stage of dev on the TimescaleDB tier (its own
// host, private zone and archive), once per test binary.
func timescaleStageSynth(t *testing.T) *synth {
	t.Helper()
	return variantWith(t, "timescaledb-stage-pr42", "dev", map[string]any{config.KeyStage: "pr42"},
		func(settings map[string]any) { timescaleSettings(settings, "dev") })
}

// stageSynth synthesizes a stage of dev once per test binary.
func stageSynth(t *testing.T, name string) *synth {
	t.Helper()
	return variantWith(t, "stage-"+name, "dev", map[string]any{config.KeyStage: name}, nil)
}

// longestStage is a stage name of the greatest length config accepts.
var longestStage = "pr-" + strings.Repeat("9", config.MaxStageLength-3)

func TestStageHasFourStacksOfItsOwn(t *testing.T) {
	s := stageSynth(t, "pr42")
	m := readManifest(t, s.outdir)
	var names []string
	for name, a := range m.Artifacts {
		if a.Type == "aws:cloudformation:stack" {
			names = append(names, name)
		}
	}
	assert.ElementsMatch(t, []string{"tsa-pr42-network", "tsa-pr42-data", "tsa-pr42-compute", "tsa-pr42-frontend"}, names)
	for i, part := range s.parts() {
		st := s.platform.Stacks()[i]
		assert.Equal(t, "tsa-pr42-"+part, *st.StackName())
		assert.False(t, *st.TerminationProtection(), "%s can be destroyed", part)
		assert.True(t, strings.HasPrefix(s.raw[part]["Description"].(string), "tsa (stage pr42 of the dev environment): "), part)
	}
}

// TestStageResourcesAreTagged: every taggable resource carries the
// environment it copies and the stage (cost reports split by either).
func TestStageResourcesAreTagged(t *testing.T) {
	s := stageSynth(t, "pr42")
	var tagged int
	for _, part := range s.parts() {
		for id, r := range s.raw[part]["Resources"].(map[string]any) {
			tags, ok := props(r.(map[string]any))["Tags"].([]any)
			if !ok {
				continue
			}
			got := map[string]any{}
			for _, tag := range tags {
				if kv, ok := tag.(map[string]any); ok {
					got[fmt.Sprint(kv["Key"])] = kv["Value"]
				}
			}
			tagged++
			assert.Equal(t, "pr42", got["stage"], "%s/%s", part, id)
			assert.Equal(t, "dev", got["environment"], "%s/%s", part, id)
			assert.Equal(t, "tsa", got["project"], "%s/%s", part, id)
		}
	}
	assert.Greater(t, tagged, 40)
	for _, part := range s.parts() {
		for _, r := range envs["dev"].raw[part]["Resources"].(map[string]any) {
			assert.NotContains(t, jsonOf(props(r.(map[string]any))["Tags"]), `"stage"`, "an environment's resources carry no stage tag")
		}
	}
}

// TestStageIsDisposable: `cdk destroy` of a stage removes everything it
// created, whatever its environment keeps.
func TestStageIsDisposable(t *testing.T) {
	s := stageSynth(t, "pr42")
	for _, part := range s.parts() {
		for id, r := range s.raw[part]["Resources"].(map[string]any) {
			rm := r.(map[string]any)
			if p, ok := rm["DeletionPolicy"]; ok {
				assert.Equal(t, "Delete", p, "%s/%s %s", part, id, rm["Type"])
			}
			if p, ok := rm["UpdateReplacePolicy"]; ok {
				assert.Equal(t, "Delete", p, "%s/%s %s", part, id, rm["Type"])
			}
		}
		for id, b := range resources(s.raw[part], "AWS::S3::Bucket") {
			assert.Contains(t, jsonOf(b), "aws-cdk:auto-delete-objects", "%s: emptied on destroy", id)
		}
	}
	_, repo := one(t, s.raw["network"], "AWS::ECR::Repository")
	assert.Equal(t, true, props(repo)["EmptyOnDelete"], "the repository is emptied on destroy")
	_, db := one(t, s.raw["data"], "AWS::RDS::DBInstance")
	assert.Equal(t, false, props(db)["DeletionProtection"])
	assert.Equal(t, "tsa-pr42-postgres", props(db)["DBInstanceIdentifier"])
}

// TestStageIsTheCheapestThatRuns: one Spot task, the smallest database, no
// NAT gateway, no dashboard or Container Insights, no paging subscription;
// and its idle cost as cmd/cost prices it.
func TestStageIsTheCheapestThatRuns(t *testing.T) {
	s := stageSynth(t, "pr42")
	_, db := one(t, s.raw["data"], "AWS::RDS::DBInstance")
	assert.Equal(t, "db.t4g.micro", props(db)["DBInstanceClass"])
	assert.Equal(t, false, props(db)["MultiAZ"])
	assert.Empty(t, resources(s.raw["network"], "AWS::EC2::NatGateway"))
	assert.Empty(t, resources(s.raw["frontend"], "AWS::CloudWatch::Dashboard"))
	assert.Empty(t, resources(s.raw["network"], "AWS::SNS::Subscription"))
	_, svc := one(t, s.raw["compute"], "AWS::ECS::Service")
	assert.EqualValues(t, 1, props(svc)["DesiredCount"])
	assert.Contains(t, jsonOf(props(svc)["CapacityProviderStrategy"]), "FARGATE_SPOT")
	_, cluster := one(t, s.raw["compute"], "AWS::ECS::Cluster")
	assert.NotContains(t, jsonOf(props(cluster)["ClusterSettings"]), `"enabled"`)

	prices, err := cost.DefaultPrices()
	require.NoError(t, err)
	st, err := cost.LoadEnv(s.outdir, "pr42")
	require.NoError(t, err)
	require.Len(t, st, 4)
	rep := cost.Estimate("pr42", st, prices)
	assert.Zero(t, rep.NotPriced)
	assert.LessOrEqual(t, rep.MonthlyUSD, idleCost(t, "dev").MonthlyUSD, "a stage idles at most at its dev environment's cost")
	t.Logf("stage idle estimate: %.2f USD/month (best case %.2f)", rep.MonthlyUSD, rep.MonthlyLowUSD)
}

// TestStageNamesNothingAfterItsEnvironment: every physical name, the API's
// APP_ENV and the site's config.json carry the stage's name, so a stage and
// its environment never compete for a name in one account.
func TestStageNamesNothingAfterItsEnvironment(t *testing.T) {
	s := stageSynth(t, "pr42")
	envName := regexp.MustCompile(`tsa-?dev|/tsa/dev/`)
	for _, st := range []*synth{s, timescaleStageSynth(t)} {
		for _, part := range st.parts() {
			text := jsonOf(st.raw[part])
			assert.False(t, envName.MatchString(text), "tsa-pr42-%s (%s) names something after dev: %s", part, st.cfg.Database.Engine, envName.FindString(text))
		}
	}
	tsdb := timescaleStageSynth(t)
	_, zone := one(t, tsdb.raw["data"], "AWS::Route53::HostedZone")
	assert.Equal(t, "tsa-pr42.internal.", props(zone)["Name"], "the TimescaleDB host's private zone is the stage's")
	assert.Equal(t, 1, tsdb.cfg.Network.NatGateways)
	for i := range tsdb.parts() {
		assert.Empty(t, annotations(t, tsdb.outdir, *tsdb.platform.Stacks()[i].ArtifactId(), "AwsSolutions-"), "tsa-pr42-%s (timescaledb) has unsuppressed cdk-nag findings", tsdb.parts()[i])
	}
	_, td := serviceTaskDefinition(t, s.raw["compute"])
	assert.Contains(t, jsonOf(props(td)["ContainerDefinitions"]), `{"Name":"APP_ENV","Value":"pr42"}`)
	assert.Equal(t, m("apiBaseUrl", "/api", "environment", "pr42"), configJSON(t, s.outdir))
}

// stageNameLimits are the properties a stage's name reaches in its
// templates, with the length AWS allows there (CloudFormation resource
// schemas as cfn-lint ships them, and the API references named). Type
// "stack" is the template's own. A name the stage reaches that is not
// listed fails TestStageNameLimits until its limit is added here.
var stageNameLimits = map[string]int{
	"stack Description":                                                                    1024,
	"AWS::RDS::DBInstance DBInstanceIdentifier":                                            63,
	"AWS::Logs::LogGroup LogGroupName":                                                     512,
	"AWS::CloudWatch::Alarm AlarmName":                                                     255,
	"AWS::KMS::Alias AliasName":                                                            256,
	"AWS::SNS::Topic TopicName":                                                            256,
	"AWS::SNS::Topic DisplayName":                                                          100,
	"AWS::SecretsManager::Secret Description":                                              2048,
	"AWS::ECS::TaskDefinition Family":                                                      255,
	"AWS::IAM::Policy PolicyDocument.Statement.*.Resource.Fn::Join.*.*":                    2048, // an ARN (IAM's ARN limit)
	"AWS::Lambda::Function Description":                                                    256,
	"AWS::ECS::TaskDefinition ContainerDefinitions.*.Environment.*.Value":                  65536, // a task definition holds 64 KiB in all
	"AWS::ApplicationAutoScaling::ScalingPolicy PolicyName":                                256,
	"AWS::CloudFront::ResponseHeadersPolicy ResponseHeadersPolicyConfig.Comment":           128,
	"AWS::CloudFront::ResponseHeadersPolicy ResponseHeadersPolicyConfig.Name":              128,
	"AWS::CloudFront::Function Name.Fn::Join.1.*":                                          64 - 14, // after the region (at most 14 characters, e.g. ap-southeast-5)
	"AWS::CloudFront::OriginAccessControl OriginAccessControlConfig.Name":                  64,
	"AWS::CloudFront::VpcOrigin VpcOriginEndpointConfig.Name":                              64,
	"AWS::CloudFront::Distribution DistributionConfig.Comment":                             128,
	"AWS::CloudFront::Distribution DistributionConfig.Origins.*.Id":                        128,
	"AWS::CloudFront::Distribution DistributionConfig.DefaultCacheBehavior.TargetOriginId": 128,
	"AWS::CloudFront::Distribution DistributionConfig.CacheBehaviors.*.TargetOriginId":     128,
	"* Tags.*.Value":                   256,
	"* *.Fn::GetStackOutput.StackName": 128, // a stack name
}

// TestStageNameLimits synthesizes the longest stage name config accepts and
// checks every string it reaches (as given, or stripped of hyphens as CDK's
// generated names have it) against the limit of its property; cfn-lint
// checks the same templates against its resource schemas' maxLength.
func TestStageNameLimits(t *testing.T) {
	s := stageSynth(t, longestStage)
	plain := strings.ReplaceAll(longestStage, "-", "")
	index := regexp.MustCompile(`\.\d+(\.|$)`)
	var checked int
	for _, part := range s.parts() {
		walkStrings(s.raw[part], "", func(path, value string) {
			if !strings.Contains(value, longestStage) && !strings.Contains(value, plain) {
				return
			}
			typ, prop := "stack", strings.TrimPrefix(path, ".")
			if rest, ok := strings.CutPrefix(path, ".Resources."); ok {
				id, p, _ := strings.Cut(rest, ".")
				typ = s.raw[part]["Resources"].(map[string]any)[id].(map[string]any)["Type"].(string)
				if prop, ok = strings.CutPrefix(p, "Properties."); !ok {
					return // metadata
				}
			} else if strings.HasPrefix(prop, "Outputs.") {
				return
			}
			generic := index.ReplaceAllString(prop, ".*$1")
			generic = index.ReplaceAllString(generic, ".*$1")
			limit, ok := stageNameLimits[typ+" "+generic]
			if !ok {
				for key, l := range stageNameLimits {
					if k := strings.TrimPrefix(key, "* "); key != k && (strings.HasSuffix(generic, k) || strings.HasSuffix(generic, strings.TrimPrefix(k, "*."))) {
						limit, ok = l, true
					}
				}
			}
			if !assert.True(t, ok, "tsa-%s-%s: the stage's name reaches %s %s (%q); add its AWS limit to stageNameLimits", longestStage, part, typ, generic, value) {
				return
			}
			checked++
			assert.LessOrEqual(t, len(value), limit, "tsa-%s-%s: %s %s is %d characters, more than the %d AWS allows: %s", longestStage, part, typ, generic, len(value), limit, value)
		})
	}
	assert.Greater(t, checked, 100)

	// cfn-lint checks these templates (and the TimescaleDB stage's) in
	// TestCfnLint, in the suite's one cfn-lint process.
}

// walkStrings calls f with the path and value of every string in v.
func walkStrings(v any, path string, f func(path, value string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkStrings(x[k], path+"."+k, f)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s.%d", path, i), f)
		}
	case string:
		f(path, x)
	}
}

// TestStageOfProdIsRefused: the production rule holds for stages too.
func TestStageOfProdIsRefused(t *testing.T) {
	_, err := synthesize("prod", map[string]any{config.KeyStage: "pr42"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "uses the prod profile; a stage is a disposable copy")
	_, err = synthesize("dev", map[string]any{config.KeyStage: "prod"})
	require.Error(t, err)
	_, err = synthesize("dev", map[string]any{config.KeyStage: strings.Repeat("s", config.MaxStageLength+1)})
	require.Error(t, err)
}
