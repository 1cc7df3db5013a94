package stacks

import (
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/regioninfo"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// loadBalancer is the compute stack's internal ALB, its security group and
// its access-log bucket. Construct ids sit at the stack root, as they did
// when this was inline in NewComputeStack, so logical IDs are unchanged.
type loadBalancer struct {
	alb           elbv2.ApplicationLoadBalancer
	securityGroup awsec2.SecurityGroup
	accessLogs    awss3.Bucket
}

// noTraffic is the egress rule aws-cdk-lib writes into a security group that
// must send nothing: no address is 255.255.255.255/32 and ICMP type 252 code
// 86 does not exist.
var noTraffic = map[string]any{
	"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "IpProtocol": "icmp", "FromPort": 252, "ToPort": 86,
}

// newLoadBalancer creates the internal ALB. CloudFront reaches it through a
// VPC origin; requests arrive from CloudFront's origin-facing addresses, so
// the security group admits the AWS-managed prefix list of those addresses
// (resolved when the stack deploys) on the listener port, and nothing else.
func newLoadBalancer(stack awscdk.Stack, cfg *config.Config, vpc awsec2.IVpc) *loadBalancer {
	subnets := &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetIsolated)}
	if cfg.Network.NatGateways > 0 {
		subnets = &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetApp)}
	}
	sg := awsec2.NewSecurityGroup(stack, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("Internal ALB: HTTP from CloudFront origin-facing addresses only; to the API tasks only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	cloudFront := tsaconstructs.NewManagedPrefixList(stack, "CloudFrontOriginFacing", &tsaconstructs.ManagedPrefixListProps{
		Name:          tsaconstructs.CloudFrontOriginFacing,
		LogRetention:  Retention(cfg.Backend.LogRetentionDays),
		RemovalPolicy: removal(cfg),
	})
	// Weighs 55 of the group's 60 inbound rules (default quota); the group
	// needs no other inbound rule.
	sg.AddIngressRule(awsec2.Peer_PrefixList(cloudFront.PrefixListId), awsec2.Port_Tcp(jsii.Number(listenerPort)),
		jsii.String("CloudFront origin-facing addresses (VPC origin)"), nil)

	bucket := awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     removal(cfg),
		AutoDeleteObjects: jsii.Bool(!cfg.Production()),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration: awscdk.Duration_Days(jsii.Number(float64(cfg.Backend.LogRetentionDays))),
		}},
	})

	alb := elbv2.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &elbv2.ApplicationLoadBalancerProps{
		Vpc:                     vpc,
		InternetFacing:          jsii.Bool(false),
		VpcSubnets:              subnets,
		SecurityGroup:           sg,
		DropInvalidHeaderFields: jsii.Bool(true),
		DeletionProtection:      jsii.Bool(cfg.Production()),
		IdleTimeout:             awscdk.Duration_Seconds(jsii.Number(60)),
	})
	logAccess(stack, alb, bucket, "alb")
	return &loadBalancer{alb: alb, securityGroup: sg, accessLogs: bucket}
}

// closeInlineEgress keeps the group's default allow-all egress away. The
// group's only egress rule (to the tasks' port) references another group, so
// aws-cdk-lib writes it as a separate AWS::EC2::SecurityGroupEgress and drops
// its "no traffic" placeholder from the group. But EC2 adds allow-all egress
// to a group created without egress rules ("When you create a security group,
// if you do not add egress rules, we add egress rules that allow all outbound
// IPv4 and IPv6 traffic", AWS::EC2::SecurityGroup), and a separate rule does
// not take it away. Call after every rule is added: it replaces the group's
// inline egress list.
func (l *loadBalancer) closeInlineEgress() {
	cfn := l.securityGroup.Node().DefaultChild().(awscdk.CfnResource)
	cfn.AddPropertyOverride(jsii.String("SecurityGroupEgress"), []any{noTraffic})
}

// logAccess turns on ALB access logs. The bucket policy differs by region
// ("Enable access logs for your Application Load Balancer", ELB User Guide):
// regions available before August 2022 write as the region's Elastic Load
// Balancing account, later ones as the service principal
// logdelivery.elasticloadbalancing.amazonaws.com. A pinned region is known at
// synth and aws-cdk-lib's LogAccessLogs picks the principal. An
// environment-agnostic stack decides at deploy time with conditions on
// AWS::Region and no Fn::FindInMap: a region missing from a mapping fails
// the stack even inside an unused Fn::If branch.
func logAccess(stack awscdk.Stack, alb elbv2.ApplicationLoadBalancer, bucket awss3.Bucket, prefix string) {
	if !*awscdk.Token_IsUnresolved(stack.Region()) {
		alb.LogAccessLogs(bucket, jsii.String(prefix))
		return
	}
	alb.SetAttribute(jsii.String("access_logs.s3.enabled"), jsii.String("true"))
	alb.SetAttribute(jsii.String("access_logs.s3.bucket"), bucket.BucketName())
	alb.SetAttribute(jsii.String("access_logs.s3.prefix"), jsii.String(prefix))
	legacy, account := elbAccountByRegion(stack)
	elbAccount := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::"), account, jsii.String(":root"),
	})
	noValue := awscdk.Aws_NO_VALUE()
	bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// Exactly one of the two principals remains once CloudFormation
		// evaluates the condition.
		Principals: &[]awsiam.IPrincipal{
			awsiam.NewArnPrincipal(awscdk.Token_AsString(awscdk.Fn_ConditionIf(legacy.LogicalId(), elbAccount, noValue), nil)),
			awsiam.NewServicePrincipal(awscdk.Token_AsString(awscdk.Fn_ConditionIf(legacy.LogicalId(), noValue, jsii.String(elbLogDelivery)), nil), nil),
		},
		Actions:   jsii.Strings("s3:PutObject"),
		Resources: jsii.Strings(*bucket.ArnForObjects(jsii.String(prefix + "/AWSLogs/" + *stack.Account() + "/*"))),
	}))
	alb.Node().AddDependency(bucket)
}

// elbLogDelivery writes ALB access logs in regions opened since August 2022.
const elbLogDelivery = "logdelivery.elasticloadbalancing.amazonaws.com"

// camel turns a region name into a logical-ID part: us-east-1 -> UsEast1.
func camel(region string) string {
	var b strings.Builder
	for _, w := range strings.Split(region, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// elbAccountByRegion returns a condition that holds in the regions that have
// an Elastic Load Balancing account (aws-cdk-lib's region table, taken from
// the AWS page above), and the account ID of the deploying region (empty
// elsewhere): one Fn::If per region, joined, so nothing can fail to resolve.
func elbAccountByRegion(stack awscdk.Stack) (awscdk.CfnCondition, *string) {
	accounts := *regioninfo.RegionInfo_RegionMap(regioninfo.FactName_ELBV2_ACCOUNT())
	regions := make([]string, 0, len(accounts))
	for r, a := range accounts {
		if a != nil && *a != "" {
			regions = append(regions, r)
		}
	}
	sort.Strings(regions)
	var inRegion []awscdk.ICfnConditionExpression
	var parts []*string
	for _, r := range regions {
		cond := awscdk.NewCfnCondition(stack, jsii.String("ElbLogsAccount"+camel(r)), &awscdk.CfnConditionProps{
			Expression: awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), jsii.String(r)),
		})
		inRegion = append(inRegion, cond)
		parts = append(parts, awscdk.Token_AsString(awscdk.Fn_ConditionIf(cond.LogicalId(), accounts[r], jsii.String("")), nil))
	}
	// Fn::Or takes 2 to 10 conditions.
	var groups []awscdk.ICfnConditionExpression
	for len(inRegion) > 0 {
		n := min(10, len(inRegion))
		if n == 1 {
			groups = append(groups, inRegion[0])
		} else {
			groups = append(groups, awscdk.Fn_ConditionOr(inRegion[:n]...))
		}
		inRegion = inRegion[n:]
	}
	expr := groups[0]
	if len(groups) > 1 {
		expr = awscdk.Fn_ConditionOr(groups...)
	}
	legacy := awscdk.NewCfnCondition(stack, jsii.String("ElbLogsAccountRegion"), &awscdk.CfnConditionProps{Expression: expr})
	return legacy, awscdk.Fn_Join(jsii.String(""), &parts)
}
