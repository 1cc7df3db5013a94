package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/stacks"
)

const (
	domainName     = "app.example.com"
	certificateArn = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
)

// domainSynth is prod with a custom domain, its us-east-1 certificate and a
// Route 53 zone.
func domainSynth(t *testing.T) *synth {
	return variant(t, "domain", "prod", func(settings map[string]any) {
		settings["frontend"] = map[string]any{
			"domainName": domainName, "certificateArn": certificateArn,
			"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com",
		}
	})
}

// TestCustomDomain: the distribution answers on the configured name with the
// us-east-1 certificate and TLS 1.2+, Route 53 points the name at it, and the
// outputs use it.
func TestCustomDomain(t *testing.T) {
	s := domainSynth(t)
	require.NoError(t, s.err)
	raw := s.raw["frontend"]
	_, dist := one(t, raw, "AWS::CloudFront::Distribution")
	dc := props(dist)["DistributionConfig"].(map[string]any)
	assert.Equal(t, []any{domainName}, dc["Aliases"])
	// TLSv1.2_2025: TLS 1.2 and 1.3 with AEAD ciphers only ("Supported
	// protocols and ciphers between viewers and CloudFront").
	assert.Equal(t, m("AcmCertificateArn", certificateArn, "MinimumProtocolVersion", "TLSv1.2_2025", "SslSupportMethod", "sni-only"), dc["ViewerCertificate"])

	var types []string
	for _, r := range resources(raw, "AWS::Route53::RecordSet") {
		p := props(r)
		assert.Equal(t, domainName+".", p["Name"])
		assert.Equal(t, "Z0123456789ABCDEFGHIJ", p["HostedZoneId"])
		assert.Contains(t, jsonOf(p["AliasTarget"]), "Distribution", "alias to the distribution")
		types = append(types, p["Type"].(string))
	}
	assert.ElementsMatch(t, []string{"A", "AAAA"}, types)
	assert.Equal(t, "https://"+domainName, raw["Outputs"].(map[string]any)["SiteUrl"].(map[string]any)["Value"])

	// With a certificate the TLS-version finding no longer needs a
	// suppression, and production needs no reason.
	assert.NotContains(t, jsonOf(dist["Metadata"]), "AwsSolutions-CFR4")
	assert.Empty(t, annotations(t, s.outdir, *s.platform.Frontend.ArtifactId(), "AwsSolutions-"))
	assert.Empty(t, annotations(t, s.outdir, *s.platform.Frontend.ArtifactId(), stacks.DefaultCertificateWarning))
}

// TestProductionOnTheDefaultCertificateSaysWhy (issue 12, point 6): prod
// without a custom domain synthesizes only with a reason (config
// validation), and every synth prints it as a warning on the distribution,
// where CloudFront's floor is TLS 1.0; dev, which needs no reason, is quiet.
func TestProductionOnTheDefaultCertificateSaysWhy(t *testing.T) {
	prod := envs["prod"]
	require.Empty(t, prod.cfg.Frontend.DomainName, "cdk.json's prod has no domain")
	reason := prod.cfg.Frontend.AllowDefaultCertificate
	require.NotEmpty(t, reason)
	warnings := annotations(t, prod.outdir, *prod.platform.Frontend.ArtifactId(), stacks.DefaultCertificateWarning)
	require.Len(t, warnings, 1, "one warning on the distribution")
	assert.Contains(t, warnings[0], "/tsa-prod-frontend/Distribution: ")
	assert.Contains(t, warnings[0], "CloudFront accepts TLS 1.0 and 1.1")
	assert.Contains(t, warnings[0], reason, "the warning carries the configured reason")

	_, dist := one(t, prod.raw["frontend"], "AWS::CloudFront::Distribution")
	assert.Nil(t, props(dist)["DistributionConfig"].(map[string]any)["Aliases"])
	assert.Contains(t, jsonOf(dist["Metadata"]), "AwsSolutions-CFR4")

	dev := envs["dev"]
	assert.Empty(t, annotations(t, dev.outdir, *dev.platform.Frontend.ArtifactId(), stacks.DefaultCertificateWarning))
}
