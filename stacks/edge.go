package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// EdgeStackProps configures the edge stack.
type EdgeStackProps struct {
	awscdk.StackProps
	Config *config.Config
}

// EdgeStack holds the AWS WAF web ACL of the environment's distribution. A
// web ACL for CloudFront must be created in us-east-1, while the other
// stacks deploy to any region (environment-agnostic by default), so this
// stack always deploys to us-east-1 and holds nothing else. It references no
// other stack; the frontend stack reads the web ACL's ARN from its output
// WebAclArn with Fn::GetStackOutput in us-east-1 (WebACLArnFor).
type EdgeStack struct {
	awscdk.Stack
	WebACL *tsaconstructs.SiteWebACL
}

// WebACLArnOutput is the edge stack's output the frontend stack reads.
const WebACLArnOutput = "WebAclArn"

// NewEdgeStack creates the web ACL (frontend.waf).
func NewEdgeStack(scope constructs.Construct, id string, props *EdgeStackProps) *EdgeStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	w := cfg.Frontend.Waf
	acl := tsaconstructs.NewSiteWebACL(stack, "WebAcl", &tsaconstructs.SiteWebACLProps{
		Name:              fmt.Sprintf("%s-%s-site", config.Project, cfg.Name),
		APIPathPrefix:     "/api/",
		APIRateLimit:      w.APIRateLimit,
		RateWindowSeconds: w.RateWindowSeconds,
	})
	output(stack, WebACLArnOutput, acl.Arn, "ARN of the AWS WAF web ACL of the distribution (read by the frontend stack)")
	return &EdgeStack{Stack: stack, WebACL: acl}
}

// WebACLArnFor is the web ACL's ARN as the consumer stack reads it when it
// deploys: Fn::GetStackOutput of this stack's WebAclArn in us-east-1, which
// CloudFormation resolves across regions ("Fn::GetStackOutput", CloudFormation
// Template Reference) with the consumer's execution role. aws-cdk-lib 2.276
// refuses a cross-region reference from a stack without an explicit region,
// so the reference is written here, and the dependency that orders the
// deployments is added with it.
func (e *EdgeStack) WebACLArnFor(consumer awscdk.Stack) *string {
	consumer.AddStackDependency(e.Stack, jsii.String("reads the web ACL's ARN (Fn::GetStackOutput in "+tsaconstructs.CloudFrontWAFRegion+")"))
	return awscdk.Fn_GetStackOutput(e.StackName(), jsii.String(WebACLArnOutput), jsii.String(tsaconstructs.CloudFrontWAFRegion), nil)
}
