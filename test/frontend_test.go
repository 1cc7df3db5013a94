package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/stacks"
)

func TestFrontend(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := envs[env]
		prod := s.cfg.Production()
		tpl := s.templates["frontend"]
		raw := s.raw["frontend"]
		t.Run(env, func(t *testing.T) {
			for id, b := range resources(raw, "AWS::S3::Bucket") {
				p := props(b)
				assert.Equal(t, m("BlockPublicAcls", true, "BlockPublicPolicy", true, "IgnorePublicAcls", true, "RestrictPublicBuckets", true),
					p["PublicAccessBlockConfiguration"], "%s blocks public access", id)
				assert.Contains(t, jsonOf(p["BucketEncryption"]), "AES256", "%s is encrypted at rest", id)
				want := "Delete"
				if prod {
					want = "Retain"
				}
				assert.Equal(t, want, b["DeletionPolicy"], "%s", id)
			}
			// Every bucket policy refuses plain HTTP.
			for id, pol := range resources(raw, "AWS::S3::BucketPolicy") {
				assert.Contains(t, jsonOf(props(pol)), `"aws:SecureTransport":"false"`, "%s denies non-TLS access", id)
			}
			if !prod {
				hasResource(t, tpl, "Custom::S3AutoDeleteObjects", m())
			}

			_, dist := one(t, raw, "AWS::CloudFront::Distribution")
			dc := props(dist)["DistributionConfig"].(map[string]any)
			def := dc["DefaultCacheBehavior"].(map[string]any)
			assert.Equal(t, "redirect-to-https", def["ViewerProtocolPolicy"])
			assert.Contains(t, jsonOf(def["FunctionAssociations"]), "viewer-request", "SPA routes are rewritten on the S3 behaviour")
			assert.Nil(t, dc["CustomErrorResponses"], "no distribution-wide error pages: API 404s stay 404s")
			assert.Equal(t, "index.html", dc["DefaultRootObject"])
			require.Len(t, dc["CacheBehaviors"], 1)
			api := dc["CacheBehaviors"].([]any)[0].(map[string]any)
			assert.Equal(t, stacks.APIPathPattern, api["PathPattern"])
			assert.Equal(t, "https-only", api["ViewerProtocolPolicy"])
			assert.Len(t, api["AllowedMethods"], 7, "the API takes every method")
			assert.Equal(t, "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", api["CachePolicyId"], "API responses are not cached (CachingDisabled)")

			origins := dc["Origins"].([]any)
			var s3Origin, vpcOrigin bool
			for _, o := range origins {
				om := o.(map[string]any)
				if _, ok := om["VpcOriginConfig"]; ok {
					vpcOrigin = true
					assert.Equal(t, om["Id"], api["TargetOriginId"], "/api/* goes to the VPC origin")
				}
				if _, ok := om["S3OriginConfig"]; ok {
					s3Origin = true
					assert.Contains(t, om, "OriginAccessControlId", "the bucket is read through origin access control")
				}
			}
			assert.True(t, s3Origin && vpcOrigin, "an S3 origin and a VPC origin")
			hasResource(t, tpl, "AWS::CloudFront::OriginAccessControl", m("OriginAccessControlConfig", assertions.Match_ObjectLike(&map[string]any{"OriginAccessControlOriginType": "s3", "SigningBehavior": "always"})))
			hasResource(t, tpl, "AWS::CloudFront::VpcOrigin", m("VpcOriginEndpointConfig", assertions.Match_ObjectLike(&map[string]any{"OriginProtocolPolicy": "http-only", "HTTPPort": 80})))

			_, headers := one(t, raw, "AWS::CloudFront::ResponseHeadersPolicy")
			sec := props(headers)["ResponseHeadersPolicyConfig"].(map[string]any)["SecurityHeadersConfig"].(map[string]any)
			assert.Equal(t, stacks.ContentSecurityPolicy, sec["ContentSecurityPolicy"].(map[string]any)["ContentSecurityPolicy"])
			assert.Equal(t, true, sec["StrictTransportSecurity"].(map[string]any)["IncludeSubdomains"])
			assert.Equal(t, "DENY", sec["FrameOptions"].(map[string]any)["FrameOption"])
			assert.Contains(t, jsonOf(def), jsonOf(mustRef(t, raw, "AWS::CloudFront::ResponseHeadersPolicy")), "site responses carry the security headers")
			assert.Contains(t, jsonOf(api), jsonOf(mustRef(t, raw, "AWS::CloudFront::ResponseHeadersPolicy")), "API responses carry the security headers")

			// Only the shell and its config are invalidated on deploy.
			deployments := resources(raw, "Custom::CDKBucketDeployment")
			require.Len(t, deployments, 2)
			var invalidated []any
			for _, d := range deployments {
				if paths, ok := props(d)["DistributionPaths"]; ok {
					invalidated = append(invalidated, paths.([]any)...)
				}
			}
			assert.ElementsMatch(t, []any{"/index.html", "/config.json"}, invalidated)

			assert.Equal(t, m("apiBaseUrl", "/api", "environment", env), configJSON(t, s.outdir), "config.json tells the page where the API is")
		})
	}
}

// mustRef is the {"Ref": id} of the single resource of a type.
func mustRef(t *testing.T, raw map[string]any, typ string) map[string]any {
	id, _ := one(t, raw, typ)
	return m("Ref", id)
}

// configJSON reads the generated config.json from the synthesized assets.
func configJSON(t *testing.T, outdir string) map[string]any {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(outdir, "asset.*", "config.json"))
	require.Len(t, matches, 1, "one generated config.json asset")
	data, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(data, &cfg))
	return cfg
}

// TestSiteDeploymentIsScoped (issue 12, point 4): the BucketDeployment
// handler reads only the S3 objects of its own sources (not the whole CDK
// asset bucket), reads and writes only the site bucket, invalidates only
// this distribution and writes only its own log group; no managed policy.
func TestSiteDeploymentIsScoped(t *testing.T) {
	const siteBucket = "SiteBucket397A1860"
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			raw := envs[env].raw["frontend"]
			res := raw["Resources"].(map[string]any)
			distID, _ := one(t, raw, "AWS::CloudFront::Distribution")

			// The handler function both deployments invoke, and its role.
			deployments := resources(raw, "Custom::CDKBucketDeployment")
			require.Len(t, deployments, 2)
			var handler string
			sources := map[string]bool{}
			for id, d := range deployments {
				fn := refID(props(d)["ServiceToken"])
				require.NotEmpty(t, fn, id)
				if handler == "" {
					handler = fn
				}
				assert.Equal(t, handler, fn, "%s: one handler for both deployments", id)
				keys := asList(props(d)["SourceObjectKeys"])
				require.Len(t, asList(props(d)["SourceBucketNames"]), len(keys))
				for _, k := range keys {
					sources[k.(string)] = true
				}
			}
			roleID := refID(props(res[handler].(map[string]any))["Role"])
			role := res[roleID].(map[string]any)
			assert.Nil(t, props(role)["ManagedPolicyArns"], "no AWSLambdaBasicExecutionRole: it may write any log group")

			// Every statement of every policy on the role, by action.
			byAction := map[string][]any{}
			policyOf := map[string]string{}
			for id, pol := range resources(raw, "AWS::IAM::Policy") {
				if !strings.Contains(jsonOf(props(pol)["Roles"]), `"`+roleID+`"`) {
					continue
				}
				for _, st := range asList(props(pol)["PolicyDocument"].(map[string]any)["Statement"]) {
					sm := st.(map[string]any)
					assert.Equal(t, "Allow", sm["Effect"])
					assert.NotContains(t, sm, "Condition")
					for _, a := range oneOrMany(sm["Action"]) {
						byAction[a.(string)] = append(byAction[a.(string)], oneOrMany(sm["Resource"])...)
						policyOf[a.(string)] = id
					}
				}
			}
			siteActions := []string{"s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:PutObject",
				"s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"}
			want := append([]string{"cloudfront:CreateInvalidation", "cloudfront:GetInvalidation", "s3:GetObject", "logs:CreateLogStream", "logs:PutLogEvents"}, siteActions...)
			assert.ElementsMatch(t, want, keys(byAction), "the role may do these and nothing else")
			for action, rs := range byAction {
				for _, r := range rs {
					assert.NotEqual(t, "*", r, "%s on every resource", action)
				}
			}

			// Invalidations: this distribution's ARN (the distribution
			// resource type of both actions).
			distArn := m("Fn::Join", []any{"", []any{"arn:", m("Ref", "AWS::Partition"), ":cloudfront::", m("Ref", "AWS::AccountId"), ":distribution/", m("Ref", distID)}})
			for _, a := range []string{"cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"} {
				assert.Equal(t, []any{distArn}, byAction[a], "%s on this distribution only", a)
			}

			// Sources: exactly the deployments' source objects in the CDK
			// asset bucket, each by its key.
			assetBucket := jsonOf(m("Fn::Sub", "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"))
			read := map[string]bool{}
			for _, r := range byAction["s3:GetObject"] {
				require.Contains(t, jsonOf(r), assetBucket, "s3:GetObject only on asset objects")
				join := asList(r.(map[string]any)["Fn::Join"].([]any)[1])
				key := strings.TrimPrefix(join[len(join)-1].(string), "/")
				assert.NotContains(t, key, "*", "one object, not a pattern")
				read[key] = true
			}
			assert.Equal(t, sources, read, "the handler reads its own source objects and nothing else of the asset bucket")

			// The site bucket: read, write and delete its objects, nothing else.
			for _, a := range siteActions {
				assert.ElementsMatch(t, []any{
					m("Fn::GetAtt", []any{siteBucket, "Arn"}),
					m("Fn::Join", []any{"", []any{m("Fn::GetAtt", []any{siteBucket, "Arn"}), "/*"}}),
				}, byAction[a], a)
			}

			// Logs: the handler's own log group, granted and created before
			// either deployment runs.
			for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
				require.Len(t, byAction[a], 1, a)
				group := refID(byAction[a][0])
				require.Contains(t, res, group, a)
				assert.Equal(t, "AWS::Logs::LogGroup", res[group].(map[string]any)["Type"])
				assert.Equal(t, group, logGroupOf(res[handler].(map[string]any)), "the handler's log group (its LoggingConfig)")
				for id, d := range deployments {
					assert.Contains(t, asList(d["DependsOn"]), group, "%s runs after its log group exists", id)
					assert.Contains(t, asList(d["DependsOn"]), policyOf[a], "%s runs after its log grant", id)
				}
			}
		})
	}
}

// oneOrMany reads a policy element that is a value or a list of values.
func oneOrMany(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}
