package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MigrationResourceType is the CloudFormation type of the migration run.
const MigrationResourceType = "Custom::DatabaseMigration"

// DatabaseMigrationProps configures the deploy-time migration run.
type DatabaseMigrationProps struct {
	Cluster awsecs.ICluster
	// TaskDefinition runs /app -migrate in Container; its family must be
	// set (the handler may start that family only).
	TaskDefinition awsecs.FargateTaskDefinition
	Family         string
	Container      string
	// Subnets and SecurityGroups are the task's network (a path to the
	// database); AssignPublicIp as for the service.
	Subnets        *[]*string
	SecurityGroups []awsec2.ISecurityGroup
	AssignPublicIp bool
	// LogRetention and RemovalPolicy apply to the handlers' log group.
	LogRetention  awslogs.RetentionDays
	RemovalPolicy awscdk.RemovalPolicy
}

// DatabaseMigration runs the migration task to completion while the stack
// deploys, with aws-cdk-lib's custom resource provider framework: onEvent
// starts the task (ecs:RunTask), isComplete polls it (ecs:DescribeTasks)
// until it stopped and succeeds only when its container exited with 0,
// failing with the stop reason otherwise. The resource's properties hold
// the task definition revision, which changes with the image and anything
// else in the task definition, so an update runs it again. Resources that
// must wait for it (the service) depend on Resource.
type DatabaseMigration struct {
	cdkconstructs.Construct
	Resource    awscdk.CustomResource
	Provider    customresources.Provider
	HandlerRole awsiam.Role
	// HandlerLogs are the two handlers' log groups (onEvent, isComplete).
	HandlerLogs []awslogs.LogGroup
}

// migrationHandler is the handlers' code (Node.js, the AWS SDK v3 of the
// Lambda runtime). Failing isComplete with an error makes the provider
// framework report FAILED with that message.
const migrationHandler = `const { ECSClient, RunTaskCommand, DescribeTasksCommand } = require('@aws-sdk/client-ecs');
const ecs = new ECSClient({});
exports.onEvent = async (event) => {
  const id = event.PhysicalResourceId || 'database-migration';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: id };
  const p = event.ResourceProperties;
  const out = await ecs.send(new RunTaskCommand({
    cluster: p.Cluster, taskDefinition: p.TaskDefinition, launchType: 'FARGATE', count: 1, startedBy: 'cfn-migration',
    networkConfiguration: { awsvpcConfiguration: { subnets: p.Subnets, securityGroups: p.SecurityGroups, assignPublicIp: p.AssignPublicIp } },
  }));
  const task = (out.tasks || [])[0];
  if (!task) throw new Error('RunTask started no migration task: ' + JSON.stringify(out.failures || []));
  console.log(JSON.stringify({ started: task.taskArn, taskDefinition: p.TaskDefinition }));
  return { PhysicalResourceId: id, Data: { TaskArn: task.taskArn } };
};
exports.isComplete = async (event) => {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const p = event.ResourceProperties, arn = event.Data.TaskArn;
  const out = await ecs.send(new DescribeTasksCommand({ cluster: p.Cluster, tasks: [arn] }));
  const task = (out.tasks || [])[0];
  if (!task) throw new Error('migration task ' + arn + ' not found: ' + JSON.stringify(out.failures || []));
  if (task.lastStatus !== 'STOPPED') return { IsComplete: false };
  const c = (task.containers || []).find((x) => x.name === p.Container) || {};
  console.log(JSON.stringify({ stopped: arn, exitCode: c.exitCode, stopCode: task.stopCode, reason: task.stoppedReason }));
  if (c.exitCode === 0) return { IsComplete: true };
  throw new Error('migration task ' + arn + ' failed: exit code ' + (c.exitCode === undefined ? 'none' : c.exitCode) +
    ', ' + (c.reason || task.stoppedReason || task.stopCode) + ' (its output: the API log group, stream prefix migrate)');
};
`

// NewDatabaseMigration creates the handlers, the provider and the resource.
func NewDatabaseMigration(scope cdkconstructs.Construct, id string, props *DatabaseMigrationProps) *DatabaseMigration {
	if props.Family == "" || props.Container == "" {
		panic(fmt.Sprintf("DatabaseMigration %s: Family and Container are required", id))
	}
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)
	// Every function logs to a group of its own and its role may write only
	// there, instead of AWSLambdaBasicExecutionRole (any log group).
	writeLogs := func(groups ...awslogs.ILogGroup) awsiam.PolicyStatement {
		arns := make([]*string, len(groups))
		for i, g := range groups {
			arns[i] = g.LogGroupArn()
		}
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: &arns,
		})
	}
	lambdaRole := func(id, what string) awsiam.Role {
		return awsiam.NewRole(this, jsii.String(id), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String(what),
		})
	}
	handlerLogs := func(id string) awslogs.LogGroup {
		return awslogs.NewLogGroup(this, jsii.String(id), &awslogs.LogGroupProps{
			Retention:     props.LogRetention,
			RemovalPolicy: props.RemovalPolicy,
		})
	}
	onEventLogs, isCompleteLogs := handlerLogs("OnEventLogs"), handlerLogs("IsCompleteLogs")

	handlerRole := lambdaRole("HandlerRole", "Deploy-time database migration: start the migration task, read its state")
	handlerRole.AddToPrincipalPolicy(writeLogs(onEventLogs, isCompleteLogs))
	clusterArn := *props.Cluster.ClusterArn()
	arn := func(resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ecs"), Resource: jsii.String(resource), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})
	}
	// RunTask on any revision of the migration family (a rollback starts the
	// previous one), in this cluster only ("Amazon ECS identity-based policy
	// examples": ecs:cluster on RunTask).
	handlerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("RunTheMigrationTask"),
		Actions:    jsii.Strings("ecs:RunTask"),
		Resources:  jsii.Strings(arn("task-definition/" + props.Family + ":*")),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"ecs:cluster": clusterArn}},
	}))
	handlerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PassTheMigrationRoles"),
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*props.TaskDefinition.TaskRole().RoleArn(), *props.TaskDefinition.ExecutionRole().RoleArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
	}))
	// Task IDs are only known once RunTask returns: any task of this cluster.
	handlerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WatchTheMigrationTask"),
		Actions:   jsii.Strings("ecs:DescribeTasks"),
		Resources: jsii.Strings(arn("task/" + *props.Cluster.ClusterName() + "/*")),
	}))

	handler := func(id, entry string, logs awslogs.ILogGroup, what string) awslambda.Function {
		return awslambda.NewFunction(this, jsii.String(id), &awslambda.FunctionProps{
			Runtime:     awslambda.Runtime_NODEJS_24_X(),
			Handler:     jsii.String("index." + entry),
			Code:        awslambda.Code_FromInline(jsii.String(migrationHandler)),
			Role:        handlerRole,
			Timeout:     awscdk.Duration_Minutes(jsii.Number(1)),
			MemorySize:  jsii.Number(128),
			LogGroup:    logs,
			Description: jsii.String(what),
		})
	}
	onEvent := handler("OnEvent", "onEvent", onEventLogs, "Starts the database migration task (ecs:RunTask)")
	isComplete := handler("IsComplete", "isComplete", isCompleteLogs, "Waits for the database migration task to stop; fails unless it exited with 0")
	frameworkOnEventRole := lambdaRole("FrameworkOnEventRole", "Provider framework of the database migration: onEvent")
	frameworkCompleteRole := lambdaRole("FrameworkCompleteRole", "Provider framework of the database migration: isComplete and onTimeout")

	provider := customresources.NewProvider(this, jsii.String("Provider"), &customresources.ProviderProps{
		OnEventHandler:    onEvent,
		IsCompleteHandler: isComplete,
		// Task start (image pull) plus the migration's own 10-minute limit,
		// with room to spare.
		QueryInterval:                   awscdk.Duration_Seconds(jsii.Number(15)),
		TotalTimeout:                    awscdk.Duration_Minutes(jsii.Number(30)),
		FrameworkOnEventRole:            frameworkOnEventRole,
		FrameworkCompleteAndTimeoutRole: frameworkCompleteRole,
	})
	// The framework's functions log to the groups aws-cdk-lib creates for
	// them (named after the function until the stack's handler-log aspect
	// drops the name); their grants are policies of their own, so that no
	// function depends on a group named after it, and the run waits for them.
	frameworkLogs := map[awsiam.Role][]awslogs.ILogGroup{}
	for _, fn := range []struct {
		id   string
		role awsiam.Role
	}{{"framework-onEvent", frameworkOnEventRole}, {"framework-isComplete", frameworkCompleteRole}, {"framework-onTimeout", frameworkCompleteRole}} {
		f, ok := provider.Node().TryFindChild(jsii.String(fn.id)).(awslambda.Function)
		if !ok {
			panic("DatabaseMigration: the provider has no " + fn.id + " function (aws-cdk-lib changed)")
		}
		frameworkLogs[fn.role] = append(frameworkLogs[fn.role], f.LogGroup())
	}
	var logPolicies []cdkconstructs.IDependable
	for i, role := range []awsiam.Role{frameworkOnEventRole, frameworkCompleteRole} {
		logPolicies = append(logPolicies, awsiam.NewPolicy(this, jsii.String(fmt.Sprintf("FrameworkLogs%d", i+1)), &awsiam.PolicyProps{
			Roles:      &[]awsiam.IRole{role},
			Statements: &[]awsiam.PolicyStatement{writeLogs(frameworkLogs[role]...)},
		}))
	}
	// The waiter state machine's role: Step Functions documents the
	// confused-deputy keys for its roles ("Creating an IAM role for your
	// state machine", AWS Step Functions Developer Guide).
	waiterRole, ok := provider.Node().TryFindChild(jsii.String("waiter-state-machine")).Node().TryFindChild(jsii.String("Role")).(awsiam.Role)
	if !ok {
		panic("DatabaseMigration: the provider has no waiter-state-machine/Role (aws-cdk-lib changed)")
	}
	RestrictServiceTrust(waiterRole, *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("states"), Resource: jsii.String("stateMachine"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME}))

	subnets := make([]any, 0, len(*props.Subnets))
	for _, s := range *props.Subnets {
		subnets = append(subnets, s)
	}
	groups := make([]any, 0, len(props.SecurityGroups))
	for _, g := range props.SecurityGroups {
		groups = append(groups, g.SecurityGroupId())
	}
	assign := "DISABLED"
	if props.AssignPublicIp {
		assign = "ENABLED"
	}
	resource := awscdk.NewCustomResource(this, jsii.String("Run"), &awscdk.CustomResourceProps{
		ServiceToken: provider.ServiceToken(),
		ResourceType: jsii.String(MigrationResourceType),
		Properties: &map[string]any{
			"Cluster":        clusterArn,
			"TaskDefinition": props.TaskDefinition.TaskDefinitionArn(),
			"Container":      props.Container,
			"Subnets":        subnets,
			"SecurityGroups": groups,
			"AssignPublicIp": assign,
		},
	})
	resource.Node().AddDependency(logPolicies...)
	return &DatabaseMigration{Construct: this, Resource: resource, Provider: provider, HandlerRole: handlerRole, HandlerLogs: []awslogs.LogGroup{onEventLogs, isCompleteLogs}}
}
