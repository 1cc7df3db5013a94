package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// MigrationContainerName is the migration task's container.
const MigrationContainerName = "migrate"

// serviceDatabaseSettings maps the data tier onto the API's environment
// (apps/README.md, "Contract for the infrastructure"): where the database is
// as plain values (the service never reads the administrator's secret), the
// application role's login (IAM tokens on RDS, its own secret elsewhere) and
// the CA that verifies the server (DB_SSLMODE is left at verify-full).
func serviceDatabaseSettings(stack awscdk.Stack, cfg *config.Config, db tsaconstructs.Database) (map[string]*string, map[string]awsecs.Secret) {
	env := map[string]*string{
		"DB_HOST":     db.Endpoint,
		"DB_PORT":     jsii.String(fmt.Sprint(db.Port)),
		"DB_NAME":     jsii.String(db.Name),
		"SCHEMA_MODE": jsii.String(schemaModes[db.Engine]),
	}
	secrets := map[string]awsecs.Secret{}
	if db.AppSecret != nil {
		secrets["DB_USER"] = awsecs.Secret_FromSecretsManager(db.AppSecret, jsii.String("username"))
		secrets["DB_PASSWORD"] = awsecs.Secret_FromSecretsManager(db.AppSecret, jsii.String("password"))
	} else {
		env["DB_USER"] = jsii.String(db.AppUser)
		env["DB_IAM_AUTH"] = jsii.String("true")
		env["AWS_REGION"] = stack.Region()
	}
	databaseTLS(env, secrets, db.TLS)
	return env, secrets
}

// databaseTLS sets the CA the app verifies the server against.
func databaseTLS(env map[string]*string, secrets map[string]awsecs.Secret, tls tsaconstructs.DatabaseTLS) {
	switch {
	case tls.RootCertParameter != nil:
		secrets["DB_SSLROOTCERT_PEM"] = awsecs.Secret_FromSsmParameter(tls.RootCertParameter)
	case tls.RootCertPEM != "":
		env["DB_SSLROOTCERT_PEM"] = jsii.String(tls.RootCertPEM)
	case tls.RootCertFile != "":
		env["DB_SSLROOTCERT"] = jsii.String(tls.RootCertFile)
	}
}

// newTaskRole is a task role whose trust is limited to this account's ECS
// tasks in this region, as the ECS Developer Guide recommends for task roles
// ("Task IAM role": aws:SourceAccount and aws:SourceArn, with a wildcard for
// the cluster, since a specific cluster is not supported). The task
// execution role's page documents no such keys; it is left as aws-cdk-lib
// creates it.
func newTaskRole(stack awscdk.Stack, id string, cfg *config.Config, what string) awsiam.Role {
	return awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{
		AssumedBy: tsaconstructs.TrustedService(stack, "ecs-tasks.amazonaws.com",
			*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ecs"), Resource: jsii.String("*"), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})),
		Description: jsii.String(what),
	})
}

// readOnlyRoot mounts the container's root filesystem read-only: the API
// writes no file (apps/README.md, "Read-only root filesystem"), so it needs
// no writable mount either. ECS Exec's agent, however, must write into the
// container, and AWS documents ECS Exec as unsupported with
// readonlyRootFilesystem ("ECS Exec considerations", Amazon ECS Developer
// Guide): with backend.enableExec (off by default, a break-glass setting)
// the root stays writable.
func readOnlyRoot(td awsecs.TaskDefinition, container string, exec bool) {
	cfn := td.Node().DefaultChild().(awsecs.CfnTaskDefinition)
	index := containerIndex(td, container)
	cfn.AddPropertyOverride(jsii.String(fmt.Sprintf("ContainerDefinitions.%d.ReadonlyRootFilesystem", index)), !exec)
}

func containerIndex(td awsecs.TaskDefinition, name string) int {
	i := 0
	for _, c := range *td.Node().Children() {
		if cd, ok := c.(awsecs.ContainerDefinition); ok {
			if *cd.ContainerName() == name {
				return i
			}
			i++
		}
	}
	panic(fmt.Sprintf("task definition %s has no container %s", *td.Node().Path(), name))
}

// newMigration creates the migration task (/app -migrate, same image, the
// administrator's secret) and runs it at deploy time: its own task
// definition, execution role and security group, so the service's roles
// never read the administrator's secret.
func newMigration(stack awscdk.Stack, cfg *config.Config, vpc awsec2.IVpc, cluster awsecs.ICluster, image awsecs.ContainerImage,
	logGroup awslogs.ILogGroup, db tsaconstructs.Database, subnets *awsec2.SubnetSelection) *tsaconstructs.DatabaseMigration {
	b := cfg.Backend
	family := cfg.StackName("migrate")
	td := awsecs.NewFargateTaskDefinition(stack, jsii.String("MigrationTaskDef"), &awsecs.FargateTaskDefinitionProps{
		Family:         jsii.String(family),
		Cpu:            jsii.Number(256),
		MemoryLimitMiB: jsii.Number(512),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       cpuArchitecture(b.CpuArchitecture),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		// It calls no AWS API: a role with no permissions.
		TaskRole: newTaskRole(stack, "MigrationTaskRole", cfg, "Database migration task: no AWS permissions"),
	})
	master := func(key string) awsecs.Secret { return awsecs.Secret_FromSecretsManager(db.Secret, jsii.String(key)) }
	env := map[string]*string{
		"APP_ENV":       jsii.String(cfg.Name),
		"SCHEMA_MODE":   jsii.String(schemaModes[db.Engine]),
		"MIGRATOR_USER": jsii.String(tsaconstructs.MigratorUsername),
	}
	secrets := map[string]awsecs.Secret{
		"DB_HOST": master("host"), "DB_PORT": master("port"), "DB_NAME": master("dbname"),
		"DB_USER": master("username"), "DB_PASSWORD": master("password"),
	}
	if db.AppSecret != nil {
		secrets["APP_USER"] = awsecs.Secret_FromSecretsManager(db.AppSecret, jsii.String("username"))
		secrets["APP_PASSWORD"] = awsecs.Secret_FromSecretsManager(db.AppSecret, jsii.String("password"))
	} else {
		env["APP_USER"] = jsii.String(db.AppUser)
		env["APP_IAM_AUTH"] = jsii.String("true")
	}
	databaseTLS(env, secrets, db.TLS)
	td.AddContainer(jsii.String(MigrationContainerName), &awsecs.ContainerDefinitionOptions{
		Image:                  image,
		Command:                jsii.Strings("/app", "-migrate"),
		Essential:              jsii.Bool(true),
		ReadonlyRootFilesystem: jsii.Bool(true),
		Environment:            &env,
		Secrets:                &secrets,
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logGroup,
			StreamPrefix: jsii.String(MigrationContainerName),
			Mode:         awsecs.AwsLogDriverMode_NON_BLOCKING,
		}),
	})

	// HTTPS to AWS APIs (image, secrets, logs) and the database port only.
	sg := awsec2.NewSecurityGroup(stack, jsii.String("MigrationSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("Database migration task: to AWS APIs over HTTPS and to the database; no ingress"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("AWS APIs over HTTPS"), nil)
	// Opened from this side so the data stack never depends on compute.
	sg.Connections().AllowToDefaultPort(db.Connections, jsii.String("Database migration task to the database"))

	m := tsaconstructs.NewDatabaseMigration(stack, "Migration", &tsaconstructs.DatabaseMigrationProps{
		Cluster:        cluster,
		TaskDefinition: td,
		Family:         family,
		Container:      MigrationContainerName,
		Subnets:        vpc.SelectSubnets(subnets).SubnetIds,
		SecurityGroups: []awsec2.ISecurityGroup{sg},
		AssignPublicIp: b.AssignPublicIp,
		LogRetention:   Retention(b.LogRetentionDays),
		RemovalPolicy:  removal(cfg),
	})
	// The task starts only once its roles' policies (ECS reads the secrets
	// with the execution role as it starts the task) and its security
	// group's rules (the path to the database) exist.
	m.Resource.Node().AddDependency(td.ExecutionRole(), td.TaskRole(), sg)

	// What `aws ecs run-task --network-configuration` needs to run the
	// migration by hand (runbook: after a password rotation).
	assign := "DISABLED"
	if b.AssignPublicIp {
		assign = "ENABLED"
	}
	output(stack, "MigrationNetworkConfiguration", stack.ToJsonString(map[string]any{
		"awsvpcConfiguration": map[string]any{
			"subnets":        vpc.SelectSubnets(subnets).SubnetIds,
			"securityGroups": []*string{sg.SecurityGroupId()},
			"assignPublicIp": assign,
		},
	}, nil), "Network configuration of the migration task "+family+" for aws ecs run-task")
	return m
}
