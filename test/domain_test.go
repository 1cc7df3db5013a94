package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	assert.Equal(t, m("AcmCertificateArn", certificateArn, "MinimumProtocolVersion", "TLSv1.2_2021", "SslSupportMethod", "sni-only"), dc["ViewerCertificate"])

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

	// With a certificate the TLS-version finding no longer needs a suppression.
	assert.NotContains(t, jsonOf(dist["Metadata"]), "AwsSolutions-CFR4")
	assert.Empty(t, annotations(t, s.outdir, *s.platform.Frontend.ArtifactId(), "AwsSolutions-"))
}
