package cost

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
