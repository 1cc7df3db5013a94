package test

// Lambda log groups (issue 17): every function, aws-cdk-lib's deploy-time
// handlers included, logs into a log group of its own stack, with retention
// and the environment's removal policy, so `cdk destroy` of dev leaves no
// /aws/lambda/... group behind. One small app (built once, ~1 s) holds every
// kind of function resource aws-cdk-lib creates; the platform's templates are
// checked with the same rules.

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/stacks"
)

const managedLogGroupFlag = "@aws-cdk/aws-lambda:useCdkManagedLogGroup"

// handlerVariants is one stack per removal policy holding each kind of
// function: its templates, and the function logical IDs by variant.
type handlerVariants struct {
	raw map[string]map[string]any // by stack: "dev" (DESTROY, 14 days), "prod" (RETAIN, 90 days)
	ids map[string]map[string]string
	// userGroup is the log group the "explicit" function was given.
	userGroup map[string]string
}

var handlerApp *handlerVariants

func handlerLogVariants(t *testing.T) *handlerVariants {
	t.Helper()
	if handlerApp != nil {
		return handlerApp
	}
	ctx, err := cliContext() // cdk.json's feature flags: the managed log group is on, as in the app
	require.NoError(t, err)
	outdir, err := os.MkdirTemp(outRoot, "handlers-")
	require.NoError(t, err)
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir),
		BuiltinCloudFormationValidation: jsii.Bool(false), StackTraces: jsii.Bool(false)})
	v := &handlerVariants{raw: map[string]map[string]any{}, ids: map[string]map[string]string{}, userGroup: map[string]string{}}
	stacksByName := map[string]awscdk.Stack{}
	for name, policy := range map[string]awscdk.RemovalPolicy{"dev": awscdk.RemovalPolicy_DESTROY, "prod": awscdk.RemovalPolicy_RETAIN} {
		stack := awscdk.NewStack(app, jsii.String("Handlers"+name), nil)
		stacksByName[name] = stack
		ids := map[string]string{}
		id := func(c constructs.IConstruct) string {
			return *stack.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
		}
		code := awslambda.Code_FromInline(jsii.String("exports.handler = async () => {};"))
		fnProps := func() *awslambda.FunctionProps {
			return &awslambda.FunctionProps{Runtime: awslambda.Runtime_NODEJS_22_X(), Handler: jsii.String("index.handler"), Code: code}
		}
		// An L2 function: aws-cdk-lib adds a log group named after it.
		ids["l2"] = id(awslambda.NewFunction(stack, jsii.String("Managed"), fnProps()))
		// The same with the feature flag off: no group at all.
		legacy := constructs.NewConstruct(stack, jsii.String("Legacy"))
		legacy.Node().SetContext(jsii.String(managedLogGroupFlag), false)
		ids["l2-no-flag"] = id(awslambda.NewFunction(legacy, jsii.String("Fn"), fnProps()))
		// A function given its own log group is left alone.
		own := awslogs.NewLogGroup(stack, jsii.String("OwnGroup"), &awslogs.LogGroupProps{RemovalPolicy: policy})
		explicit := fnProps()
		explicit.LogGroup = own
		ids["explicit"] = id(awslambda.NewFunction(stack, jsii.String("Explicit"), explicit))
		v.userGroup[name] = *stack.GetLogicalId(own.Node().DefaultChild().(awscdk.CfnElement))
		// SingletonFunction (BucketDeployment's kind): two users, one function.
		for _, user := range []string{"SingletonA", "SingletonB"} {
			s := awslambda.NewSingletonFunction(stack, jsii.String(user), &awslambda.SingletonFunctionProps{
				Uuid: jsii.String("0b7e9a64-1f57-4b1e-9d64-5f0c7f2a1c11"), Runtime: awslambda.Runtime_NODEJS_22_X(),
				Handler: jsii.String("index.handler"), Code: code,
			})
			ids["singleton"] = *stack.GetLogicalId(s.Node().Scope().Node().FindChild(jsii.String("SingletonLambda0b7e9a641f574b1e9d645f0c7f2a1c11")).Node().DefaultChild().(awscdk.CfnElement))
		}
		// AwsCustomResource: its provider is a SingletonFunction too.
		customresources.NewAwsCustomResource(stack, jsii.String("Sdk"), &customresources.AwsCustomResourceProps{
			OnCreate: &customresources.AwsSdkCall{Service: jsii.String("STS"), Action: jsii.String("GetCallerIdentity"),
				PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String("caller"))},
			Policy:              customresources.AwsCustomResourcePolicy_FromSdkCalls(&customresources.SdkCallsPolicyOptions{Resources: customresources.AwsCustomResourcePolicy_ANY_RESOURCE()}),
			InstallLatestAwsSdk: jsii.Bool(false),
			ResourceType:        jsii.String("Custom::Caller"),
		})
		// S3 auto-delete objects: a CfnResource-based CustomResourceProvider.
		awss3.NewBucket(stack, jsii.String("Bucket"), &awss3.BucketProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY, AutoDeleteObjects: jsii.Bool(true)})
		ids["provider"] = "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F"
		// A bare L1 function.
		l1 := awslambda.NewCfnFunction(stack, jsii.String("Bare"), &awslambda.CfnFunctionProps{
			Code:    &awslambda.CfnFunction_CodeProperty{ZipFile: jsii.String("exports.handler = async () => {};")},
			Role:    jsii.String("arn:aws:iam::123456789012:role/bare"),
			Runtime: jsii.String("nodejs22.x"), Handler: jsii.String("index.handler"),
		})
		ids["l1"] = *stack.GetLogicalId(l1)
		v.ids[name] = ids
		days := map[string]int{"dev": 14, "prod": 90}[name]
		stacks.HandlerLogGroups(stack, days, policy)
	}
	assembly := app.Synth(nil)
	for name, stack := range stacksByName {
		data, err := os.ReadFile(*assembly.GetStackByName(stack.StackName()).TemplateFullPath())
		require.NoError(t, err)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(data, &raw))
		v.raw[name] = raw
	}
	handlerApp = v
	return v
}

// logGroupOf returns the logical ID of the log group a function's
// LoggingConfig points at with a Ref ("" when it names none).
func logGroupOf(fn map[string]any) string {
	cfg, _ := props(fn)["LoggingConfig"].(map[string]any)
	ref, _ := cfg["LogGroup"].(map[string]any)
	id, _ := ref["Ref"].(string)
	return id
}

// checkFunctionLogGroups asserts the rules on every function of a template;
// except lists functions whose log group the app chose itself.
func checkFunctionLogGroups(t *testing.T, where string, raw map[string]any, days float64, policy string, except map[string]bool) {
	t.Helper()
	groups := resources(raw, "AWS::Logs::LogGroup")
	roles := resources(raw, "AWS::IAM::Role")
	fns := resources(raw, "AWS::Lambda::Function")
	used := map[string]string{}
	for id, fn := range fns {
		gid := logGroupOf(fn)
		if !assert.NotEmpty(t, gid, "%s: function %s names no stack-owned log group (LoggingConfig.LogGroup: Ref)", where, id) {
			continue
		}
		if other, dup := used[gid]; dup {
			t.Errorf("%s: functions %s and %s share log group %s", where, other, id, gid)
		}
		used[gid] = id
		g, ok := groups[gid]
		if !assert.True(t, ok, "%s: function %s logs to %s, not a log group of this stack", where, id, gid) || except[id] {
			continue
		}
		assert.Equal(t, days, props(g)["RetentionInDays"], "%s: %s keeps its logs as long as the API", where, gid)
		assert.Equal(t, policy, g["DeletionPolicy"], "%s: %s on stack deletion", where, gid)
		assert.Equal(t, policy, g["UpdateReplacePolicy"], "%s: %s on replacement", where, gid)
		// A name derived from the function would make it depend on the
		// function (created after it, deleted before it).
		assert.NotContains(t, jsonOf(props(g)["LogGroupName"]), id, "%s: %s is not named after its function", where, gid)
		// The execution role may write there: AWSLambdaBasicExecutionRole
		// allows logs:CreateLogStream and logs:PutLogEvents on any group
		// (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html);
		// a scoped role grants both on this group's ARN instead.
		roleRef, _ := props(fn)["Role"].(map[string]any)["Fn::GetAtt"].([]any)
		if assert.Len(t, roleRef, 2, "%s: %s role is a role of this stack", where, id) {
			roleID := roleRef[0].(string)
			basic := strings.Contains(jsonOf(props(roles[roleID])["ManagedPolicyArns"]), "service-role/AWSLambdaBasicExecutionRole")
			assert.True(t, basic || grantsLogWrites(raw, roleID, gid), "%s: %s can write its log streams", where, id)
		}
	}
	for gid, g := range groups {
		name := jsonOf(props(g)["LogGroupName"])
		assert.NotContains(t, name, "/aws/lambda/", "%s: %s is a default-named Lambda group left beside the stack-owned one", where, gid)
	}
}

// TestHandlerLogGroupsVariants: each kind of function aws-cdk-lib creates
// gets exactly one stack-owned group; a function with its own group keeps it.
func TestHandlerLogGroupsVariants(t *testing.T) {
	v := handlerLogVariants(t)
	for name, raw := range v.raw {
		days, policy := map[string]float64{"dev": 14, "prod": 90}[name], map[string]string{"dev": "Delete", "prod": "Retain"}[name]
		ids := v.ids[name]
		fns := resources(raw, "AWS::Lambda::Function")
		var kinds []string
		for kind, id := range ids {
			kinds = append(kinds, kind)
			_, ok := fns[id]
			assert.True(t, ok, "%s: the %s function %s exists", name, kind, id)
		}
		sort.Strings(kinds)
		// Two SingletonFunction users and the AwsCustomResource share
		// providers: one function each, one group each.
		assert.Len(t, fns, len(ids)+1, "%s: functions %v plus the AwsCustomResource provider", name, kinds)
		checkFunctionLogGroups(t, name, raw, days, policy, map[string]bool{ids["explicit"]: true, ids["l1"]: true})
		assert.Equal(t, v.userGroup[name], logGroupOf(fns[ids["explicit"]]), "%s: the function's own group is kept", name)
		// The managed group of the L2 function is reused, not duplicated: its
		// logical ID stays (a child "LogGroup" of the function).
		managed := logGroupOf(fns[ids["l2"]])
		assert.True(t, strings.HasPrefix(managed, "ManagedLogGroup"), "%s: L2 function keeps CDK's group %s", name, managed)
		assert.Len(t, resources(raw, "AWS::Logs::LogGroup"), len(fns), "%s: one log group per function", name)
		// A bare CfnFunction with a role from elsewhere still gets its group.
		g := resources(raw, "AWS::Logs::LogGroup")[logGroupOf(fns[ids["l1"]])]
		assert.Equal(t, days, props(g)["RetentionInDays"], "%s: bare function's group", name)
		assert.Equal(t, policy, g["DeletionPolicy"], "%s: bare function's group", name)
	}
}

// TestHandlerLogGroupsPlatform: the platform's own handlers (BucketDeployment,
// S3 auto-delete objects, the default security group restriction) follow the
// rules in every environment.
func TestHandlerLogGroupsPlatform(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := envs[env]
		policy := "Delete"
		if s.cfg.Production() {
			policy = "Retain"
		}
		var fns int
		for _, part := range s.parts() {
			fns += len(resources(s.raw[part], "AWS::Lambda::Function"))
			checkFunctionLogGroups(t, fmt.Sprintf("tsa-%s-%s", env, part), s.raw[part], float64(s.cfg.Backend.LogRetentionDays), policy, nil)
		}
		assert.NotZero(t, fns, "%s has deploy-time handlers", env)
	}
}

// grantsLogWrites reports whether a policy of the template attached to role
// allows logs:CreateLogStream and logs:PutLogEvents on the log group group.
func grantsLogWrites(raw map[string]any, role, group string) bool {
	want := map[string]bool{"logs:CreateLogStream": false, "logs:PutLogEvents": false}
	for _, pol := range resources(raw, "AWS::IAM::Policy") {
		if !strings.Contains(jsonOf(props(pol)["Roles"]), `"`+role+`"`) {
			continue
		}
		doc, _ := props(pol)["PolicyDocument"].(map[string]any)
		for _, st := range asList(doc["Statement"]) {
			sm, _ := st.(map[string]any)
			if sm["Effect"] != "Allow" || !strings.Contains(jsonOf(sm["Resource"]), `{"Fn::GetAtt":["`+group+`","Arn"]}`) {
				continue
			}
			for _, a := range oneOrMany(sm["Action"]) {
				if _, ok := want[a.(string)]; ok {
					want[a.(string)] = true
				}
			}
		}
	}
	return want["logs:CreateLogStream"] && want["logs:PutLogEvents"]
}
