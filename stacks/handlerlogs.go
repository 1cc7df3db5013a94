package stacks

// Log groups of Lambda functions, aws-cdk-lib's deploy-time handlers above
// all (BucketDeployment, S3 auto-delete objects, the default security group
// restriction, AwsCustomResource and Provider functions). Without a
// LoggingConfig, Lambda writes to /aws/lambda/<function name>, a group it
// creates on the first invocation when none exists, with no retention and
// outside every stack, so `cdk destroy` leaves it behind
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html).
// The group CDK adds for L2 functions (@aws-cdk/aws-lambda:useCdkManagedLogGroup)
// is named after the function, so it is created after the function and
// deleted before it: a handler invoked in between (the custom resource that
// calls it) recreates it outside the stack (aws/aws-cdk#34612, #35632).
//
// HandlerLogGroups gives every AWS::Lambda::Function a log group of its own
// stack whose name CloudFormation generates, and points the function's
// LoggingConfig.LogGroup at it. The Ref makes the function depend on the
// group: the group exists before any invocation and is deleted only after
// the function and the custom resources that call it.

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// HandlerLogGroups adds the aspect to scope: every Lambda function below it
// gets a stack-owned log group keeping events retentionDays (a validated
// CloudWatch Logs retention) and following removal on stack deletion.
func HandlerLogGroups(scope constructs.IConstruct, retentionDays int, removal awscdk.RemovalPolicy) {
	Retention(retentionDays) // panics on a retention CloudWatch Logs does not accept
	awscdk.Aspects_Of(scope).Add(&handlerLogGroups{days: retentionDays, removal: removal},
		// Mutating: runs before cdk-nag and the other read-only checks look at the result.
		&awscdk.AspectOptions{Priority: awscdk.AspectPriority_MUTATING()})
}

type handlerLogGroups struct {
	days    int
	removal awscdk.RemovalPolicy
}

// Visit handles both kinds of function resource: awslambda.CfnFunction (L2
// functions, SingletonFunction, CfnFunction) and the plain CfnResource of type
// AWS::Lambda::Function that CustomResourceProvider-based handlers use.
func (h *handlerLogGroups) Visit(node constructs.IConstruct) {
	if !*awscdk.CfnResource_IsCfnResource(node) {
		return
	}
	fn := node.(awscdk.CfnResource)
	if *fn.CfnResourceType() != "AWS::Lambda::Function" {
		return
	}
	if l1, ok := node.(awslambda.CfnFunction); ok && hasLogGroup(fn, l1.LoggingConfig()) {
		return // the function already names its log group (lambda.Function's logGroup prop)
	}
	group := h.adoptManagedGroup(fn)
	if group == nil {
		lg := awslogs.NewLogGroup(fn.Node().Scope().(constructs.Construct), jsii.String(*fn.Node().Id()+"LogGroup"), &awslogs.LogGroupProps{
			Retention:     Retention(h.days),
			RemovalPolicy: h.removal,
		})
		group = lg.Node().DefaultChild().(awscdk.CfnResource)
	}
	fn.AddPropertyOverride(jsii.String("LoggingConfig.LogGroup"), group.Ref())
}

// adoptManagedGroup returns the log group CDK created for an L2 function
// (child "LogGroup" of the function, named /aws/lambda/<function>) after
// dropping its name, so the function can reference it without a cycle, and
// applying the retention and removal policy; nil when there is none.
func (h *handlerLogGroups) adoptManagedGroup(fn awscdk.CfnResource) awscdk.CfnResource {
	child := fn.Node().Scope().Node().TryFindChild(jsii.String("LogGroup"))
	if child == nil {
		return nil
	}
	l1, ok := child.Node().DefaultChild().(awslogs.CfnLogGroup)
	if !ok {
		return nil // an imported group (logRetention) has no resource here
	}
	stack := awscdk.Stack_Of(fn)
	named := jsonOf(stack.Resolve(l1.LogGroupName()))
	want := jsonOf(map[string]any{"Fn::Join": []any{"", []any{"/aws/lambda/", map[string]any{"Ref": *stack.GetLogicalId(fn)}}}})
	if named != want {
		return nil
	}
	l1.AddPropertyDeletionOverride(jsii.String("LogGroupName"))
	l1.SetRetentionInDays(jsii.Number(float64(h.days)))
	l1.ApplyRemovalPolicy(h.removal, nil)
	return l1
}

// hasLogGroup reports whether a function's LoggingConfig names a log group.
func hasLogGroup(fn awscdk.CfnResource, cfg any) bool {
	if cfg == nil {
		return false
	}
	// Resolved L1 properties keep their construct (camelCase) names.
	resolved, _ := awscdk.Stack_Of(fn).Resolve(cfg).(map[string]any)
	return resolved["logGroup"] != nil
}

func jsonOf(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("handler log groups: %v", err))
	}
	return string(data)
}
