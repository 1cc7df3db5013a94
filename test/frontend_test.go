package test

import (
	"encoding/json"
	"os"
	"path/filepath"
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
