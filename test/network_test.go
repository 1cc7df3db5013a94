package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNetwork(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := envs[env]
		tpl := s.templates["network"]
		raw := s.raw["network"]
		n := s.cfg.Network
		t.Run(env, func(t *testing.T) {
			hasResource(t, tpl, "AWS::EC2::VPC", m("CidrBlock", n.VpcCidr, "EnableDnsHostnames", true, "EnableDnsSupport", true))

			subnets := resources(raw, "AWS::EC2::Subnet")
			wantGroups := 2 // public and isolated
			if n.NatGateways > 0 {
				wantGroups = 3 // and private app subnets behind NAT
			}
			assert.Len(t, subnets, wantGroups*s.cfg.AzCount(), "every subnet group spans every zone")
			for id, sn := range subnets {
				assert.NotEqual(t, true, props(sn)["MapPublicIpOnLaunch"], "%s must not hand out public IPs", id)
			}
			assert.Len(t, resources(raw, "AWS::EC2::NatGateway"), n.NatGateways, "NAT gateways per environment")

			hasResource(t, tpl, "AWS::EC2::FlowLog", m("TrafficType", "ALL", "LogDestinationType", "cloud-watch-logs"))
			hasResource(t, tpl, "AWS::Logs::LogGroup", m("RetentionInDays", n.FlowLogRetentionDays))
			_, endpoint := one(t, raw, "AWS::EC2::VPCEndpoint")
			assert.Equal(t, "Gateway", props(endpoint)["VpcEndpointType"])
			assert.Contains(t, jsonOf(props(endpoint)["ServiceName"]), ".s3", "the gateway endpoint is S3's")
			hasResource(t, tpl, "Custom::VpcRestrictDefaultSG", m())
		})
	}
}
