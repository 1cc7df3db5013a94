package cost

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func estimateInline(t *testing.T, name, tmpl string) Report {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".template.json")
	require.NoError(t, os.WriteFile(path, []byte(tmpl), 0o644))
	s, err := LoadStack(path)
	require.NoError(t, err)
	prices, err := DefaultPrices()
	require.NoError(t, err)
	return Estimate("test", []*Stack{s}, prices)
}

func TestConditionsAndImports(t *testing.T) {
	rep := estimateInline(t, "cond", `{
	  "Parameters": {"Env": {"Type": "String", "Default": "dev"}, "Stage": {"Type": "String"}},
	  "Conditions": {
	    "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
	    "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
	    "StageSet": {"Fn::Equals": [{"Ref": "Stage"}, "x"]}
	  },
	  "Resources": {
	    "ProdOnlyEip": {"Type": "AWS::EC2::EIP", "Condition": "IsProd"},
	    "DevOnlyEip": {"Type": "AWS::EC2::EIP", "Condition": "IsDev"},
	    "MaybeEip": {"Type": "AWS::EC2::EIP", "Condition": "StageSet"},
	    "Secret": {"Type": "AWS::SecretsManager::Secret",
	               "Properties": {"ReplicaRegions": [{"Region": "eu-west-1"}, {"Fn::If": ["IsProd", {"Region": "eu-west-2"}, {"Ref": "AWS::NoValue"}]}]}},
	    "Instance": {"Type": "AWS::EC2::Instance",
	                 "Properties": {"InstanceType": "t3.micro", "SubnetId": {"Fn::ImportValue": "elsewhere:Subnet"},
	                                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": "30"}}]}}
	  }
	}`)
	// DevOnlyEip: 0.005 x 730 = 3.65 (ProdOnlyEip not created)
	// Secret: 1 + 1 replica = 2 x 0.40 = 0.80 (the second replica is an Fn::If
	//   that resolves to AWS::NoValue in dev, so it is dropped)
	// Instance: t3.micro 0.0104 x 730 = 7.592 + gp2 (default) 30 x 0.10 = 3.00
	// total 3.65 + 0.80 + 7.592 + 3.00 = 15.042
	got := byResource(rep)
	assert.InDelta(t, 3.65, got["DevOnlyEip"], 1e-9)
	assert.Zero(t, got["ProdOnlyEip"])
	assert.InDelta(t, 0.80, got["Secret"], 1e-9)
	assert.InDelta(t, 10.592, got["Instance"], 1e-9)
	assert.InDelta(t, 15.042, rep.MonthlyUSD, 1e-6)

	np := reasons(allEntries(rep, true))
	require.Len(t, np, 2, np)
	// the import cannot be followed: the instance's public IP is unknown
	assert.Contains(t, np[0], `Instance: public IPv4 address: cannot tell whether the subnet assigns public IPs: SubnetId: export "elsewhere:Subnet" is not among the loaded templates`)
	assert.Contains(t, np[1], "MaybeEip: created only if condition StageSet holds, which cannot be evaluated: parameter Stage has no Default")
}
