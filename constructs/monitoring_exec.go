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
	// Key, when set, is the audit's own customer-managed key: it encrypts the
	// session channel and the log group, and the construct allows CloudWatch
	// Logs to use it. A kept log group is unreadable without its key: keep
	// the key as long as the group. Nil: the channel is TLS only and the
	// group has CloudWatch Logs' own encryption at rest.
	Key       awskms.IKey
	Retention awslogs.RetentionDays
	// RemovalPolicy applies to the log group.
	RemovalPolicy awscdk.RemovalPolicy
}

// ExecSessionLogs is the log group that records ECS Exec sessions (commands
// and output), and the key, if any, that also encrypts the session channel
// between the operator's CLI and the container.
//
// The SSM agent in the task uploads each session with the task role's
// credentials ("ECS Exec logging" IAM permissions, Amazon ECS Developer
// Guide), so the task role must be able to write here: TaskRolePolicy grants
// append only. CloudTrail's ExecuteCommand management events are the
// authoritative record of who opened which session when.
type ExecSessionLogs struct {
	cdkconstructs.Construct
	LogGroup awslogs.LogGroup
	// Key is nil without a customer-managed audit key.
	Key awskms.IKey
}

// NewExecSessionLogs creates the log group and the key grant.
func NewExecSessionLogs(scope cdkconstructs.Construct, id string, props *ExecSessionLogsProps) *ExecSessionLogs {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)
	key := props.Key
	if key != nil {
		// CloudWatch Logs encrypts the group's events with the key; it must
		// be allowed before the group is created. Limited to this account's
		// log groups in this region.
		region, account := *stack.Region(), *stack.Account()
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+region+".amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{
				"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": "arn:" + *stack.Partition() + ":logs:" + region + ":" + account + ":*"},
			},
		}), nil)
	}
	logGroup := awslogs.NewLogGroup(this, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     props.Retention,
		RemovalPolicy: props.RemovalPolicy,
		EncryptionKey: key,
	})
	return &ExecSessionLogs{Construct: this, LogGroup: logGroup, Key: key}
}

// Configuration is the cluster's execute-command configuration: sessions are
// logged to the group whatever the task's own log driver (OVERRIDE); with a
// key they are encrypted with it, and CloudWatchEncryptionEnabled makes the
// agent refuse to log to a group that is not KMS-encrypted.
func (e *ExecSessionLogs) Configuration() *awsecs.ExecuteCommandConfiguration {
	return &awsecs.ExecuteCommandConfiguration{
		KmsKey:  e.Key,
		Logging: awsecs.ExecuteCommandLogging_OVERRIDE,
		LogConfiguration: &awsecs.ExecuteCommandLogConfiguration{
			CloudWatchLogGroup:          e.LogGroup,
			CloudWatchEncryptionEnabled: jsii.Bool(e.Key != nil),
		},
	}
}

// TaskRolePolicy is exactly what the task role needs for ECS Exec with this
// logging, as the ECS Developer Guide lists it ("ECS Exec" IAM permissions):
// the SSM channels (no resource-level permissions), logs:DescribeLogGroups
// (none either), stream creation and event upload to this group only, and
// kms:Decrypt on the key. Nothing reads, deletes or changes the group:
// a compromised task can append to it, never alter or remove what is there.
func (e *ExecSessionLogs) TaskRolePolicy() []awsiam.PolicyStatement {
	stack := awscdk.Stack_Of(e.LogGroup)
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ExecSessionChannels"),
			Actions:   jsii.Strings("ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "logs:DescribeLogGroups"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("AppendExecSessionLogs"),
			Actions: jsii.Strings("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"),
			Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("logs"), Resource: jsii.String("log-group"), ResourceName: jsii.String(*e.LogGroup.LogGroupName() + ":*"),
				ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			})),
		}),
	}
	if e.Key != nil {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("DecryptExecSessions"),
			Actions:   jsii.Strings("kms:Decrypt"),
			Resources: jsii.Strings(*e.Key.KeyArn()),
		}))
	}
	return statements
}
