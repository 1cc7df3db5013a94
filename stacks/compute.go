package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// ComputeStackProps configures the compute stack.
type ComputeStackProps struct {
	awscdk.StackProps
	Config   *config.Config
	Vpc      awsec2.IVpc
	Database tsaconstructs.Database
	// Repository is the network stack's image repository (-c imageTag=TAG).
	Repository awsecr.IRepository
	AlarmTopic awssns.ITopic
}

// ComputeStack owns the cluster, the API service and its internal ALB.
type ComputeStack struct {
	awscdk.Stack
	Cluster      awsecs.Cluster
	Service      awsecspatterns.ApplicationLoadBalancedFargateService
	LoadBalancer elbv2.ApplicationLoadBalancer
	ApiKey       awssecretsmanager.Secret
	LogGroup     awslogs.LogGroup
	Alarms       *tsaconstructs.ServiceAlarms
	// ExecLogs is the ECS Exec audit (there whether or not Exec is on).
	ExecLogs *tsaconstructs.ExecSessionLogs
	// Migration runs /app -migrate at every deploy that changes it, before
	// the service rolls.
	Migration *tsaconstructs.DatabaseMigration
}

// ContainerName is the API container's name in the task definition.
const ContainerName = "api"

// listenerPort is the internal ALB's HTTP port; only CloudFront's VPC origin reaches it.
const listenerPort = 80

// schemaModes tells the sample API how to lay out time-series tables per engine.
var schemaModes = map[string]string{
	config.EngineRDSPostgres: "partman",
	config.EngineTimescaleDB: "timescaledb",
	config.EngineExternal:    "plain",
}

// NewComputeStack creates the ECS cluster and the ALB-fronted Fargate
// service that runs the API.
func NewComputeStack(scope constructs.Construct, id string, props *ComputeStackProps) *ComputeStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	b := cfg.Backend

	// ECS Exec sessions are logged to their own group, encrypted with the
	// audit's own key where customer-managed keys are on (monitoring.go).
	execLogs := newExecSessionLogs(stack, cfg)
	execConfig := execLogs.Configuration()
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                         props.Vpc,
		ContainerInsightsV2:         containerInsights(cfg),
		ExecuteCommandConfiguration: execConfig,
	})
	capacityProviders := newCapacityProviders(cluster)

	logGroup := awslogs.NewLogGroup(stack, jsii.String("ApiLogs"), &awslogs.LogGroupProps{
		Retention:     Retention(b.LogRetentionDays),
		RemovalPolicy: removal(cfg),
	})

	db := importDatabase(stack, props.Database)
	dataKey := db.Key
	// {"current": ..., "previous": ""}: the API accepts both keys, so a
	// rotation moves clients over without downtime (runbook). The logical ID
	// is kept: an updated GenerateSecretString updates the secret in place
	// (Name is its only create-only property).
	apiKey := awssecretsmanager.NewSecret(stack, jsii.String("ApiKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String(fmt.Sprintf("API keys that authorise writes to the %s API: current, and previous while a rotation rolls out", cfg.Name)),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(`{"previous":""}`),
			GenerateStringKey:    jsii.String("current"),
			PasswordLength:       jsii.Number(48),
			ExcludePunctuation:   jsii.Bool(true),
			IncludeSpace:         jsii.Bool(false),
		},
		EncryptionKey: dataKey,
		RemovalPolicy: removal(cfg),
	})

	// The load balancer is internal and admits CloudFront only (compute_loadbalancer.go).
	lb := newLoadBalancer(stack, cfg, props.Vpc)
	alb, albSG := lb.alb, lb.securityGroup
	taskSubnets := &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetPublic)}
	if cfg.Network.NatGateways > 0 {
		taskSubnets = &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetApp)}
	}

	// Tasks talk HTTPS to AWS APIs (ECR, CloudWatch Logs, Secrets Manager) and
	// the database port; nothing else leaves them.
	taskSG := awsec2.NewSecurityGroup(stack, jsii.String("ApiSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              props.Vpc,
		Description:      jsii.String("API tasks: from the ALB only; to AWS APIs over HTTPS and to the database"),
		AllowAllOutbound: jsii.Bool(false),
	})
	taskSG.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("AWS APIs over HTTPS"), nil)

	var image awsecs.ContainerImage
	if cfg.UsesImageRepository() {
		image = awsecs.ContainerImage_FromEcrRepository(props.Repository, jsii.String(b.Image.Tag))
	} else {
		image = awsecs.ContainerImage_FromAsset(jsii.String(cfg.Path(b.Image.Directory)), &awsecs.AssetImageProps{
			Platform: dockerPlatform(b.CpuArchitecture),
		})
	}

	env, secrets := serviceDatabaseSettings(stack, cfg, db)
	env["APP_ENV"] = jsii.String(cfg.Name)
	env["PORT"] = jsii.String(fmt.Sprint(b.Port))
	secrets["API_KEY"] = awsecs.Secret_FromSecretsManager(apiKey, jsii.String("current"))
	secrets["API_KEY_PREVIOUS"] = awsecs.Secret_FromSecretsManager(apiKey, jsii.String("previous"))
	// The task role, written out: ECS Exec's permissions (append-only to its
	// log group) and, on RDS, rds-db:connect as the application role;
	// aws-cdk-lib's own grants to it are dropped (WithoutPolicyUpdates).
	taskRole := newTaskRole(stack, "ApiTaskRole", cfg, "API tasks: ECS Exec sessions and the database login")
	if db.IAMResourceID != nil {
		// "Creating and using an IAM policy for IAM database access" (Amazon
		// RDS User Guide): arn:aws:rds-db:REGION:ACCOUNT:dbuser:DbiResourceId/USER.
		taskRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("ConnectAsTheApplicationRole"),
			Actions: jsii.Strings("rds-db:connect"),
			Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("rds-db"), Resource: jsii.String("dbuser"), ResourceName: jsii.String(*db.IAMResourceID + "/" + db.AppUser),
				ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			})),
		}))
	}
	if b.EnableExec {
		for _, st := range execLogs.TaskRolePolicy() {
			taskRole.AddToPrincipalPolicy(st)
		}
	}

	var capacity *[]*awsecs.CapacityProviderStrategy
	if b.Spot {
		capacity = &[]*awsecs.CapacityProviderStrategy{{CapacityProvider: jsii.String("FARGATE_SPOT"), Weight: jsii.Number(1)}}
	}

	svc := awsecspatterns.NewApplicationLoadBalancedFargateService(stack, jsii.String("Api"), &awsecspatterns.ApplicationLoadBalancedFargateServiceProps{
		Cluster:        cluster,
		LoadBalancer:   alb,
		OpenListener:   jsii.Bool(false),
		ListenerPort:   jsii.Number(listenerPort),
		Protocol:       elbv2.ApplicationProtocol_HTTP,
		TaskSubnets:    taskSubnets,
		SecurityGroups: &[]awsec2.ISecurityGroup{taskSG},
		AssignPublicIp: jsii.Bool(b.AssignPublicIp),
		Cpu:            jsii.Number(float64(b.Cpu)),
		MemoryLimitMiB: jsii.Number(float64(b.MemoryMiB)),
		DesiredCount:   jsii.Number(float64(b.DesiredCount)),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       cpuArchitecture(b.CpuArchitecture),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		CapacityProviderStrategies: capacity,
		TaskImageOptions: &awsecspatterns.ApplicationLoadBalancedTaskImageOptions{
			Image:         image,
			ContainerName: jsii.String(ContainerName),
			ContainerPort: jsii.Number(float64(b.Port)),
			LogDriver: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
				LogGroup:     logGroup,
				StreamPrefix: jsii.String("api"),
				Mode:         awsecs.AwsLogDriverMode_NON_BLOCKING,
			}),
			// Only non-secret settings are plain environment variables. The
			// master secret is not among the secrets: the service never reads it.
			Environment: &env,
			Secrets:     &secrets,
			TaskRole:    taskRole.WithoutPolicyUpdates(&awsiam.WithoutPolicyUpdatesOptions{AddGrantsToResources: jsii.Bool(false)}),
		},
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings("CMD", "/app", "-healthcheck"),
			Interval:    awscdk.Duration_Seconds(jsii.Number(15)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(20)),
		},
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		MinHealthyPercent:      jsii.Number(100),
		MaxHealthyPercent:      jsii.Number(200),
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(60)),
		EnableExecuteCommand:   jsii.Bool(b.EnableExec),
		PropagateTags:          awsecs.PropagatedTagSource_SERVICE,
		EnableECSManagedTags:   jsii.Bool(true),
	})

	// The API writes no file: a read-only root filesystem (with ECS Exec's
	// agent directories as the only writable mounts, compute_readonly.go).
	readOnlyRoot(svc.TaskDefinition(), ContainerName, b.EnableExec)

	// /app -migrate runs to completion before the service rolls
	// (compute_migration.go).
	migration := newMigration(stack, cfg, props.Vpc, cluster, image, logGroup, db, taskSubnets)
	svc.Service().Node().AddDependency(migration.Resource)

	if capacity != nil {
		// ECS refuses a capacity provider strategy whose provider is not yet
		// associated with the cluster; without this edge CloudFormation may
		// create the service and the association at the same time.
		svc.Service().Node().AddDependency(capacityProviders)
	}
	// The egress rule to the tasks is a separate resource (it references
	// another group); keep the group's own egress closed (compute_loadbalancer.go).
	lb.closeInlineEgress()

	// ecs_patterns adds undescribed LoadBalancerDNS/ServiceURL outputs; the URL
	// would point at an internal ALB nobody outside the VPC can reach.
	svc.Node().TryRemoveChild(jsii.String("LoadBalancerDNS"))
	svc.Node().TryRemoveChild(jsii.String("ServiceURL"))

	svc.TargetGroup().ConfigureHealthCheck(&elbv2.HealthCheck{
		Path:                    jsii.String(b.HealthCheckPath),
		HealthyHttpCodes:        jsii.String("200"),
		Interval:                awscdk.Duration_Seconds(jsii.Number(15)),
		Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
		HealthyThresholdCount:   jsii.Number(2),
		UnhealthyThresholdCount: jsii.Number(3),
	})
	// Tasks drain quickly: the API answers in milliseconds and shuts down within 20 s.
	svc.TargetGroup().SetAttribute(jsii.String("deregistration_delay.timeout_seconds"), jsii.String("15"))

	scaling := svc.Service().AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(float64(b.MinCount)),
		MaxCapacity: jsii.Number(float64(b.MaxCount)),
	})
	scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(float64(b.TargetCpuPercent)),
		ScaleOutCooldown:         awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:          awscdk.Duration_Seconds(jsii.Number(300)),
	})
	scaling.ScaleOnRequestCount(jsii.String("Requests"), &awsecs.RequestCountScalingProps{
		RequestsPerTarget: jsii.Number(float64(b.RequestsPerTarget)),
		TargetGroup:       svc.TargetGroup(),
		ScaleOutCooldown:  awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:   awscdk.Duration_Seconds(jsii.Number(300)),
	})

	// Opened from this side so the data stack never depends on compute.
	svc.Service().Connections().AllowToDefaultPort(db.Connections, jsii.String("API tasks to the database"))

	// Alarms (monitoring.go); a deployment that trips the API 5xx or latency
	// alarm rolls back, on top of the circuit breaker.
	alarms := newServiceAlarms(stack, cfg, props.AlarmTopic, alb, svc)
	svc.Service().EnableDeploymentAlarms(alarms.DeploymentAlarmNames(), &awsecs.DeploymentAlarmOptions{Behavior: awsecs.AlarmBehavior_ROLLBACK_ON_ALARM})

	output(stack, "LoadBalancerDnsName", alb.LoadBalancerDnsName(), "Internal ALB DNS name (reachable from inside the VPC and from CloudFront only)")
	output(stack, "ClusterName", cluster.ClusterName(), "ECS cluster name")
	output(stack, "ServiceName", svc.Service().ServiceName(), "ECS service name")
	output(stack, "ServiceSecurityGroupId", taskSG.SecurityGroupId(), "Security group of the API tasks")
	output(stack, "LoadBalancerSecurityGroupId", albSG.SecurityGroupId(), "Security group of the internal ALB")
	output(stack, "ApiKeySecretArn", apiKey.SecretArn(), "Secrets Manager secret holding the API keys for writes (JSON: current, previous)")
	output(stack, "ApiLogGroupName", logGroup.LogGroupName(), "CloudWatch log group of the API containers")
	output(stack, "ExecLogGroupName", execLogs.LogGroup.LogGroupName(), "CloudWatch log group recording ECS Exec sessions")

	return &ComputeStack{
		Stack:        stack,
		Cluster:      cluster,
		Service:      svc,
		LoadBalancer: alb,
		ApiKey:       apiKey,
		LogGroup:     logGroup,
		Alarms:       alarms,
		ExecLogs:     execLogs,
		Migration:    migration,
	}
}

// importDatabase refers to the data tier's key and secrets by ARN. Granted
// through the data stack's own objects, a role here would be written into
// the data stack's key policy, and the data stack would depend on this one.
// The key policy already lets Secrets Manager use the key for this account
// (the database secrets use it), so grants here go to the roles' policies.
func importDatabase(stack awscdk.Stack, db tsaconstructs.Database) tsaconstructs.Database {
	if db.Key != nil {
		db.Key = awskms.Key_FromKeyArn(stack, jsii.String("DataKey"), db.Key.KeyArn())
	}
	imported := func(id string, s awssecretsmanager.ISecret) awssecretsmanager.ISecret {
		if s == nil {
			return nil
		}
		return awssecretsmanager.Secret_FromSecretAttributes(stack, jsii.String(id), &awssecretsmanager.SecretAttributes{
			SecretCompleteArn: s.SecretArn(),
			EncryptionKey:     db.Key,
		})
	}
	db.Secret = imported("DatabaseSecret", db.Secret)
	db.AppSecret = imported("DatabaseAppSecret", db.AppSecret)
	return db
}

// newCapacityProviders associates FARGATE and FARGATE_SPOT with the cluster.
// aws-cdk-lib's enableFargateCapacityProviders creates the same resource
// (same path, so the same logical ID) from an aspect during synthesis, too
// late for a service to depend on it; this one exists when the service is
// wired.
func newCapacityProviders(cluster awsecs.Cluster) awsecs.CfnClusterCapacityProviderAssociations {
	return awsecs.NewCfnClusterCapacityProviderAssociations(cluster, jsii.String("Cluster"), &awsecs.CfnClusterCapacityProviderAssociationsProps{
		Cluster:                         cluster.ClusterName(),
		CapacityProviders:               &[]any{"FARGATE", "FARGATE_SPOT"},
		DefaultCapacityProviderStrategy: &[]any{},
	})
}

func cpuArchitecture(name string) awsecs.CpuArchitecture {
	if name == "X86_64" {
		return awsecs.CpuArchitecture_X86_64()
	}
	return awsecs.CpuArchitecture_ARM64()
}

func dockerPlatform(name string) awsecrassets.Platform {
	if name == "X86_64" {
		return awsecrassets.Platform_LINUX_AMD64()
	}
	return awsecrassets.Platform_LINUX_ARM64()
}
