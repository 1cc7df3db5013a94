package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// NetworkStackProps configures the network stack.
type NetworkStackProps struct {
	awscdk.StackProps
	Config *config.Config
}

// NetworkStack owns the VPC every other stack runs in, and what must exist
// before any of them: the alarm topic, the operations key and the image
// repository.
type NetworkStack struct {
	awscdk.Stack
	Vpc awsec2.Vpc
	// Repository holds the API images. It lives in the first stack so that a
	// tag can be pushed before the compute stack deploys a service that
	// pulls it (-c imageTag=TAG on a fresh account).
	Repository awsecr.Repository
	// AlarmTopic receives every alarm of the environment; it lives in the
	// first stack so every alarm-owning stack comes after it.
	AlarmTopic awssns.ITopic
	// OperationsKey encrypts the alarm topic (ECS Exec has a key of its own).
	OperationsKey awskms.IKey
}

// Subnet group names, also used by the other stacks to select subnets.
const (
	SubnetPublic   = "public"
	SubnetApp      = "app"
	SubnetIsolated = "isolated"
)

// NewNetworkStack creates a VPC with public, private-with-egress (when there
// is NAT) and isolated subnets, flow logs and an S3 gateway endpoint.
func NewNetworkStack(scope constructs.Construct, id string, props *NetworkStackProps) *NetworkStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	n := cfg.Network
	mask := jsii.Number(float64(n.SubnetCidrMask))

	subnets := []*awsec2.SubnetConfiguration{
		{Name: jsii.String(SubnetPublic), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: mask, MapPublicIpOnLaunch: jsii.Bool(false)},
	}
	if n.NatGateways > 0 {
		subnets = append(subnets, &awsec2.SubnetConfiguration{Name: jsii.String(SubnetApp), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: mask})
	}
	subnets = append(subnets, &awsec2.SubnetConfiguration{Name: jsii.String(SubnetIsolated), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: mask})

	vpcProps := &awsec2.VpcProps{
		IpAddresses:                  awsec2.IpAddresses_Cidr(jsii.String(n.VpcCidr)),
		NatGateways:                  jsii.Number(float64(n.NatGateways)),
		SubnetConfiguration:          &subnets,
		RestrictDefaultSecurityGroup: jsii.Bool(true),
		EnableDnsHostnames:           jsii.Bool(true),
		EnableDnsSupport:             jsii.Bool(true),
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
	}
	if len(cfg.AvailabilityZones) > 0 {
		vpcProps.AvailabilityZones = jsii.Strings(cfg.AvailabilityZones...)
	} else {
		vpcProps.MaxAzs = jsii.Number(float64(n.MaxAzs))
	}
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), vpcProps)

	flowLogs := awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     Retention(n.FlowLogRetentionDays),
		RemovalPolicy: removal(cfg),
	})
	flowLog := vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
		TrafficType: awsec2.FlowLogTrafficType_ALL,
	})
	// "IAM role for publishing flow logs to CloudWatch Logs" (Amazon VPC
	// User Guide) recommends aws:SourceAccount and aws:SourceArn (the flow
	// log's ARN, a wildcard for its ID) in the role's trust policy.
	if role, ok := flowLog.Node().TryFindChild(jsii.String("IAMRole")).(awsiam.Role); ok {
		tsaconstructs.RestrictServiceTrust(role, *stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ec2"), Resource: jsii.String("vpc-flow-log"), ResourceName: jsii.String("*"),
		}))
	} else {
		panic("network: the flow log has no IAMRole (aws-cdk-lib changed)")
	}

	output(stack, "VpcId", vpc.VpcId(), "ID of the VPC")
	output(stack, "VpcCidr", vpc.VpcCidrBlock(), "IPv4 CIDR block of the VPC")
	output(stack, "PublicSubnetIds", joinSubnets(vpc.PublicSubnets()), "Public subnets (NAT, nothing else)")
	if n.NatGateways > 0 {
		output(stack, "AppSubnetIds", joinSubnets(vpc.PrivateSubnets()), "Private subnets with NAT egress (Fargate tasks)")
	}
	output(stack, "IsolatedSubnetIds", joinSubnets(vpc.IsolatedSubnets()), "Isolated subnets without an internet route (database)")
	output(stack, "FlowLogGroupName", flowLogs.LogGroupName(), "CloudWatch log group of the VPC flow logs")

	alarms := newAlarmTopic(stack, cfg) // monitoring.go
	output(stack, "AlarmTopicArn", alarms.Topic.TopicArn(), "SNS topic every alarm of the environment notifies (subscribe on-call here)")

	repo := newRepository(stack, cfg)
	output(stack, "RepositoryUri", repo.RepositoryUri(), "ECR repository to push API images to (deploy one with -c imageTag=TAG)")
	output(stack, "RepositoryArn", repo.RepositoryArn(), "ARN of the ECR repository (the CI stack's deploy role may push to it)")

	return &NetworkStack{Stack: stack, Vpc: vpc, Repository: repo, AlarmTopic: alarms.Topic, OperationsKey: alarms.Key}
}

// newRepository is the environment's API image repository: immutable tags,
// scanned on push, untagged layers expire. Its construct id keeps the logical
// ID (Repository22E53BBD) it had in the compute stack.
func newRepository(stack awscdk.Stack, cfg *config.Config) awsecr.Repository {
	return awsecr.NewRepository(stack, jsii.String("Repository"), &awsecr.RepositoryProps{
		ImageScanOnPush:    jsii.Bool(true),
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE,
		Encryption:         awsecr.RepositoryEncryption_AES_256(),
		RemovalPolicy:      removal(cfg),
		EmptyOnDelete:      jsii.Bool(!cfg.Production()),
		LifecycleRules: &[]*awsecr.LifecycleRule{
			{RulePriority: jsii.Number(1), Description: jsii.String("Expire untagged layers after a day"), TagStatus: awsecr.TagStatus_UNTAGGED, MaxImageAge: awscdk.Duration_Days(jsii.Number(1))},
			{RulePriority: jsii.Number(2), Description: jsii.String("Keep the 30 most recent images"), TagStatus: awsecr.TagStatus_ANY, MaxImageCount: jsii.Number(30)},
		},
	})
}

func joinSubnets(subnets *[]awsec2.ISubnet) *string {
	ids := make([]*string, 0, len(*subnets))
	for _, s := range *subnets {
		ids = append(ids, s.SubnetId())
	}
	return awscdk.Fn_Join(jsii.String(","), &ids)
}
