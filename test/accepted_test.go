package test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnusualButValidConfigurationSynthesizes: input AWS accepts that the
// configuration once refused or mishandled synthesizes, and what the stacks
// receive is what AWS compares: prod in three pinned zones with a NAT
// gateway each and /27 subnets, a tag value of 256 non-ASCII characters,
// and DNS names in mixed case (a zone name with its trailing dot).
func TestUnusualButValidConfigurationSynthesizes(t *testing.T) {
	team := strings.Repeat("é", 256)
	s := variant(t, "accepted-edges", "prod", func(prod map[string]any) {
		prod["account"] = "123456789012"
		prod["region"] = "eu-west-1"
		prod["availabilityZones"] = []any{"eu-west-1a", "eu-west-1b", "eu-west-1c"}
		prod["network"].(map[string]any)["natGateways"] = 3
		prod["network"].(map[string]any)["subnetCidrMask"] = 27
		prod["tags"] = map[string]any{"team": team}
		prod["frontend"] = map[string]any{
			"domainName": "App.Example.com", "certificateArn": certificateArn,
			"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "Example.COM.",
		}
	})
	require.NoError(t, s.err)

	assert.Len(t, resources(s.raw["network"], "AWS::EC2::NatGateway"), 3, "one NAT gateway per zone")
	for id, subnet := range resources(s.raw["network"], "AWS::EC2::Subnet") {
		assert.True(t, strings.HasSuffix(props(subnet)["CidrBlock"].(string), "/27"), "%s is a /27", id)
	}
	_, vpc := one(t, s.raw["network"], "AWS::EC2::VPC")
	assert.Contains(t, props(vpc)["Tags"], m("Key", "team", "Value", team))

	_, dist := one(t, s.raw["frontend"], "AWS::CloudFront::Distribution")
	assert.Equal(t, []any{"app.example.com"}, props(dist)["DistributionConfig"].(map[string]any)["Aliases"])
	records := resources(s.raw["frontend"], "AWS::Route53::RecordSet")
	require.NotEmpty(t, records)
	for id, r := range records {
		assert.Equal(t, "app.example.com.", props(r)["Name"], "%s: the record is the domain, not the domain under a mixed-case zone name", id)
	}
}
