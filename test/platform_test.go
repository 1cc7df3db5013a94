package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type manifest struct {
	Missing   []any `json:"missing"`
	Artifacts map[string]struct {
		Type         string   `json:"type"`
		Dependencies []string `json:"dependencies"`
		Environment  string   `json:"environment"`
	} `json:"artifacts"`
}

func readManifest(t *testing.T, outdir string) manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(outdir, "manifest.json"))
	require.NoError(t, err)
	var m manifest
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

// TestStacksDeployAloneInOrder: four stacks per environment, named for it,
// each depending only on stacks before it (network -> data -> compute ->
// frontend), so `cdk deploy NAME` works one stack at a time. With the WAF
// (prod) the edge stack comes before the frontend, which reads its web ACL.
func TestStacksDeployAloneInOrder(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		parts := envs[env].parts()
		m := readManifest(t, envs[env].outdir)
		var names []string
		for name, a := range m.Artifacts {
			if a.Type == "aws:cloudformation:stack" {
				names = append(names, name)
			}
		}
		order := make([]string, len(parts))
		for i, p := range parts {
			order[i] = "tsa-" + env + "-" + p
		}
		assert.ElementsMatch(t, order, names)
		if envs[env].cfg.Frontend.Waf.Enabled {
			assert.Contains(t, m.Artifacts["tsa-"+env+"-frontend"].Dependencies, "tsa-"+env+"-edge", "the frontend is deployed after the web ACL it reads")
		}
		for i, name := range order {
			for _, dep := range m.Artifacts[name].Dependencies {
				if strings.HasSuffix(dep, ".assets") {
					continue
				}
				at := slices.Index(order, dep)
				assert.True(t, at >= 0 && at < i, "%s depends on %s, which is not deployed before it", name, dep)
			}
		}
	}
}

// TestSynthIsOffline: no context lookups (they would need AWS credentials
// and write cdk.context.json); environment-agnostic by default. The edge
// stack is the exception by design: a CloudFront web ACL exists only in
// us-east-1, so that stack names the region (and the account only when the
// environment pins one); still no lookup.
func TestSynthIsOffline(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		for _, s := range allVariants(t, env) {
			m := readManifest(t, s.outdir)
			assert.Empty(t, m.Missing, "%s synthesis asked AWS for context", env)
			for name, a := range m.Artifacts {
				if a.Type != "aws:cloudformation:stack" {
					continue
				}
				account, region := "unknown-account", "unknown-region"
				if s.cfg.PinnedEnvironment() {
					account, region = s.cfg.Account, s.cfg.Region
				}
				if name == s.cfg.StackName("edge") {
					region = "us-east-1"
				}
				assert.Equal(t, "aws://"+account+"/"+region, a.Environment, "%s is environment-agnostic unless account/region are configured", name)
			}
		}
	}
	_, err := os.Stat(filepath.Join(root, "cdk.context.json"))
	assert.True(t, os.IsNotExist(err), "cdk.context.json exists: a lookup ran; synthesis must not depend on it")
}

// TestOutputsAreDescribed: every stack output says what it is.
func TestOutputsAreDescribed(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		for _, part := range envs[env].parts() {
			outputs, _ := envs[env].raw[part]["Outputs"].(map[string]any)
			for id, o := range outputs {
				desc, _ := o.(map[string]any)["Description"].(string)
				if !strings.HasPrefix(id, "PublishOutput") { // CDK's cross-stack plumbing
					assert.NotEmpty(t, desc, "tsa-%s-%s output %s has no description", env, part, id)
				}
			}
		}
	}
	want := map[string][]string{
		"network":  {"VpcId", "PublicSubnetIds", "IsolatedSubnetIds", "RepositoryUri"},
		"data":     {"DatabaseEndpoint", "DatabasePort", "DatabaseSecretArn"},
		"compute":  {"LoadBalancerDnsName", "ClusterName", "ServiceName", "ServiceSecurityGroupId", "ApiKeySecretArn"},
		"frontend": {"SiteUrl", "ApiUrl", "DistributionId"},
	}
	for part, ids := range want {
		for _, id := range ids {
			assert.Contains(t, envs["prod"].raw[part]["Outputs"], id, "tsa-prod-%s output %s", part, id)
		}
	}
}
