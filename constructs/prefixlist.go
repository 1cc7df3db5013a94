package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// CloudFrontOriginFacing is the AWS-managed prefix list of CloudFront's
// origin-facing addresses, which AWS documents as the source to admit at a
// VPC origin ("Restrict access with VPC origins", CloudFront Developer Guide).
// A security group rule that references it weighs 55 rules against the
// group's rules quota ("AWS-managed prefix lists", Amazon VPC User Guide).
const CloudFrontOriginFacing = "com.amazonaws.global.cloudfront.origin-facing"

// ManagedPrefixListProps names the AWS-managed prefix list to resolve.
type ManagedPrefixListProps struct {
	// Name is the prefix list's name, e.g. CloudFrontOriginFacing.
	Name string
	// LogRetention and RemovalPolicy apply to the lookup function's log group.
	LogRetention  awslogs.RetentionDays
	RemovalPolicy awscdk.RemovalPolicy
}

// ManagedPrefixList resolves an AWS-managed prefix list's ID when the stack
// deploys. The ID differs per region and synthesis stays offline (no context
// lookup), so an EC2 DescribeManagedPrefixLists call by name runs in the
// target account and region instead; the prefix list is read, never changed.
type ManagedPrefixList struct {
	cdkconstructs.Construct
	// PrefixListId is the resolved ID (pl-...), a deploy-time token.
	PrefixListId *string
	// Lookup is the custom resource that reads it; its function is the
	// stack's AwsCustomResource singleton.
	Lookup customresources.AwsCustomResource
	// LogGroup records the lookup function's invocations.
	LogGroup awslogs.LogGroup
}

// NewManagedPrefixList creates the deploy-time lookup.
func NewManagedPrefixList(scope cdkconstructs.Construct, id string, props *ManagedPrefixListProps) *ManagedPrefixList {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	logs := awslogs.NewLogGroup(this, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     props.LogRetention,
		RemovalPolicy: props.RemovalPolicy,
	})
	call := &customresources.AwsSdkCall{
		Service: jsii.String("EC2"),
		Action:  jsii.String("DescribeManagedPrefixLists"),
		Parameters: map[string]any{
			"Filters": []map[string]any{{"Name": "prefix-list-name", "Values": []string{props.Name}}},
		},
		// The ID never changes for a name in a region: one physical resource.
		PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String(props.Name)),
		OutputPaths:        jsii.Strings("PrefixLists.0.PrefixListId"),
	}
	lookup := customresources.NewAwsCustomResource(this, jsii.String("Lookup"), &customresources.AwsCustomResourceProps{
		OnCreate: call,
		OnUpdate: call,
		// Describe* calls of EC2 have no resource-level permissions.
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("ec2:DescribeManagedPrefixLists"),
				Resources: jsii.Strings("*"),
			}),
		}),
		InstallLatestAwsSdk: jsii.Bool(false),
		LogGroup:            logs,
		Timeout:             awscdk.Duration_Minutes(jsii.Number(2)),
	})
	return &ManagedPrefixList{
		Construct:    this,
		PrefixListId: lookup.GetResponseField(jsii.String("PrefixLists.0.PrefixListId")),
		Lookup:       lookup,
		LogGroup:     logs,
	}
}
