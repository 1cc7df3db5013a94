package config

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadCI loads -c ci=account with cdk.json's blocks, github replaced by
// patch when it is not empty, and extra context on top.
func loadCI(t *testing.T, account, patch string, extra map[string]any) (*CIConfig, error) {
	t.Helper()
	ctx := cdkContext(t)
	gh := ctx[KeyGitHub].(map[string]any)
	if patch != "" {
		gh = map[string]any{}
		require.NoError(t, json.Unmarshal([]byte(patch), &gh))
		ctx[KeyGitHub] = gh
	}
	ctx[KeyCI] = account
	for k, v := range extra {
		ctx[k] = v
	}
	envs := ctx[KeyEnvironments].(map[string]any)
	return LoadCI(ctx, envs, gh, root)
}

func TestCIAccountsOfCdkJSON(t *testing.T) {
	nonprod, err := LoadCIProject(map[string]any{KeyCI: "nonprod"}, root)
	require.NoError(t, err)
	assert.Equal(t, "tsa-platform/infra", nonprod.GitHub.Repository)
	assert.Equal(t, []string{"repo:tsa-platform/infra:environment:dev", "repo:tsa-platform/infra:environment:pr-stages"}, nonprod.DeploySubjects())
	assert.Equal(t, []string{"repo:tsa-platform/infra:pull_request"}, nonprod.DiffSubjects())
	assert.False(t, nonprod.Production())
	require.Len(t, nonprod.Environments, 1)
	assert.Equal(t, "dev", nonprod.Environments[0].Name)

	prod, err := LoadCIProject(map[string]any{KeyCI: "prod"}, root)
	require.NoError(t, err)
	assert.Equal(t, []string{"repo:tsa-platform/infra:environment:prod"}, prod.DeploySubjects(), "no pull request stage reaches the production account")
	assert.True(t, prod.Production())
}

func TestImmutableSubjectClaims(t *testing.T) {
	ci, err := loadCI(t, "nonprod", `{"repository":"tsa-platform/infra","ownerId":"123456","repositoryId":"789012","accounts":{"nonprod":{"environments":["dev"]},"prod":{"environments":["prod"]}}}`, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"repo:tsa-platform@123456/infra@789012:environment:dev"}, ci.DeploySubjects())
	assert.Equal(t, []string{"repo:tsa-platform@123456/infra@789012:pull_request"}, ci.DiffSubjects())
}

func TestPinnedAccountOfCI(t *testing.T) {
	ctx := cdkContext(t)
	envs := ctx[KeyEnvironments].(map[string]any)
	envs["prod"] = merge(envs["prod"].(map[string]any), map[string]any{"account": "123456789012", "region": "eu-west-1", "availabilityZones": []any{"eu-west-1a", "eu-west-1b"}})
	ctx[KeyCI] = "prod"
	ci, err := LoadCI(ctx, envs, ctx[KeyGitHub].(map[string]any), root)
	require.NoError(t, err)
	assert.Equal(t, "123456789012", ci.AccountID)
	assert.Equal(t, "eu-west-1", ci.Region)
}

func TestCIRefused(t *testing.T) {
	const accounts = `"accounts":{"nonprod":{"environments":["dev"],"stages":true},"prod":{"environments":["prod"]}}`
	cases := []struct {
		name, account, patch string
		extra                map[string]any
		setting, want        string
	}{
		{"repository without owner", "nonprod", `{"repository":"infra",` + accounts + `}`, nil, "github.repository", "not a GitHub repository; accepted: OWNER/NAME"},
		{"repository URL", "nonprod", `{"repository":"https://github.com/tsa-platform/infra",` + accounts + `}`, nil, "github.repository", "not a GitHub repository"},
		{"owner with a trailing hyphen", "nonprod", `{"repository":"tsa-/infra",` + accounts + `}`, nil, "github.repository", "not a GitHub repository"},
		{"wildcard repository", "nonprod", `{"repository":"tsa-platform/*",` + accounts + `}`, nil, "github.repository", "not a GitHub repository"},
		{"owner ID alone", "nonprod", `{"repository":"tsa-platform/infra","ownerId":"1",` + accounts + `}`, nil, "github.ownerId", "ownerId and repositoryId go together"},
		{"IDs that are not numbers", "nonprod", `{"repository":"tsa-platform/infra","ownerId":"tsa","repositoryId":"x",` + accounts + `}`, nil, "github.ownerId", "numeric IDs"},
		{"no accounts", "nonprod", `{"repository":"tsa-platform/infra","accounts":{}}`, nil, "github.accounts", "no accounts"},
		{"unknown environment", "nonprod", `{"repository":"tsa-platform/infra","accounts":{"nonprod":{"environments":["dev","qa"]}}}`, nil, "github.accounts.nonprod.environments", "\"qa\" is not an environment; accepted: dev, prod"},
		{"environment in two accounts", "nonprod", `{"repository":"tsa-platform/infra","accounts":{"nonprod":{"environments":["dev"]},"prod":{"environments":["prod","dev"]}}}`, nil, "github.accounts.prod.environments", "\"dev\" is also in account \"nonprod\""},
		{"stages in a production-only account", "prod", `{"repository":"tsa-platform/infra","accounts":{"prod":{"environments":["prod"],"stages":true}}}`, nil, "github.accounts.prod.stages", "only those can be staged"},
		{"account name", "Prod", `{"repository":"tsa-platform/infra","accounts":{"Prod":{"environments":["prod"]}}}`, nil, "github.accounts.Prod", "not an account name"},
		{"unknown setting", "nonprod", `{"repository":"tsa-platform/infra","branch":"main",` + accounts + `}`, nil, "github.branch", "unknown setting"},
		{"unknown account setting", "nonprod", `{"repository":"tsa-platform/infra","accounts":{"nonprod":{"environments":["dev"],"stage":true}}}`, nil, "github.accounts.nonprod.stage", "did you mean stages?"},
		{"environments that are not a list", "nonprod", `{"repository":"tsa-platform/infra","accounts":{"nonprod":{"environments":"dev"}}}`, nil, "github.accounts.nonprod.environments", "expected a list of strings"},
		{"unknown account selected", "staging", "", nil, "ci", "must name an account of github.accounts, got \"staging\"; accepted: nonprod, prod"},
		{"an environment beside -c ci", "nonprod", "", map[string]any{KeyEnv: "dev"}, "env", "does not apply with -c ci"},
		{"a stage beside -c ci", "nonprod", "", map[string]any{KeyStage: "pr42"}, "stage", "does not apply with -c ci"},
		{"github replaced on the command line", "nonprod", "", map[string]any{KeyGitHub: `{"repository":"evil/fork"}`}, "github", "read from cdk.json only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := cdkContext(t)
			gh, _ := ctx[KeyGitHub].(map[string]any)
			if tc.patch != "" {
				gh = nil
				require.NoError(t, json.Unmarshal([]byte(tc.patch), &gh))
				ctx[KeyGitHub] = gh
			}
			ctx[KeyCI] = tc.account
			for k, v := range tc.extra {
				ctx[k] = v
			}
			_, err := LoadCI(ctx, ctx[KeyEnvironments].(map[string]any), gh, root)
			require.Error(t, err)
			assertRefused(t, err, tc.setting, tc.want)
		})
	}
}

func TestCIAccountsShareAnAccountAndRegion(t *testing.T) {
	ctx := cdkContext(t)
	envs := ctx[KeyEnvironments].(map[string]any)
	envs["prod"] = merge(envs["prod"].(map[string]any), map[string]any{"account": "123456789012", "region": "eu-west-1", "availabilityZones": []any{"eu-west-1a", "eu-west-1b"}})
	gh := map[string]any{"repository": "tsa-platform/infra", "accounts": map[string]any{"all": map[string]any{"environments": []any{"dev", "prod"}}}}
	ctx[KeyGitHub], ctx[KeyCI] = gh, "all"
	_, err := LoadCI(ctx, envs, gh, root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "one CI stack serves one account and region")
}

// TestGitHubBlockIsCheckedOnEverySynth: a broken github block fails the
// environments' synth too, long before CI needs it.
func TestGitHubBlockIsCheckedOnEverySynth(t *testing.T) {
	file := cdkFile(t)
	ctx := file["context"].(map[string]any)
	ctx[KeyGitHub].(map[string]any)["repository"] = "not a repository"
	data, err := json.Marshal(file)
	require.NoError(t, err)
	cli := m(KeyEnv, "dev")
	for k, v := range ctx {
		cli[k] = v
	}
	_, err = loadProject(cli, data, root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "github.repository: ")

	_, err = Load(m(KeyEnv, "dev", KeyCI, "nonprod"), cdkContext(t)[KeyEnvironments].(map[string]any), root)
	require.Error(t, err, "Load synthesizes environments only")
	assert.Contains(t, err.Error(), "ci: selects the CI stack")
}

func TestMissingGitHubBlock(t *testing.T) {
	ctx := cdkContext(t)
	delete(ctx, KeyGitHub)
	ctx[KeyCI] = "nonprod"
	_, err := LoadCI(ctx, ctx[KeyEnvironments].(map[string]any), nil, root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "github: missing from cdk.json")
}
