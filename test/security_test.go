package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
	"github.com/tsa-platform/infra/stacks"
)

// TestNoUnsuppressedNagFindings: cdk-nag's AwsSolutions pack runs in every
// synth (the CLI's too); any error or warning left is a finding to fix or to
// suppress with a reason in stacks/nag.go.
func TestNoUnsuppressedNagFindings(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		for _, s := range allVariants(t, env) {
			for i, st := range s.platform.Stacks() {
				findings := annotations(t, s.outdir, *st.ArtifactId(), "AwsSolutions-")
				assert.Empty(t, findings, "tsa-%s-%s (engine %s) has unsuppressed cdk-nag findings", env, s.parts()[i], s.cfg.Database.Engine)
			}
		}
	}
}

// allVariants is every configuration the tests synthesize for env: cdk.json
// as it is, the other data tiers, ECS Exec on, (dev) the WAF turned on and
// the stage pr42, and (prod) pinned region, custom domain and pinned
// TimescaleDB image.
func allVariants(t *testing.T, env string) []*synth {
	v := []*synth{envs[env], externalSynth(t, env), timescaleSynth(t, env), execSynth(t, env)}
	if env == "dev" {
		v = append(v, wafDevSynth(t), stageSynth(t, "pr42"))
	}
	if env == "prod" {
		v = append(v, monitoringPinnedSynth(t), domainSynth(t), timescalePinnedSynth(t))
	}
	return v
}

// annotations reads the error and warning annotations of a stack from the
// cloud assembly, as the CLI does: the manifest's metadata and the file it
// names in additionalMetadataFile (where aws-cdk-lib 2.276 writes them).
func annotations(t *testing.T, outdir, artifact, prefix string) []string {
	t.Helper()
	type entries map[string][]struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}
	data, err := os.ReadFile(filepath.Join(outdir, "manifest.json"))
	require.NoError(t, err)
	var manifest struct {
		Artifacts map[string]struct {
			Metadata               entries `json:"metadata"`
			AdditionalMetadataFile string  `json:"additionalMetadataFile"`
		} `json:"artifacts"`
	}
	require.NoError(t, json.Unmarshal(data, &manifest))
	a, ok := manifest.Artifacts[artifact]
	require.True(t, ok, "no artifact %s in the cloud assembly", artifact)
	all := []entries{a.Metadata}
	if a.AdditionalMetadataFile != "" {
		data, err := os.ReadFile(filepath.Join(outdir, a.AdditionalMetadataFile))
		require.NoError(t, err)
		var more entries
		require.NoError(t, json.Unmarshal(data, &more))
		all = append(all, more)
	}
	var out []string
	for _, md := range all {
		for path, list := range md {
			for _, e := range list {
				msg := fmt.Sprint(e.Data)
				if (e.Type == "aws:cdk:error" || e.Type == "aws:cdk:warning") && strings.Contains(msg, prefix) {
					out = append(out, path+": "+msg)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestAnnotationsAreRead: the reader above finds what the app annotates (a
// reader that finds nothing would let every finding through).
func TestAnnotationsAreRead(t *testing.T) {
	prod := envs["prod"]
	assert.NotEmpty(t, annotations(t, prod.outdir, *prod.platform.Frontend.ArtifactId(), "@tsa/frontend:"), "prod's default-certificate warning")
}

// TestEverySuppressionHasAReason checks the suppressions as they land in the
// templates (cdk_nag metadata), not only the list they come from.
func TestEverySuppressionHasAReason(t *testing.T) {
	var count int
	for _, env := range []string{"dev", "prod"} {
		for _, part := range envs[env].parts() {
			for id, r := range envs[env].raw[part]["Resources"].(map[string]any) {
				meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
				nag, _ := meta["cdk_nag"].(map[string]any)
				for _, rule := range asList(nag["rules_to_suppress"]) {
					rm := rule.(map[string]any)
					count++
					reason, _ := rm["reason"].(string)
					assert.GreaterOrEqual(t, len(reason), 40, "%s/%s %s: a suppression needs a reason a reviewer would accept", part, id, rm["id"])
				}
			}
		}
	}
	assert.Equal(t, len(stacks.Suppressions(envs["dev"].cfg))+len(stacks.Suppressions(envs["prod"].cfg)), count,
		"every listed suppression is attached to exactly one resource")
}

// TestCfnLint runs cfn-lint, with the project's .cfnlintrc.yaml, on every
// synthesized template of every environment and data tier; identical
// templates are linted once, all in one process (see cfnLint).
func TestCfnLint(t *testing.T) {
	var synths []*synth
	for _, env := range []string{"dev", "prod"} {
		for _, s := range allVariants(t, env) {
			files, _ := filepath.Glob(filepath.Join(s.outdir, "*.template.json"))
			require.Len(t, files, len(s.parts()), "%s templates", env)
			synths = append(synths, s)
		}
	}
	// One cfn-lint process for every template the suite synthesizes: the
	// stages of TestStageNameLimits and the CI stacks too (each extra process
	// loads cfn-lint's schemas again).
	synths = append(synths, stageSynth(t, longestStage), timescaleStageSynth(t))
	var ci []lintTarget
	for _, name := range keys(ciVariants(t)) {
		c := ciVariants(t)[name]
		ci = append(ci, lintTarget{file: filepath.Join(c.outdir, config.CIStackName+".template.json"), raw: c.raw})
	}
	findings, summary, err := cfnLint(synths, ci...)
	assert.NoError(t, err, "cfn-lint findings:\n%s", findings)
	assert.Empty(t, findings)
	t.Logf("cfn-lint: %s", summary)
}

// TestNoSecretInTemplates scans every template for secret material: literal
// passwords or keys, and plain environment variables that look like secrets.
func TestNoSecretInTemplates(t *testing.T) {
	secretish := regexp.MustCompile(`(?i)"(MasterUserPassword|Password|SecretString|ApiKey|api_key|AuthToken|PrivateKey)":\s*"[^"{]`)
	for _, env := range []string{"dev", "prod"} {
		for _, part := range envs[env].parts() {
			text := jsonOf(envs[env].raw[part])
			assert.False(t, secretish.MatchString(text), "tsa-%s-%s holds a literal secret: %s", env, part, secretish.FindString(text))
			for id, r := range resources(envs[env].raw[part], "AWS::RDS::DBInstance") {
				assert.Contains(t, jsonOf(props(r)["MasterUserPassword"]), "{{resolve:secretsmanager:", "%s: the password is resolved by CloudFormation from Secrets Manager", id)
			}
			for id, r := range resources(envs[env].raw[part], "AWS::SecretsManager::Secret") {
				_, literal := props(r)["SecretString"]
				assert.False(t, literal, "%s: secret value written into the template", id)
			}
			for id, td := range resources(envs[env].raw[part], "AWS::ECS::TaskDefinition") {
				for _, c := range asList(props(td)["ContainerDefinitions"]) {
					for _, e := range asList(c.(map[string]any)["Environment"]) {
						name := e.(map[string]any)["Name"].(string)
						assert.NotRegexp(t, `(?i)pass|secret|key|token|credential`, name, "%s: %s must be an ECS secret, not an environment variable", id, name)
					}
				}
			}
		}
	}
}

// statefulIDs pins the logical IDs of everything that holds data. A refactor
// that changes one makes CloudFormation replace the resource: a new, empty
// database, a new secret, lost logs. If that is really intended, change this
// list in the same commit and say so.
var statefulIDs = map[string][]string{
	"network":  {"AWS::Logs::LogGroup FlowLogs16C1943A", "AWS::ECR::Repository Repository22E53BBD"},
	"data":     {"AWS::RDS::DBInstance PostgresInstanceEC667DB9", "AWS::SecretsManager::Secret PostgresSecret8CD8C263", "AWS::Logs::LogGroup PostgresLogspostgresqlABB60F71", "AWS::Logs::LogGroup PostgresLogsupgrade6B2716B8"},
	"compute":  {"AWS::SecretsManager::Secret ApiKeyF9DDEE66", "AWS::Logs::LogGroup ApiLogs3D05D88B", "AWS::S3::Bucket AccessLogs8B620ECA", "AWS::Logs::LogGroup ExecSessionsLogs0ECD2468", "AWS::Logs::LogGroup CloudFrontOriginFacingLogs8C036DA9"},
	"frontend": {"AWS::S3::Bucket SiteBucket397A1860", "AWS::S3::Bucket LogBucketCC3B17E8"},
}

var statefulTypes = map[string]bool{
	"AWS::RDS::DBInstance": true, "AWS::SecretsManager::Secret": true, "AWS::S3::Bucket": true,
	"AWS::ECR::Repository": true, "AWS::Logs::LogGroup": true, "AWS::EC2::Volume": true,
}

func TestStatefulResourcesKeepTheirLogicalIDs(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		for _, part := range envs[env].parts() {
			raw := envs[env].raw[part]
			for _, want := range statefulIDs[part] {
				typ, id, _ := strings.Cut(want, " ")
				r, ok := raw["Resources"].(map[string]any)[id]
				if assert.True(t, ok, "tsa-%s-%s: %s %s is gone: this change would REPLACE it (new empty resource, data lost). Restore its construct id/path, or update statefulIDs deliberately.", env, part, typ, id) {
					assert.Equal(t, typ, r.(map[string]any)["Type"])
				}
			}
			// New stateful resources must be pinned too.
			pinned := map[string]bool{}
			for _, want := range statefulIDs[part] {
				pinned[want] = true
			}
			var unpinned []string
			for id, r := range raw["Resources"].(map[string]any) {
				typ := r.(map[string]any)["Type"].(string)
				if statefulTypes[typ] && !pinned[typ+" "+id] && !isHandlerLog(raw, id) {
					unpinned = append(unpinned, typ+" "+id)
				}
			}
			sort.Strings(unpinned)
			assert.Empty(t, unpinned, "tsa-%s-%s: stateful resources missing from statefulIDs", env, part)
		}
	}
}

// isHandlerLog: the log group a Lambda function of the template logs to
// (aws-cdk-lib's deploy-time handlers, handlerlogs.go) holds no product data.
func isHandlerLog(raw map[string]any, id string) bool {
	for _, fn := range resources(raw, "AWS::Lambda::Function") {
		if logGroupOf(fn) == id {
			return true
		}
	}
	return false
}

// TestProtection: production keeps every stateful resource when its stack is
// deleted; other environments remove them so nothing stays billable.
func TestProtection(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		prod := envs[env].cfg.Production()
		for _, part := range envs[env].parts() {
			for id, r := range envs[env].raw[part]["Resources"].(map[string]any) {
				rm := r.(map[string]any)
				typ := rm["Type"].(string)
				if !statefulTypes[typ] {
					continue
				}
				policy := rm["DeletionPolicy"]
				switch {
				case prod && typ == "AWS::RDS::DBInstance":
					assert.Equal(t, "Snapshot", policy, "%s %s", env, id)
				case prod:
					assert.Equal(t, "Retain", policy, "%s %s %s is kept when the stack goes", env, typ, id)
				default:
					assert.Equal(t, "Delete", policy, "%s %s %s is removed with the stack", env, typ, id)
				}
			}
			if !prod {
				for id, b := range resources(envs[env].raw[part], "AWS::S3::Bucket") {
					assert.Contains(t, jsonOf(b), "aws-cdk:auto-delete-objects", "%s: emptied on destroy", id)
				}
			}
		}
	}
}
