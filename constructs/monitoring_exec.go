package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ExecSessionLogsProps configures where ECS Exec sessions are recorded.
type ExecSessionLogsProps struct {
	// Key encrypts the sessions and the log group; the construct allows
	// CloudWatch Logs to use it. When nil the construct creates its own
	// (NewOperationsKey with RemovalPolicy). A kept log group is unreadable
	// without its key: keep the key as long as the group.
	Key       awskms.IKey
	Retention awslogs.RetentionDays
	// RemovalPolicy applies to the log group (and to the key it creates).
	RemovalPolicy awscdk.RemovalPolicy
}

// ExecSessionLogs is a KMS-encrypted log group that records every ECS Exec
// session (commands and output), and the key that also encrypts the session
// channel between the operator's CLI and the container.
type ExecSessionLogs struct {
	cdkconstructs.Construct
	LogGroup awslogs.LogGroup
	Key      awskms.IKey
}

// NewExecSessionLogs creates the log group and the key grant.
func NewExecSessionLogs(scope cdkconstructs.Construct, id string, props *ExecSessionLogsProps) *ExecSessionLogs {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)
	key := props.Key
	if key == nil {
		key = NewOperationsKey(this, "Key", &OperationsKeyProps{RemovalPolicy: props.RemovalPolicy})
	}
	// CloudWatch Logs encrypts the group's events with the key; it must be
	// allowed before the group is created. Limited to this account's log
	// groups in this region. This is the statement aws-cdk-lib's ECS service
	// adds for an exec key, written identically so the policy holds it once.
	region, account := *stack.Region(), *stack.Account()
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+region+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": "arn:" + *stack.Partition() + ":logs:" + region + ":" + account + ":*"},
		},
	}), nil)
	logGroup := awslogs.NewLogGroup(this, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     props.Retention,
		RemovalPolicy: props.RemovalPolicy,
		EncryptionKey: key,
	})
	return &ExecSessionLogs{Construct: this, LogGroup: logGroup, Key: key}
}

// Configuration is the cluster's execute-command configuration: sessions are
// encrypted with the key and logged to the group, whatever the task's own
// log driver (OVERRIDE). CloudWatchEncryptionEnabled makes the agent refuse
// to log to a group that is not KMS-encrypted.
func (e *ExecSessionLogs) Configuration() *awsecs.ExecuteCommandConfiguration {
	return &awsecs.ExecuteCommandConfiguration{
		KmsKey:  e.Key,
		Logging: awsecs.ExecuteCommandLogging_OVERRIDE,
		LogConfiguration: &awsecs.ExecuteCommandLogConfiguration{
			CloudWatchLogGroup:          e.LogGroup,
			CloudWatchEncryptionEnabled: jsii.Bool(true),
		},
	}
}
