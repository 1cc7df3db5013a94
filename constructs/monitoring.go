package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RunbookPath is where every alarm description points operators.
const RunbookPath = "docs/runbook.md"

// OperationsKeyProps configures an environment's operations key.
type OperationsKeyProps struct {
	// Alias is the key's alias without the "alias/" prefix; empty for none.
	Alias string
	// RemovalPolicy must keep the key as long as anything encrypted with it
	// is kept (the ECS Exec session logs of a production environment).
	RemovalPolicy awscdk.RemovalPolicy
	// DisableRotation turns off the yearly rotation of the key material.
	// Rotation bounds how much data one key version protects; turn it off
	// only where nothing encrypted with the key outlives a rotation period.
	DisableRotation bool
}

// NewOperationsKey creates the customer-managed key (rotation on unless
// DisableRotation) that encrypts an environment's alarm notifications
// (AlarmTopic). The ECS Exec audit has a key of its own (ExecSessionLogs).
// Each user adds the service grant it needs to the key policy.
//
// It is customer-managed because the AWS-managed alias/aws/sns key's policy
// cannot be changed, and CloudWatch needs kms:GenerateDataKey* and
// kms:Decrypt on the topic's key to publish to an encrypted topic.
func NewOperationsKey(scope cdkconstructs.Construct, id string, props *OperationsKeyProps) awskms.Key {
	keyProps := &awskms.KeyProps{
		Description:       jsii.String("Encrypts alarm notifications"),
		EnableKeyRotation: jsii.Bool(!props.DisableRotation),
		RemovalPolicy:     props.RemovalPolicy,
	}
	if props.RemovalPolicy != awscdk.RemovalPolicy_RETAIN && props.RemovalPolicy != awscdk.RemovalPolicy_SNAPSHOT {
		keyProps.PendingWindow = awscdk.Duration_Days(jsii.Number(7))
	}
	if props.Alias != "" {
		keyProps.Alias = jsii.String("alias/" + props.Alias)
	}
	return awskms.NewKey(scope, jsii.String(id), keyProps)
}

// AlarmTopicProps configures the topic every alarm of an environment notifies.
type AlarmTopicProps struct {
	// Key encrypts the topic; the construct allows CloudWatch to use it.
	// When nil the construct creates its own (NewOperationsKey, destroyed
	// with the stack).
	Key awskms.IKey
	// TopicName is the SNS topic's name; empty lets CloudFormation generate one.
	TopicName string
	// DisplayName is the sender name e-mail subscribers see.
	DisplayName string
	// Email, when set, subscribes this address. SNS e-mails a confirmation
	// link; nothing is delivered until the recipient confirms it.
	Email string
}

// AlarmTopic is an SNS topic encrypted with a customer-managed KMS key,
// reachable over TLS only, that this account's CloudWatch alarms may publish to.
type AlarmTopic struct {
	cdkconstructs.Construct
	Topic awssns.Topic
	Key   awskms.IKey
}

// NewAlarmTopic creates the topic, its policy, the key grant and the optional
// e-mail subscription.
func NewAlarmTopic(scope cdkconstructs.Construct, id string, props *AlarmTopicProps) *AlarmTopic {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)

	key := props.Key
	if key == nil {
		key = NewOperationsKey(this, "Key", &OperationsKeyProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	}
	// CloudWatch publishes through SNS, which encrypts with the caller's rights.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)

	topicProps := &awssns.TopicProps{
		MasterKey: key,
		// Adds a topic policy that denies every request made without TLS
		// (aws:SecureTransport false).
		EnforceSSL: jsii.Bool(true),
	}
	if props.TopicName != "" {
		topicProps.TopicName = jsii.String(props.TopicName)
	}
	if props.DisplayName != "" {
		topicProps.DisplayName = jsii.String(props.DisplayName)
	}
	topic := awssns.NewTopic(this, jsii.String("Topic"), topicProps)

	// A topic policy replaces SNS's default one, which is what lets alarms of
	// this account publish; say so explicitly, limited to this account's alarms.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowThisAccountsAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
			"ArnLike": map[string]any{"aws:SourceArn": awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("arn:"), stack.Partition(), jsii.String(":cloudwatch:"), stack.Region(), jsii.String(":"), stack.Account(), jsii.String(":alarm:*"),
			})},
		},
	}))

	if props.Email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	return &AlarmTopic{Construct: this, Topic: topic, Key: key}
}

// AlarmOptions is what every alarm construct shares.
type AlarmOptions struct {
	// NamePrefix starts every alarm name, e.g. "tsa-prod". Alarm names are
	// fixed so deployment alarms, the runbook and the console all use them.
	NamePrefix string
	// Topic receives the ALARM and the OK notification of every alarm.
	Topic awssns.ITopic
	// EvaluationPeriods is how many consecutive one-minute periods must breach
	// before an alarm fires (all of them: DatapointsToAlarm equals it).
	EvaluationPeriods int
}

// AlarmName is the full name of an alarm of this construct family.
func (o *AlarmOptions) AlarmName(name string) string {
	return o.NamePrefix + "-" + name
}

func (o *AlarmOptions) check(what string) {
	if o.Topic == nil {
		panic(what + ": AlarmOptions.Topic is required")
	}
	if o.NamePrefix == "" {
		panic(what + ": AlarmOptions.NamePrefix is required")
	}
	if o.EvaluationPeriods < 1 {
		panic(fmt.Sprintf("%s: AlarmOptions.EvaluationPeriods must be at least 1, got %d", what, o.EvaluationPeriods))
	}
}

// alarmSpec describes one alarm; newAlarm fills in what all alarms share.
type alarmSpec struct {
	id        string
	name      string
	summary   string
	anchor    string
	metric    awscloudwatch.IMetric
	threshold float64
	op        awscloudwatch.ComparisonOperator
	missing   awscloudwatch.TreatMissingData
	// periods overrides AlarmOptions.EvaluationPeriods when greater than zero.
	periods int
	// lowSampleCount applies to percentile statistics only.
	lowSampleCount string
}

func (o *AlarmOptions) newAlarm(scope cdkconstructs.Construct, s alarmSpec) awscloudwatch.Alarm {
	periods := o.EvaluationPeriods
	if s.periods > 0 {
		periods = s.periods
	}
	props := &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(o.AlarmName(s.name)),
		AlarmDescription:   jsii.String(fmt.Sprintf("%s Runbook: %s#%s", s.summary, RunbookPath, s.anchor)),
		Metric:             s.metric,
		Threshold:          jsii.Number(s.threshold),
		ComparisonOperator: s.op,
		EvaluationPeriods:  jsii.Number(float64(periods)),
		DatapointsToAlarm:  jsii.Number(float64(periods)),
		TreatMissingData:   s.missing,
	}
	if s.lowSampleCount != "" {
		props.EvaluateLowSampleCountPercentile = jsii.String(s.lowSampleCount)
	}
	alarm := awscloudwatch.NewAlarm(scope, jsii.String(s.id), props)
	action := awscloudwatchactions.NewSnsAction(o.Topic)
	alarm.AddAlarmAction(action)
	alarm.AddOkAction(action)
	return alarm
}

// perMinute reads a metric at the one-minute period with a statistic.
func perMinute(statistic string) *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Period: minute(), Statistic: jsii.String(statistic)}
}

// minute is the period of every alarm and graph: the finest resolution the
// ALB, ECS, RDS and CloudFront metrics are published at without extra cost.
func minute() awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(1)) }
