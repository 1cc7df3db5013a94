package stacks

import (
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tsa-platform/infra/config"
)

// Suppression is one deliberate exception to an AWS Solutions rule. It is
// attached to a single resource (by construct path below its stack) and, for
// granular rules, to the listed findings only.
type Suppression struct {
	Stack     string   // stack part: network, data, compute, edge, frontend
	Path      string   // construct path inside the stack; a trailing * matches an id prefix
	Rule      string   // e.g. AwsSolutions-IAM5
	AppliesTo []string // granular findings; a value starting with / is a regular expression
	Reason    string
}

// Suppressions lists every exception for an environment. The README's
// security section is generated from the same reasons.
func Suppressions(cfg *config.Config) []Suppression {
	var s []Suppression
	add := func(x Suppression) { s = append(s, x) }

	if cfg.Database.Engine == config.EngineRDSPostgres {
		if cfg.Database.MonitoringIntervalSeconds > 0 { // Enhanced Monitoring has a role only when it is on
			add(Suppression{Stack: "data", Path: "Postgres/Instance/MonitoringRole/Resource", Rule: "AwsSolutions-IAM4",
				AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"},
				Reason:    "AmazonRDSEnhancedMonitoringRole is the AWS-documented policy for the RDS monitoring service role; it only lets RDS publish OS metrics to CloudWatch Logs"})
		}
		add(Suppression{Stack: "data", Path: "Postgres/Instance/Resource", Rule: "AwsSolutions-RDS11",
			Reason: "PostgreSQL keeps its standard port 5432: the security group admits only the API tasks, and a non-standard port would only break default tooling"})
		add(Suppression{Stack: "data", Path: "Postgres/Secret/Resource", Rule: "AwsSolutions-SMG4",
			Reason: "Only the deploy-time migration task reads the master password, when it starts; the runbook rotates it (new secret value, then the instance) with nothing to restart, and a rotation function would be one more Lambda with the master password in reach"})
		if !cfg.Production() {
			add(Suppression{Stack: "data", Path: "Postgres/Instance/Resource", Rule: "AwsSolutions-RDS3",
				Reason: "Single-AZ in non-production environments to keep idle cost low; config validation requires Multi-AZ in every prod-profile environment"})
			add(Suppression{Stack: "data", Path: "Postgres/Instance/Resource", Rule: "AwsSolutions-RDS10",
				Reason: "Non-production databases are disposable so `cdk destroy` leaves nothing billable; config validation requires deletion protection in every prod-profile environment"})
		}
	}

	if cfg.Database.Engine == config.EngineExternal {
		add(Suppression{Stack: "data", Path: "ExternalAppSecret/Resource", Rule: "AwsSolutions-SMG4",
			Reason: "The deploy-time migration task applies the application role's password to the external database, so the runbook rotates it: new secret value, re-run the migration task, roll the service; a rotation function would need the administrator's credentials at all times"})
	}
	if !cfg.Monitoring.OperationsKeyRotation {
		add(Suppression{Stack: "network", Path: "OperationsKey/Resource", Rule: "AwsSolutions-KMS5",
			Reason: "monitoring.operationsKeyRotation is off (dev profile) to keep the idle budget: the first two rotations add $1/month each. The key only encrypts alarm notifications in transit; config validation requires rotation in every prod-profile environment"})
	}
	if !cfg.Monitoring.ContainerInsights {
		add(Suppression{Stack: "compute", Path: "Cluster/Resource", Rule: "AwsSolutions-ECS4",
			Reason: "monitoring.containerInsights is off (dev profile) to keep the idle budget: Container Insights bills about 38 custom metrics ($11.40/month) for one service; the service's free AWS/ECS CPU and memory metrics and the load balancer's healthy-target count still drive its alarms"})
	}
	add(Suppression{Stack: "compute", Path: "ApiKey/Resource", Rule: "AwsSolutions-SMG4",
		Reason: "The API key is handed to writers out of band, so a scheduled rotation would lock them out; the runbook rotates it without downtime: the secret holds current and previous, the API accepts both while writers move to the new key"})
	add(Suppression{Stack: "compute", Path: "Api/TaskDef/ExecutionRole/DefaultPolicy/Resource", Rule: "AwsSolutions-IAM5",
		AppliesTo: []string{"Resource::*"},
		Reason:    "ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the repository, log group and secrets"})
	if cfg.Backend.EnableExec {
		add(Suppression{Stack: "compute", Path: "ApiTaskRole/DefaultPolicy/Resource", Rule: "AwsSolutions-IAM5",
			AppliesTo: []string{"Resource::*", `/^Resource::arn:(<AWS::Partition>|[a-z-]+):logs:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]+):log-group:<ExecSessionsLogs[0-9A-F]+>:\*$/`},
			Reason:    "ECS Exec needs ssmmessages:Create/OpenControlChannel, Create/OpenDataChannel and logs:DescribeLogGroups, which have no resource-level permissions, and creates a log stream per session in its own session log group, which the task may append to but not read, change or delete"})
	}
	add(Suppression{Stack: "compute", Path: "AccessLogs/Resource", Rule: "AwsSolutions-S1",
		Reason: "This bucket receives the ALB's access logs; logging access to the log bucket itself would need another bucket for no added record"})
	add(Suppression{Stack: "compute", Path: "Api/TaskDef/Resource", Rule: "AwsSolutions-ECS2",
		Reason: "Plain environment variables carry only non-secret settings (environment name, port, database host, port, name and role name, schema mode, region, the CA certificate, which is public); passwords and the API keys are ECS secrets"})

	// The deploy-time migration (compute_migration.go, constructs/migration.go).
	add(Suppression{Stack: "compute", Path: "MigrationTaskDef/Resource", Rule: "AwsSolutions-ECS2",
		Reason: "Plain environment variables carry only non-secret settings (environment name, schema mode, role names, the CA certificate, which is public); the administrator's credentials and the application role's password are ECS secrets"})
	add(Suppression{Stack: "compute", Path: "MigrationTaskDef/ExecutionRole/DefaultPolicy/Resource", Rule: "AwsSolutions-IAM5",
		AppliesTo: []string{"Resource::*"},
		Reason:    "ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the repository, log group and secrets"})
	add(Suppression{Stack: "compute", Path: "Migration/HandlerRole/DefaultPolicy/Resource", Rule: "AwsSolutions-IAM5",
		AppliesTo: []string{
			`/^Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition\/` + regexp.QuoteMeta(cfg.StackName("migrate")) + `:\*$/`,
			`/^Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task\/<Cluster[0-9A-F]+>\/\*$/`,
			`/^Resource::arn:(aws[a-z-]*):ecs:([a-z0-9-]+):([0-9]{12}):task-definition\/` + regexp.QuoteMeta(cfg.StackName("migrate")) + `:\*$/`,
			`/^Resource::arn:(aws[a-z-]*):ecs:([a-z0-9-]+):([0-9]{12}):task\/<Cluster[0-9A-F]+>\/\*$/`,
		},
		Reason: "ecs:RunTask may start any revision of the migration task's own family (a rollback starts the previous one) in this cluster only; ecs:DescribeTasks reads tasks of this cluster, since a task's ID exists only once RunTask returns"})
	for _, role := range []string{"FrameworkOnEventRole", "FrameworkCompleteRole"} {
		add(Suppression{Stack: "compute", Path: "Migration/" + role + "/DefaultPolicy/Resource", Rule: "AwsSolutions-IAM5",
			AppliesTo: []string{`/^Resource::<Migration(OnEvent|IsComplete)[0-9A-F]+\.Arn>:\*$/`},
			Reason:    "aws-cdk-lib's provider framework invokes the two migration handler functions; its grant covers each function's ARN and ARN:* (that function's versions and aliases), nothing else"})
	}
	add(Suppression{Stack: "compute", Path: "Migration/Provider/waiter-state-machine/Role/DefaultPolicy/Resource", Rule: "AwsSolutions-IAM5",
		AppliesTo: []string{`/^Resource::<MigrationProviderframework(isComplete|onTimeout)[0-9A-F]+\.Arn>:\*$/`},
		Reason:    "The provider framework's waiter invokes its own isComplete and onTimeout functions; the grant covers each function's ARN and ARN:* (that function's versions and aliases), nothing else"})
	add(Suppression{Stack: "compute", Path: "Migration/Provider/waiter-state-machine/Resource", Rule: "AwsSolutions-SF1",
		Reason: "The waiter only polls the migration task through the isComplete handler, whose every call and result is logged in the migration's log group; Step Functions logging would add log-delivery permissions on * to its role (aws-cdk-lib grants logs:CreateLogDelivery and related actions on * for it)"})
	add(Suppression{Stack: "compute", Path: "Migration/Provider/waiter-state-machine/Resource", Rule: "AwsSolutions-SF2",
		Reason: "The waiter runs only while a deploy waits for the migration task, one poll about every 15 seconds; the CloudFormation events and the migration's log group already show each step, so X-Ray traces would add nothing"})

	// The deploy-time lookup of CloudFront's origin-facing prefix list
	// (constructs/prefixlist.go) runs in aws-cdk-lib's AwsCustomResource
	// function, one per stack.
	add(Suppression{Stack: "compute", Path: awsCustomResourceFunction + "/ServiceRole/Resource", Rule: "AwsSolutions-IAM4",
		AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		Reason:    "aws-cdk-lib's AwsCustomResource function runs only while the stack deploys; this managed policy only lets it write its CloudWatch logs"})
	add(Suppression{Stack: "compute", Path: "CloudFrontOriginFacing/Lookup/CustomResourcePolicy/Resource", Rule: "AwsSolutions-IAM5",
		AppliesTo: []string{"Resource::*"},
		Reason:    "The lookup may call ec2:DescribeManagedPrefixLists only, which has no resource-level permissions; it reads the ID of the AWS-managed CloudFront prefix list and changes nothing"})

	// The site deployments' handler runs with SiteDeploymentRole
	// (constructs/sitedeployment.go): no managed policy, its own log group,
	// its own source objects, this distribution's invalidations.
	add(Suppression{Stack: "frontend", Path: "SiteDeployment/Role/DefaultPolicy/Resource", Rule: "AwsSolutions-IAM5",
		AppliesTo: []string{
			"Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*", "Action::s3:Abort*", "Action::s3:DeleteObject*",
			`/^Resource::<SiteBucket[0-9A-F]+\.Arn>\/\*$/`,
		},
		Reason: "The site deployment handler syncs the site into its bucket (aws s3 sync --delete, aws s3 rm, GetBucketTagging), so it reads, writes and deletes objects of the site bucket only, with aws-cdk-lib's grantReadWrite; it reads nothing of the CDK asset bucket but its own source objects and invalidates only this distribution"})
	add(Suppression{Stack: "frontend", Path: "Custom::CDKBucketDeployment*/Resource", Rule: "AwsSolutions-L1",
		Reason: "The BucketDeployment handler's runtime is pinned by aws-cdk-lib and moves with CDK upgrades"})
	add(Suppression{Stack: "frontend", Path: "Distribution/Resource", Rule: "AwsSolutions-CFR1",
		Reason: "The product serves a global audience; no country needs to be blocked"})
	if !cfg.Frontend.Waf.Enabled {
		add(Suppression{Stack: "frontend", Path: "Distribution/Resource", Rule: "AwsSolutions-CFR2",
			Reason: "frontend.waf.enabled is off (dev profile) to keep the idle budget: the web ACL and its four rules cost $9/month. The API requires an API key for writes and CloudFront's Shield Standard covers network-layer DDoS; config validation requires the WAF in every prod-profile environment"})
	}
	if cfg.Frontend.DomainName == "" {
		add(Suppression{Stack: "frontend", Path: "Distribution/Resource", Rule: "AwsSolutions-CFR4",
			Reason: "Without frontend.domainName the distribution uses the default *.cloudfront.net certificate, on which CloudFront fixes the minimum TLS version at TLSv1; config validation admits that in a prod-profile environment only with a reason in frontend.allowDefaultCertificate, which synth prints as a warning. With a domain the distribution enforces TLSv1.2_2025"})
	}
	return s
}

// awsCustomResourceFunction is the construct id aws-cdk-lib gives the
// singleton function behind every AwsCustomResource of a stack.
const awsCustomResourceFunction = "AWS679f53fac002430cb0da5b7982bd2287"

// suppressNagFindings attaches the suppressions to the synthesized stacks.
func suppressNagFindings(p *Platform, cfg *config.Config) {
	stacks := map[string]awscdk.Stack{"network": p.Network.Stack, "data": p.Data.Stack, "compute": p.Compute.Stack, "frontend": p.Frontend.Stack}
	if p.Edge != nil {
		stacks["edge"] = p.Edge.Stack
	}
	for _, s := range Suppressions(cfg) {
		stack := stacks[s.Stack]
		rel := resolvePath(stack, s.Path)
		if !exists(stack, rel) {
			// The resource moved or was renamed: its finding is then reported
			// unsuppressed and fails the synth, which is the review we want.
			continue
		}
		path := "/" + *stack.StackName() + "/" + rel
		var applies *[]any
		if len(s.AppliesTo) > 0 {
			list := make([]any, 0, len(s.AppliesTo))
			for _, a := range s.AppliesTo {
				if strings.HasPrefix(a, "/") {
					list = append(list, &cdknag.RegexAppliesTo{Regex: jsii.String(a)})
				} else {
					list = append(list, a)
				}
			}
			applies = &list
		}
		cdknag.NagSuppressions_AddResourceSuppressionsByPath(stack, jsii.String(path), &[]*cdknag.NagPackSuppression{{
			Id: jsii.String(s.Rule), Reason: jsii.String(s.Reason), AppliesTo: applies,
		}}, jsii.Bool(false))
	}
}

// resolvePath expands a first path segment ending in * to the one child of the
// stack whose id starts with it (CDK singletons carry a hash in their id).
func resolvePath(stack awscdk.Stack, path string) string {
	first, rest, _ := strings.Cut(path, "/")
	if !strings.HasSuffix(first, "*") {
		return path
	}
	prefix := strings.TrimSuffix(first, "*")
	for _, c := range *stack.Node().Children() {
		if id := *c.Node().Id(); strings.HasPrefix(id, prefix) {
			return id + "/" + rest
		}
	}
	return path
}

func exists(stack awscdk.Stack, path string) bool {
	var node constructs.IConstruct = stack
	for _, id := range strings.Split(path, "/") {
		if node = node.Node().TryFindChild(jsii.String(id)); node == nil {
			return false
		}
	}
	return true
}
