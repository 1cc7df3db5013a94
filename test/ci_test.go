package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
	"github.com/tsa-platform/infra/stacks"
)

// ciSynth is one synthesized CI stack (-c ci=ACCOUNT).
type ciSynth struct {
	cfg    *config.CIConfig
	raw    map[string]any
	outdir string
	stacks []string // every stack of the app
}

var ciSynths = map[string]*ciSynth{}

// synthCI synthesizes the CI stack of account through stacks.Build, as the
// app does, with cdk.json's github block replaced by github when it is not
// nil (then loaded with config.LoadCI, as an edited cdk.json). Once per test
// binary under name.
func synthCI(t *testing.T, name, account string, github map[string]any) *ciSynth {
	t.Helper()
	if s, ok := ciSynths[name]; ok {
		return s
	}
	ctx, err := cliContext()
	require.NoError(t, err)
	ctx[config.KeyCI] = account
	if github != nil {
		ctx[config.KeyGitHub] = github
	}
	outdir, err := os.MkdirTemp(outRoot, "ci-")
	require.NoError(t, err)
	app := testApp(ctx, outdir)
	s := &ciSynth{outdir: outdir}
	if github == nil {
		require.NoError(t, stacks.Build(app, root))
		s.cfg, err = config.LoadCIProject(ctx, root)
	} else {
		s.cfg, err = config.LoadCI(ctx, ctx[config.KeyEnvironments].(map[string]any), github, root)
		require.NoError(t, err)
		stacks.NewCIStack(app, s.cfg)
	}
	require.NoError(t, err)
	require.NoError(t, synthOnce(app))
	for _, c := range *app.Node().Children() {
		if st, ok := c.(awscdk.Stack); ok {
			s.stacks = append(s.stacks, *st.StackName())
		}
	}
	data, err := os.ReadFile(filepath.Join(outdir, config.CIStackName+".template.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &s.raw))
	ciSynths[name] = s
	return s
}

// ciVariants: the two accounts of cdk.json, and an account that already has
// GitHub's provider and uses immutable subject claims.
func ciVariants(t *testing.T) map[string]*ciSynth {
	immutable := map[string]any{
		"repository": "tsa-platform/infra", "ownerId": "123456", "repositoryId": "789012",
		"accounts": map[string]any{
			"nonprod": map[string]any{"environments": []any{"dev"}, "stages": true, "existingOidcProvider": true},
			"prod":    map[string]any{"environments": []any{"prod"}},
		},
	}
	return map[string]*ciSynth{
		"nonprod":           synthCI(t, "nonprod", "nonprod", nil),
		"prod":              synthCI(t, "prod", "prod", nil),
		"existing-provider": synthCI(t, "existing-provider", "nonprod", immutable),
	}
}

// TestCIStackIsItsOwnSynth: -c ci=ACCOUNT synthesizes tsa-ci and nothing
// else, and no environment's synth includes it, so `cdk deploy --all` of an
// environment never touches CI credentials.
func TestCIStackIsItsOwnSynth(t *testing.T) {
	assert.Equal(t, []string{"tsa-ci"}, synthCI(t, "nonprod", "nonprod", nil).stacks)
	for _, env := range []string{"dev", "prod"} {
		for _, st := range envs[env].platform.Stacks() {
			assert.NotEqual(t, "tsa-ci", *st.StackName())
		}
		for name := range readManifest(t, envs[env].outdir).Artifacts {
			assert.NotContains(t, name, "tsa-ci")
		}
	}
	prod := synthCI(t, "prod", "prod", nil)
	assert.True(t, prod.cfg.Production())
	assert.True(t, terminationProtection(t, prod.outdir, config.CIStackName), "the production account's CI stack has termination protection")
	assert.False(t, terminationProtection(t, synthCI(t, "nonprod", "nonprod", nil).outdir, config.CIStackName))
}

// terminationProtection reads a stack's setting from the cloud assembly.
func terminationProtection(t *testing.T, outdir, artifact string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(outdir, "manifest.json"))
	require.NoError(t, err)
	var m struct {
		Artifacts map[string]struct {
			Properties struct {
				TerminationProtection bool `json:"terminationProtection"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	require.NoError(t, json.Unmarshal(data, &m))
	return m.Artifacts[artifact].Properties.TerminationProtection
}

// TestGitHubOIDCProvider: GitHub's issuer with the audience STS accepts
// (IAM User Guide, "Configuring a role for GitHub OIDC identity provider");
// no thumbprint, which IAM no longer uses for GitHub (IAM API Reference,
// UpdateOpenIDConnectProviderThumbprint).
func TestGitHubOIDCProvider(t *testing.T) {
	for name, s := range ciVariants(t) {
		providers := resources(s.raw, "AWS::IAM::OIDCProvider")
		if s.cfg.Account.ExistingOidcProvider {
			assert.Empty(t, providers, "%s refers to the account's provider", name)
			continue
		}
		require.Len(t, providers, 1, name)
		for _, p := range providers {
			assert.Equal(t, "https://token.actions.githubusercontent.com", props(p)["Url"], name)
			assert.Equal(t, []any{"sts.amazonaws.com"}, props(p)["ClientIdList"], name)
			assert.NotContains(t, props(p), "ThumbprintList", name)
		}
	}
}

// roleByName returns the AWS::IAM::Role with that RoleName.
func roleByName(t *testing.T, tpl map[string]any, name string) map[string]any {
	t.Helper()
	for _, r := range resources(tpl, "AWS::IAM::Role") {
		if props(r)["RoleName"] == name {
			return r
		}
	}
	t.Fatalf("no role %s", name)
	return nil
}

// TestCIRolesTrustOnlyThisRepository: each role is assumed with a web
// identity token of GitHub's provider only, whose audience is
// sts.amazonaws.com and whose subject is exactly one of the repository's
// jobs that role serves: compared with StringEquals, no wildcard, no other
// principal, no other condition operator.
func TestCIRolesTrustOnlyThisRepository(t *testing.T) {
	for name, s := range ciVariants(t) {
		slug := s.cfg.GitHub.Slug()
		want := map[string][]string{
			config.CIDeployRoleName: s.cfg.DeploySubjects(),
			config.CISmokeRoleName:  s.cfg.DeploySubjects(),
			config.CIDiffRoleName:   {"repo:" + slug + ":pull_request"},
		}
		var envSubjects []string
		for _, e := range s.cfg.Environments {
			envSubjects = append(envSubjects, "repo:"+slug+":environment:"+e.Name)
		}
		if s.cfg.Account.Stages {
			envSubjects = append(envSubjects, "repo:"+slug+":environment:pr-stages")
		}
		assert.Equal(t, envSubjects, want[config.CIDeployRoleName], "%s: the deploy jobs are the GitHub environments of the account's environments (and pr-stages where stages are on)", name)
		for role, subjects := range want {
			r := roleByName(t, s.raw, role)
			trust := props(r)["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any)
			require.Len(t, trust, 1, "%s %s: one trust statement", name, role)
			st := trust[0].(map[string]any)
			assert.Equal(t, "Allow", st["Effect"])
			assert.Equal(t, "sts:AssumeRoleWithWebIdentity", st["Action"], "%s %s", name, role)
			principal := st["Principal"].(map[string]any)
			assert.Equal(t, []string{"Federated"}, keys(principal), "%s %s: only the OIDC provider", name, role)
			if s.cfg.Account.ExistingOidcProvider {
				assert.Contains(t, jsonOf(principal["Federated"]), ":oidc-provider/token.actions.githubusercontent.com")
			} else {
				assert.Equal(t, m("Ref", firstID(resources(s.raw, "AWS::IAM::OIDCProvider"))), principal["Federated"])
			}
			cond := st["Condition"].(map[string]any)
			assert.Equal(t, []string{"StringEquals"}, keys(cond), "%s %s: exact matches only", name, role)
			eq := cond["StringEquals"].(map[string]any)
			assert.Equal(t, []string{"token.actions.githubusercontent.com:aud", "token.actions.githubusercontent.com:sub"}, keys(eq))
			assert.Equal(t, "sts.amazonaws.com", eq["token.actions.githubusercontent.com:aud"])
			var got []string
			for _, sub := range eq["token.actions.githubusercontent.com:sub"].([]any) {
				got = append(got, sub.(string))
				assert.True(t, strings.HasPrefix(sub.(string), "repo:"+slug+":"), "%s %s: %s is a job of this repository", name, role, sub)
				assert.NotContains(t, sub, "*", "no wildcard in an exact match")
			}
			assert.Equal(t, subjects, got, "%s %s", name, role)
			assert.EqualValues(t, 7200, props(r)["MaxSessionDuration"], "%s %s: two hours outlast a first deploy", name, role)
			assert.NotContains(t, props(r), "ManagedPolicyArns", "%s %s: no managed policy", name, role)
		}
		assert.Len(t, resources(s.raw, "AWS::IAM::Role"), 3, name)
		assert.Empty(t, resources(s.raw, "AWS::IAM::User"), "no IAM user")
		assert.Empty(t, resources(s.raw, "AWS::IAM::AccessKey"), "no long-lived key")
		assert.Empty(t, resources(s.raw, "AWS::IAM::Policy"), "every permission is the roles' own inline policy")
	}
	prod := ciVariants(t)["prod"]
	assert.Equal(t, []string{"repo:tsa-platform/infra:environment:prod"}, prod.cfg.DeploySubjects(), "only the prod GitHub environment, behind its approval, reaches the production account")
	assert.Contains(t, jsonOf(ciVariants(t)["existing-provider"].raw), "repo:tsa-platform@123456/infra@789012:environment:dev")
}

func firstID(rs map[string]map[string]any) string {
	for id := range rs {
		return id
	}
	return ""
}

// permissions flattens a role's inline policy into action -> resources.
func permissions(t *testing.T, role map[string]any) map[string][]string {
	t.Helper()
	policies := props(role)["Policies"].([]any)
	require.Len(t, policies, 1)
	out := map[string][]string{}
	for _, st := range policies[0].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		s := st.(map[string]any)
		require.Equal(t, "Allow", s["Effect"])
		require.NotContains(t, s, "NotAction")
		require.NotContains(t, s, "NotResource")
		var res []string
		for _, r := range oneOrMany(s["Resource"]) {
			res = append(res, jsonOf(r))
		}
		for _, a := range oneOrMany(s["Action"]) {
			out[a.(string)] = append(out[a.(string)], res...)
		}
	}
	return out
}

func sub(s string) string { return jsonOf(m("Fn::Sub", s)) }

// TestDeployRoleOnlyAssumesBootstrapRolesAndPushes: the deploy role can do
// two things itself: assume the four roles `cdk bootstrap` created in its
// account and region (the CLI deploys through them), and push images to
// the image repository of each of the account's environments.
func TestDeployRoleOnlyAssumesBootstrapRolesAndPushes(t *testing.T) {
	for name, s := range ciVariants(t) {
		got := permissions(t, roleByName(t, s.raw, config.CIDeployRoleName))
		var bootstrap []string
		for _, r := range []string{"deploy", "file-publishing", "image-publishing", "lookup"} {
			bootstrap = append(bootstrap, sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-"+r+"-role-${AWS::AccountId}-${AWS::Region}"))
		}
		var repos []string
		for _, e := range s.cfg.Environments {
			repos = append(repos, jsonOf(m("Fn::GetStackOutput", m("OutputName", "RepositoryArn", "StackName", "tsa-"+e.Name+"-network"))))
		}
		want := map[string][]string{
			"sts:AssumeRole":                  bootstrap,
			"ecr:GetAuthorizationToken":       {`"*"`},
			"ecr:BatchCheckLayerAvailability": repos,
			"ecr:BatchGetImage":               repos,
			"ecr:CompleteLayerUpload":         repos,
			"ecr:InitiateLayerUpload":         repos,
			"ecr:PutImage":                    repos,
			"ecr:UploadLayerPart":             repos,
		}
		assert.Equal(t, want, got, name)
	}
	// The repository the role names is the one the network stack outputs.
	assert.Contains(t, envs["dev"].raw["network"]["Outputs"], "RepositoryArn")
	assert.Equal(t, m("Fn::GetAtt", []any{"Repository22E53BBD", "Arn"}), envs["dev"].raw["network"]["Outputs"].(map[string]any)["RepositoryArn"].(map[string]any)["Value"])
}

// TestDiffRoleOnlyReadsTemplates: pull requests (any branch of the
// repository can open one) may read the deployed templates of the account's
// environments and nothing else: not the bootstrap lookup role, whose
// ReadOnlyAccess covers the whole account.
func TestDiffRoleOnlyReadsTemplates(t *testing.T) {
	for name, s := range ciVariants(t) {
		var stacksOf []string
		for _, e := range s.cfg.Environments {
			stacksOf = append(stacksOf, sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/tsa-"+e.Name+"-*/*"))
		}
		assert.Equal(t, map[string][]string{
			"cloudformation:DescribeStacks": stacksOf,
			"cloudformation:GetTemplate":    stacksOf,
		}, permissions(t, roleByName(t, s.raw, config.CIDiffRoleName)), name)
	}
}

// TestSmokeRoleReadsWhatTheSmokeCheckReads: the stacks' outputs, the API
// key secrets only (by the compute stack's logical ID and the project tag),
// and the load balancers (DescribeLoadBalancers has no resource-level
// permissions).
func TestSmokeRoleReadsWhatTheSmokeCheckReads(t *testing.T) {
	s := ciVariants(t)["nonprod"]
	role := roleByName(t, s.raw, config.CISmokeRoleName)
	assert.Equal(t, map[string][]string{
		"cloudformation:DescribeStacks":              {sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/tsa-*/*")},
		"secretsmanager:GetSecretValue":              {sub("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:ApiKeyF9DDEE66-*")},
		"elasticloadbalancing:DescribeLoadBalancers": {`"*"`},
		"kms:Decrypt": {sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")},
	}, permissions(t, role))
	assert.Contains(t, jsonOf(props(role)["Policies"]), `"Condition":{"StringEquals":{"aws:ResourceTag/project":"tsa"}}`)
	// Production's API key is encrypted with the data key: decrypt only keys
	// of this project, only through Secrets Manager.
	assert.Contains(t, jsonOf(props(role)["Policies"]), `"Condition":{"StringEquals":{"aws:ResourceTag/project":"tsa","kms:ViaService":{"Fn::Sub":"secretsmanager.${AWS::Region}.amazonaws.com"}}}`)
	_, key := one(t, envs["prod"].raw["data"], "AWS::KMS::Key")
	assert.Contains(t, jsonOf(props(key)["Tags"]), `{"Key":"project","Value":"tsa"}`, "the data key carries the tag the smoke role matches")
	id, _ := one(t, envs["dev"].raw["compute"], "AWS::SecretsManager::Secret")
	assert.Equal(t, stacks.ApiKeyLogicalID, id, "the smoke role names the API key by its logical ID")
}

// TestCIStackPassesNag: the same checks as the environments' (cfn-lint
// checks the CI stacks' templates in TestCfnLint).
func TestCIStackPassesNag(t *testing.T) {
	for name, s := range ciVariants(t) {
		assert.Empty(t, annotations(t, s.outdir, config.CIStackName, "AwsSolutions-"), "%s has unsuppressed cdk-nag findings", name)
		for id, r := range s.raw["Resources"].(map[string]any) {
			meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			for _, rule := range asList(nag["rules_to_suppress"]) {
				reason, _ := rule.(map[string]any)["reason"].(string)
				assert.GreaterOrEqual(t, len(reason), 40, "%s/%s: a suppression needs a reason", name, id)
			}
		}
	}
}

// TestCISnapshots: the CI stacks of cdk.json's accounts, compared like the
// environments' (refresh with `go test ./test -update`).
func TestCISnapshots(t *testing.T) {
	dir := filepath.Join(root, "test", "snapshots")
	for _, account := range []string{"nonprod", "prod"} {
		got, err := normalize(synthCI(t, account, account, nil).raw)
		require.NoError(t, err)
		path := filepath.Join(dir, "tsa-ci."+account+".template.json")
		if *update {
			require.NoError(t, os.WriteFile(path, got, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "no snapshot %s: run `go test ./test -update` and commit it", path)
		if !bytes.Equal(want, got) {
			t.Errorf("%s differs from its snapshot:\n%s\nIf the change is intended, run `go test ./test -update` and commit the snapshot.", filepath.Base(path), lineDiff(string(want), string(got)))
		}
	}
}

// TestREADMEListsCISuppressions: the CI stack's exceptions are in the
// README's table with the reasons the template carries.
func TestREADMEListsCISuppressions(t *testing.T) {
	text := readme(t)
	for _, s := range stacks.CISuppressions() {
		assert.True(t, strings.Contains(text, "| "+s.Rule+" | ") && strings.Contains(text, s.Reason), "README lacks the CI suppression %s on %s with its reason", s.Rule, s.Path)
	}
}
