package test

// The WAF in front of the distribution (issue 12, point 3): a web ACL of
// scope CLOUDFRONT in its own us-east-1 stack, read by the frontend stack
// across regions.

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	tsaconstructs "github.com/tsa-platform/infra/constructs"
	"github.com/tsa-platform/infra/stacks"
)

// wafDevSynth is dev with the WAF turned on and its rate settings changed.
func wafDevSynth(t *testing.T) *synth {
	return variant(t, "waf", "dev", func(dev map[string]any) {
		frontend := dev["frontend"].(map[string]any)
		frontend["waf"] = map[string]any{"enabled": true, "apiRateLimit": 500, "rateWindowSeconds": 60}
	})
}

// wafSynths are the configurations with a web ACL: prod as cdk.json has it,
// prod pinned to an account and region, and dev with frontend.waf on.
func wafSynths(t *testing.T) []*synth {
	return []*synth{envs["prod"], monitoringPinnedSynth(t), wafDevSynth(t)}
}

// TestWebACLRules: the web ACL filters requests to the whole distribution
// with AWS's IP reputation list, a rate limit on the API, the known bad
// inputs and core rule sets, in that order; only the core rule set's body
// size rule is relaxed (counted), because the API takes 1 MiB batch writes.
func TestWebACLRules(t *testing.T) {
	for _, s := range wafSynths(t) {
		t.Run(variantName(s), func(t *testing.T) {
			require.NotNil(t, s.platform.Edge)
			edge := s.raw["edge"]
			_, acl := one(t, edge, "AWS::WAFv2::WebACL")
			p := props(acl)
			assert.Equal(t, "CLOUDFRONT", p["Scope"])
			assert.Equal(t, m("Allow", m()), p["DefaultAction"], "requests no rule blocks reach the site and the API")

			rules := asList(p["Rules"])
			var names []string
			for i, r := range rules {
				rule := r.(map[string]any)
				names = append(names, rule["Name"].(string))
				assert.EqualValues(t, i, rule["Priority"], "%s is evaluated in this order", rule["Name"])
				vis := rule["VisibilityConfig"].(map[string]any)
				assert.Equal(t, true, vis["CloudWatchMetricsEnabled"], "%s: per-rule metrics", rule["Name"])
				assert.Equal(t, true, vis["SampledRequestsEnabled"], "%s: sampled requests for operators", rule["Name"])
			}
			assert.Equal(t, []string{tsaconstructs.RuleIPReputation, tsaconstructs.RuleAPIRateLimit, tsaconstructs.RuleKnownBadInputs, tsaconstructs.RuleCoreRuleSet}, names)

			groups := map[string]map[string]any{}
			for _, r := range rules {
				rule := r.(map[string]any)
				stmt := rule["Statement"].(map[string]any)
				if g, ok := stmt["ManagedRuleGroupStatement"].(map[string]any); ok {
					assert.Equal(t, "AWS", g["VendorName"])
					assert.Equal(t, m("None", m()), rule["OverrideAction"], "%s blocks what its rules block", rule["Name"])
					groups[g["Name"].(string)] = g
				}
			}
			assert.ElementsMatch(t, []string{tsaconstructs.ManagedIPReputation, tsaconstructs.ManagedKnownBadInputs, tsaconstructs.ManagedCoreRuleSet}, keys(groups))
			assert.Nil(t, groups[tsaconstructs.ManagedIPReputation]["RuleActionOverrides"])
			assert.Nil(t, groups[tsaconstructs.ManagedKnownBadInputs]["RuleActionOverrides"])
			assert.Equal(t, []any{m("Name", "SizeRestrictions_BODY", "ActionToUse", m("Count", m()))},
				groups[tsaconstructs.ManagedCoreRuleSet]["RuleActionOverrides"], "only the 8 KB body limit is relaxed: the API accepts 1 MiB writes")
			assert.Nil(t, groups[tsaconstructs.ManagedCoreRuleSet]["ScopeDownStatement"], "the core rule set inspects the site and the API")

			// The rate limit counts API requests per client IP and answers 429.
			rate := rules[1].(map[string]any)
			assert.Equal(t, m("Block", m("CustomResponse", m("ResponseCode", float64(429)))), rate["Action"])
			rbs := rate["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
			assert.Equal(t, "IP", rbs["AggregateKeyType"])
			assert.EqualValues(t, s.cfg.Frontend.Waf.APIRateLimit, rbs["Limit"])
			assert.EqualValues(t, s.cfg.Frontend.Waf.RateWindowSeconds, rbs["EvaluationWindowSec"])
			match := rbs["ScopeDownStatement"].(map[string]any)["ByteMatchStatement"].(map[string]any)
			assert.Equal(t, m("UriPath", m()), match["FieldToMatch"])
			assert.Equal(t, "STARTS_WITH", match["PositionalConstraint"])
			assert.Equal(t, strings.TrimSuffix(stacks.APIPathPattern, "*"), match["SearchString"], "the rate limit covers exactly what CloudFront routes to the API")
			assert.Equal(t, []any{m("Priority", float64(0), "Type", "NONE")}, match["TextTransformations"], "paths are matched as CloudFront routes them: case-sensitive")
		})
	}
	dev := wafDevSynth(t)
	rbs := asList(props(mustOne(t, dev.raw["edge"], "AWS::WAFv2::WebACL"))["Rules"])[1].(map[string]any)["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
	assert.EqualValues(t, 500, rbs["Limit"], "frontend.waf.apiRateLimit reaches the rule")
	assert.EqualValues(t, 60, rbs["EvaluationWindowSec"], "frontend.waf.rateWindowSeconds reaches the rule")
}

// TestWebACLIsAttachedAcrossRegions: the edge stack deploys to us-east-1
// (where CloudFront web ACLs live) whatever the other stacks' region, the
// frontend stack reads its ARN there with Fn::GetStackOutput from an output
// the edge stack has, and is deployed after it.
func TestWebACLIsAttachedAcrossRegions(t *testing.T) {
	for _, s := range wafSynths(t) {
		t.Run(variantName(s), func(t *testing.T) {
			edgeName := s.cfg.StackName("edge")
			mf := readManifest(t, s.outdir)
			assert.True(t, strings.HasSuffix(mf.Artifacts[edgeName].Environment, "/"+tsaconstructs.CloudFrontWAFRegion), "the edge stack deploys to us-east-1: %s", mf.Artifacts[edgeName].Environment)
			assert.Contains(t, mf.Artifacts[s.cfg.StackName("frontend")].Dependencies, edgeName)

			outputs := s.raw["edge"]["Outputs"].(map[string]any)
			aclID, _ := one(t, s.raw["edge"], "AWS::WAFv2::WebACL")
			require.Contains(t, outputs, stacks.WebACLArnOutput)
			assert.Equal(t, map[string]any{"Fn::GetAtt": []any{aclID, "Arn"}}, outputs[stacks.WebACLArnOutput].(map[string]any)["Value"])
			assert.Len(t, s.raw["edge"]["Resources"], 1, "the edge stack holds the web ACL only")

			_, dist := one(t, s.raw["frontend"], "AWS::CloudFront::Distribution")
			dc := props(dist)["DistributionConfig"].(map[string]any)
			assert.Equal(t, map[string]any{"Fn::GetStackOutput": map[string]any{
				"StackName": edgeName, "OutputName": stacks.WebACLArnOutput, "Region": tsaconstructs.CloudFrontWAFRegion,
			}}, dc["WebACLId"])
		})
	}
}

// TestNoWebACLInDev: dev (WAF off by default) has four stacks and a
// distribution without a web ACL, the cdk-nag finding suppressed with the
// reason; production cannot turn it off (config validation).
func TestNoWebACLInDev(t *testing.T) {
	s := envs["dev"]
	assert.Nil(t, s.platform.Edge)
	assert.NotContains(t, s.raw, "edge")
	_, dist := one(t, s.raw["frontend"], "AWS::CloudFront::Distribution")
	assert.NotContains(t, props(dist)["DistributionConfig"], "WebACLId")
	assert.Contains(t, jsonOf(dist["Metadata"]), "AwsSolutions-CFR2")
	for _, w := range wafSynths(t) {
		_, dist := one(t, w.raw["frontend"], "AWS::CloudFront::Distribution")
		assert.NotContains(t, jsonOf(dist["Metadata"]), "AwsSolutions-CFR2", "%s: with a web ACL nothing is suppressed", variantName(w))
	}
}

// mustOne returns the single resource of a type.
func mustOne(t *testing.T, tpl map[string]any, typ string) map[string]any {
	t.Helper()
	_, r := one(t, tpl, typ)
	return r
}
