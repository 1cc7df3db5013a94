package cost

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An environment-agnostic template is priced as if deployed in the price
// table's region: a resource conditional on us-east-1 (CloudFront alarms,
// whose metrics exist only there) counts; one for another region does not.
func TestRegionConditionsUseThePriceTableRegion(t *testing.T) {
	rep := estimateInline(t, "region", `{
	  "Conditions": {
	    "InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
	    "InEuWest1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}
	  },
	  "Resources": {
	    "CdnAlarm": {"Type": "AWS::CloudWatch::Alarm", "Condition": "InUsEast1", "Properties": {"Period": 60}},
	    "EuAlarm": {"Type": "AWS::CloudWatch::Alarm", "Condition": "InEuWest1", "Properties": {"Period": 60}},
	    "Metrics": {"Type": "AWS::CloudFront::MonitoringSubscription",
	                "Properties": {"DistributionId": "E123", "MonitoringSubscription": {"RealtimeMetricsSubscriptionConfig": {"RealtimeMetricsSubscriptionStatus": "Enabled"}}}},
	    "NoMetrics": {"Type": "AWS::CloudFront::MonitoringSubscription",
	                  "Properties": {"DistributionId": "E456", "MonitoringSubscription": {"RealtimeMetricsSubscriptionConfig": {"RealtimeMetricsSubscriptionStatus": "Disabled"}}}}
	  }
	}`)
	// CdnAlarm: 1 standard metric x 0.10 = 0.10; EuAlarm not created
	// Metrics: 8 custom metrics x 0.30 = 2.40; NoMetrics free
	got := byResource(rep)
	assert.InDelta(t, 0.10, got["CdnAlarm"], 1e-9)
	assert.Zero(t, got["EuAlarm"])
	assert.InDelta(t, 2.40, got["Metrics"], 1e-9)
	assert.Zero(t, got["NoMetrics"])
	assert.InDelta(t, 2.50, rep.MonthlyUSD, 1e-9)
	assert.Zero(t, rep.NotPriced)
}

// Fn::GetStackOutput (CDK's weak cross-stack references) is followed into the
// other loaded template, as Fn::ImportValue is.
func TestGetStackOutputIsFollowed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) *Stack {
		path := filepath.Join(dir, name+".template.json")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		s, err := LoadStack(path)
		require.NoError(t, err)
		return s
	}
	producer := write("tsa-test-compute", `{"Resources": {}, "Outputs": {"Size": {"Value": "30"}}}`)
	consumer := write("tsa-test-data", `{"Resources": {"Volume": {"Type": "AWS::EC2::Volume", "Properties": {"VolumeType": "gp3",
	  "Size": {"Fn::GetStackOutput": {"StackName": "tsa-test-compute", "OutputName": "Size", "Region": {"Ref": "AWS::Region"}}}}}}}`)
	prices, err := DefaultPrices()
	require.NoError(t, err)
	rep := Estimate("test", []*Stack{producer, consumer}, prices)
	// gp3 30 GB x 0.08 = 2.40
	assert.InDelta(t, 2.40, rep.MonthlyUSD, 1e-9)
	assert.Zero(t, rep.NotPriced)
}
