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
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/regioninfo"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// ComputeStackProps configures the compute stack.
type ComputeStackProps struct {
	awscdk.StackProps
	Config        *config.Config
	Vpc           awsec2.IVpc
	Database      tsaconstructs.Database
	AlarmTopic    awssns.ITopic
	OperationsKey awskms.IKey
}

// ComputeStack owns the image repository, the cluster and the API service.
type ComputeStack struct {
	awscdk.Stack
	Repository   awsecr.Repository
	Cluster      awsecs.Cluster
	Service      awsecspatterns.ApplicationLoadBalancedFargateService
	LoadBalancer elbv2.ApplicationLoadBalancer
	ApiKey       awssecretsmanager.Secret
	LogGroup     awslogs.LogGroup
	Alarms       *tsaconstructs.ServiceAlarms
	// ExecLogs is nil when ECS Exec is off.
	ExecLogs *tsaconstructs.ExecSessionLogs
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

// NewComputeStack creates the ECR repository, the ECS cluster and the
// ALB-fronted Fargate service that runs the API.
func NewComputeStack(scope constructs.Construct, id string, props *ComputeStackProps) *ComputeStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	b := cfg.Backend
	prod := cfg.Production()

	repo := awsecr.NewRepository(stack, jsii.String("Repository"), &awsecr.RepositoryProps{
		ImageScanOnPush:    jsii.Bool(true),
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE,
		Encryption:         awsecr.RepositoryEncryption_AES_256(),
		RemovalPolicy:      removal(cfg),
		EmptyOnDelete:      jsii.Bool(!prod),
		LifecycleRules: &[]*awsecr.LifecycleRule{
			{RulePriority: jsii.Number(1), Description: jsii.String("Expire untagged layers after a day"), TagStatus: awsecr.TagStatus_UNTAGGED, MaxImageAge: awscdk.Duration_Days(jsii.Number(1))},
			{RulePriority: jsii.Number(2), Description: jsii.String("Keep the 30 most recent images"), TagStatus: awsecr.TagStatus_ANY, MaxImageCount: jsii.Number(30)},
		},
	})

	// ECS Exec sessions are encrypted and logged to their own group (monitoring.go).
	execLogs := newExecSessionLogs(stack, cfg, props.OperationsKey)
	var execConfig *awsecs.ExecuteCommandConfiguration
	if execLogs != nil {
		execConfig = execLogs.Configuration()
	}
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                            props.Vpc,
		ContainerInsightsV2:            containerInsights(cfg),
		EnableFargateCapacityProviders: jsii.Bool(true),
		ExecuteCommandConfiguration:    execConfig,
	})

	logGroup := awslogs.NewLogGroup(stack, jsii.String("ApiLogs"), &awslogs.LogGroupProps{
		Retention:     Retention(b.LogRetentionDays),
		RemovalPolicy: removal(cfg),
	})

	apiKey := awssecretsmanager.NewSecret(stack, jsii.String("ApiKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String(fmt.Sprintf("API key that authorises writes to the %s API", cfg.Name)),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(48),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
		RemovalPolicy: removal(cfg),
	})

	// The load balancer is internal: CloudFront reaches it through a VPC origin
	// whose network interfaces live in this VPC, so nothing outside the VPC can.
	albSubnets := &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetIsolated)}
	taskSubnets := &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetPublic)}
	if cfg.Network.NatGateways > 0 {
		albSubnets = &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetApp)}
		taskSubnets = albSubnets
	}
	albSG := awsec2.NewSecurityGroup(stack, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              props.Vpc,
		Description:      jsii.String("Internal ALB: HTTP from the CloudFront VPC origin inside the VPC only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	albSG.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(cfg.Network.VpcCidr)), awsec2.Port_Tcp(jsii.Number(listenerPort)),
		jsii.String("CloudFront VPC origin network interfaces"), nil)

	accessLogs := awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     removal(cfg),
		AutoDeleteObjects: jsii.Bool(!prod),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration: awscdk.Duration_Days(jsii.Number(float64(b.LogRetentionDays))),
		}},
	})

	alb := elbv2.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &elbv2.ApplicationLoadBalancerProps{
		Vpc:                     props.Vpc,
		InternetFacing:          jsii.Bool(false),
		VpcSubnets:              albSubnets,
		SecurityGroup:           albSG,
		DropInvalidHeaderFields: jsii.Bool(true),
		DeletionProtection:      jsii.Bool(prod),
		IdleTimeout:             awscdk.Duration_Seconds(jsii.Number(60)),
	})
	logAccess(stack, alb, accessLogs, "alb")

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
		image = awsecs.ContainerImage_FromEcrRepository(repo, jsii.String(b.Image.Tag))
	} else {
		image = awsecs.ContainerImage_FromAsset(jsii.String(cfg.Path(b.Image.Directory)), &awsecs.AssetImageProps{
			Platform: dockerPlatform(b.CpuArchitecture),
		})
	}

	db := props.Database
	dbSecret := func(key string) awsecs.Secret {
		return awsecs.Secret_FromSecretsManager(db.Secret, jsii.String(key))
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
			// Only non-secret settings are plain environment variables.
			Environment: &map[string]*string{
				"APP_ENV":     jsii.String(cfg.Name),
				"PORT":        jsii.String(fmt.Sprint(b.Port)),
				"DB_SSLMODE":  jsii.String("require"),
				"SCHEMA_MODE": jsii.String(schemaModes[db.Engine]),
			},
			Secrets: &map[string]awsecs.Secret{
				"DB_HOST":     dbSecret("host"),
				"DB_PORT":     dbSecret("port"),
				"DB_NAME":     dbSecret("dbname"),
				"DB_USER":     dbSecret("username"),
				"DB_PASSWORD": dbSecret("password"),
				"API_KEY":     awsecs.Secret_FromSecretsManager(apiKey, nil),
			},
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

	output(stack, "RepositoryUri", repo.RepositoryUri(), "ECR repository to push API images to (deploy one with -c imageTag=TAG)")
	output(stack, "LoadBalancerDnsName", alb.LoadBalancerDnsName(), "Internal ALB DNS name (reachable from inside the VPC and from CloudFront only)")
	output(stack, "ClusterName", cluster.ClusterName(), "ECS cluster name")
	output(stack, "ServiceName", svc.Service().ServiceName(), "ECS service name")
	output(stack, "ServiceSecurityGroupId", taskSG.SecurityGroupId(), "Security group of the API tasks")
	output(stack, "LoadBalancerSecurityGroupId", albSG.SecurityGroupId(), "Security group of the internal ALB")
	output(stack, "ApiKeySecretArn", apiKey.SecretArn(), "Secrets Manager secret holding the API key for writes")
	output(stack, "ApiLogGroupName", logGroup.LogGroupName(), "CloudWatch log group of the API containers")
	if execLogs != nil {
		output(stack, "ExecLogGroupName", execLogs.LogGroup.LogGroupName(), "CloudWatch log group recording ECS Exec sessions")
	}

	return &ComputeStack{
		Stack:        stack,
		Repository:   repo,
		Cluster:      cluster,
		Service:      svc,
		LoadBalancer: alb,
		ApiKey:       apiKey,
		LogGroup:     logGroup,
		Alarms:       alarms,
		ExecLogs:     execLogs,
	}
}

// logAccess turns on ALB access logs. CDK's LogAccessLogs needs a concrete
// region; an environment-agnostic stack looks the region's ELB account up in a
// template mapping at deploy time and also trusts the log delivery service
// principal that regions opened since August 2022 use.
func logAccess(stack awscdk.Stack, alb elbv2.ApplicationLoadBalancer, bucket awss3.Bucket, prefix string) {
	if !*awscdk.Token_IsUnresolved(stack.Region()) {
		alb.LogAccessLogs(bucket, jsii.String(prefix))
		return
	}
	alb.SetAttribute(jsii.String("access_logs.s3.enabled"), jsii.String("true"))
	alb.SetAttribute(jsii.String("access_logs.s3.bucket"), bucket.BucketName())
	alb.SetAttribute(jsii.String("access_logs.s3.prefix"), jsii.String(prefix))
	elbAccount := stack.RegionalFact(regioninfo.FactName_ELBV2_ACCOUNT(), nil)
	bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{
			awsiam.NewAccountPrincipal(elbAccount),
			awsiam.NewServicePrincipal(jsii.String("logdelivery.elasticloadbalancing.amazonaws.com"), nil),
		},
		Actions:   jsii.Strings("s3:PutObject"),
		Resources: jsii.Strings(*bucket.ArnForObjects(jsii.String(prefix + "/AWSLogs/" + *stack.Account() + "/*"))),
	}))
	alb.Node().AddDependency(bucket)
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
