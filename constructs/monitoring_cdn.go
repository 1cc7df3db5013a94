package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// CloudFrontMetricsRegion is the only region CloudFront publishes its
// metrics to (namespace AWS/CloudFront, dimension Region=Global).
const CloudFrontMetricsRegion = "us-east-1"

// DistributionAlarmsProps configures the alarm of a CloudFront distribution.
type DistributionAlarmsProps struct {
	AlarmOptions
	Distribution     awscloudfront.IDistribution
	ErrorRatePercent float64
	// AdditionalMetrics subscribes the distribution to CloudFront's additional
	// metrics (cache hit rate, origin latency, per-code error rates), billed
	// as eight custom CloudWatch metrics per distribution.
	AdditionalMetrics bool
}

// DistributionAlarms is the 5xx-rate alarm of a distribution and its metrics.
//
// CloudFront metrics exist only in us-east-1 and a CloudWatch alarm can only
// watch metrics of its own region, so the alarm can only live in a stack
// deployed to us-east-1:
//   - stack pinned to us-east-1: the alarm is created;
//   - stack pinned to another region: no alarm, and a warning says so;
//   - environment-agnostic stack: the alarm is created under a template
//     condition (Fn::Equals AWS::Region us-east-1), so it exists exactly when
//     the stack is deployed there and never sits silent elsewhere.
//
// The graph metrics carry region us-east-1, so a dashboard in any region
// shows them.
type DistributionAlarms struct {
	cdkconstructs.Construct

	// ErrorRate5xx is nil when the stack is pinned to another region.
	ErrorRate5xx awscloudwatch.Alarm
	// Condition is set when ErrorRate5xx only exists in us-east-1 deployments;
	// nothing outside the condition may reference the alarm then.
	Condition awscdk.CfnCondition

	Metrics DistributionMetrics
}

// DistributionMetrics are the distribution's one-minute metrics in us-east-1,
// for graphs in any region.
type DistributionMetrics struct {
	Requests     awscloudwatch.IMetric
	ErrorRate5xx awscloudwatch.IMetric
	ErrorRate4xx awscloudwatch.IMetric
	// CacheHitRate has data only with AdditionalMetrics.
	CacheHitRate awscloudwatch.IMetric
}

// NewDistributionAlarms creates the alarm (where it can exist) and, with
// AdditionalMetrics, the monitoring subscription.
func NewDistributionAlarms(scope cdkconstructs.Construct, id string, props *DistributionAlarmsProps) *DistributionAlarms {
	props.check("DistributionAlarms")
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)
	distID := props.Distribution.DistributionId()

	// aws-cdk-lib's Distribution.metric* omit the Region=Global dimension that
	// CloudFront publishes with, so build the metrics here.
	metric := func(name, statistic, region string) awscloudwatch.Metric {
		p := &awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/CloudFront"),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"DistributionId": distID, "Region": jsii.String("Global")},
			Statistic:     jsii.String(statistic),
			Period:        minute(),
		}
		if region != "" {
			p.Region = jsii.String(region)
		}
		return awscloudwatch.NewMetric(p)
	}
	a := &DistributionAlarms{Construct: this}
	a.Metrics = DistributionMetrics{
		Requests:     metric("Requests", "Sum", CloudFrontMetricsRegion),
		ErrorRate5xx: metric("5xxErrorRate", "Average", CloudFrontMetricsRegion),
		ErrorRate4xx: metric("4xxErrorRate", "Average", CloudFrontMetricsRegion),
		CacheHitRate: metric("CacheHitRate", "Average", CloudFrontMetricsRegion),
	}

	if props.AdditionalMetrics {
		awscloudfront.NewCfnMonitoringSubscription(this, jsii.String("AdditionalMetrics"), &awscloudfront.CfnMonitoringSubscriptionProps{
			DistributionId: distID,
			MonitoringSubscription: &awscloudfront.CfnMonitoringSubscription_MonitoringSubscriptionProperty{
				RealtimeMetricsSubscriptionConfig: &awscloudfront.CfnMonitoringSubscription_RealtimeMetricsSubscriptionConfigProperty{
					RealtimeMetricsSubscriptionStatus: jsii.String("Enabled"),
				},
			},
		})
	}

	region := stack.Region()
	pinned := !*awscdk.Token_IsUnresolved(region)
	if pinned && *region != CloudFrontMetricsRegion {
		awscdk.Annotations_Of(this).AddWarningV2(jsii.String("@tsa/monitoring:cloudfront-alarm-region"), jsii.String(fmt.Sprintf(
			"no CloudFront 5xx alarm: CloudFront publishes its metrics only in %s and an alarm cannot watch another region's metrics, but this stack is pinned to %s. "+
				"The dashboard still graphs the distribution's metrics from %s.", CloudFrontMetricsRegion, *region, CloudFrontMetricsRegion)), nil)
		return a
	}

	// Missing data: NOT_BREACHING. CloudFront only publishes while it serves
	// requests; no requests is not an error.
	a.ErrorRate5xx = props.newAlarm(this, alarmSpec{
		id: "ErrorRate5xx", name: "cloudfront-5xx-rate", anchor: "cloudfront-5xx-rate",
		summary:   "CloudFront answered viewers with 5xx (origin errors, unreachable API or S3 origin).",
		metric:    metric("5xxErrorRate", "Average", ""),
		threshold: props.ErrorRatePercent,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if !pinned {
		a.Condition = awscdk.NewCfnCondition(this, jsii.String("InMetricsRegion"), &awscdk.CfnConditionProps{
			Expression: awscdk.Fn_ConditionEquals(stack.Region(), jsii.String(CloudFrontMetricsRegion)),
		})
		a.ErrorRate5xx.Node().DefaultChild().(awscloudwatch.CfnAlarm).CfnOptions().SetCondition(a.Condition)
	}
	return a
}

// Alarms lists the alarms other resources may reference unconditionally.
func (a *DistributionAlarms) Alarms() []awscloudwatch.IAlarm {
	if a.ErrorRate5xx == nil || a.Condition != nil {
		return nil
	}
	return []awscloudwatch.IAlarm{a.ErrorRate5xx}
}
