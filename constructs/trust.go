package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// ServiceTrust is the confused-deputy condition block of a service role's
// trust policy: the service may assume the role only on behalf of this
// account (aws:SourceAccount) and resources matching sourceArn
// (aws:SourceArn, ArnLike). Use it only for services whose documentation
// gives these keys for their role's trust policy: a condition on a key the
// service does not send makes the role unusable ("The confused deputy
// problem", IAM User Guide).
func ServiceTrust(account, sourceArn string) map[string]any {
	return map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": account},
		"ArnLike":      map[string]any{"aws:SourceArn": sourceArn},
	}
}

// TrustedService is a service principal whose assume-role statement carries
// ServiceTrust, for roles this project creates.
func TrustedService(scope awscdk.Stack, service, sourceArn string) awsiam.IPrincipal {
	return awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String(service), nil), &map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": *scope.Account()},
		"ArnLike":      map[string]any{"aws:SourceArn": sourceArn},
	})
}

// RestrictServiceTrust adds ServiceTrust to a role aws-cdk-lib created with
// a single service principal (an L2's internal role), through its
// CloudFormation properties.
func RestrictServiceTrust(role awsiam.Role, sourceArn string) {
	stack := awscdk.Stack_Of(role)
	doc := stack.Resolve(role.AssumeRolePolicy().ToJSON())
	statements, _ := doc.(map[string]any)["Statement"].([]any)
	if len(statements) != 1 {
		panic(fmt.Sprintf("RestrictServiceTrust: %s trusts %d statements, want 1 service principal", *role.Node().Path(), len(statements)))
	}
	cfn := role.Node().DefaultChild().(awsiam.CfnRole)
	cfn.AddPropertyOverride(jsii.String("AssumeRolePolicyDocument.Statement.0.Condition"), ServiceTrust(*stack.Account(), sourceArn))
}
