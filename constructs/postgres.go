package constructs

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// PostgresDatabaseProps configures an Amazon RDS for PostgreSQL instance.
type PostgresDatabaseProps struct {
	// InstanceIdentifier names the instance. A fixed name lets the log groups
	// exist before the instance writes to them, and makes CloudFormation refuse
	// an accidental replacement instead of creating an empty twin.
	InstanceIdentifier string
	Vpc                awsec2.IVpc
	VpcSubnets         *awsec2.SubnetSelection
	// InstanceClass is the RDS class, e.g. "db.t4g.micro".
	InstanceClass string
	// EngineVersion is a pinned minor version, e.g. "17.9".
	EngineVersion          string
	AllocatedStorageGiB    int
	MaxAllocatedStorageGiB int
	DatabaseName           string
	MultiAz                bool
	BackupRetentionDays    int
	// Production keeps the instance (snapshot on delete), its secret and its
	// automated backups when the stack is deleted.
	Production                bool
	DeletionProtection        bool
	PerformanceInsights       bool
	MonitoringIntervalSeconds int
	LogRetention              awslogs.RetentionDays
	// EncryptionKey encrypts the storage, Performance Insights and the
	// secret; nil for the AWS-managed keys (aws/rds, aws/secretsmanager).
	// Changing it replaces the instance (KmsKeyId is create-only).
	EncryptionKey awskms.IKey
}

// PostgresDatabase is RDS for PostgreSQL set up for time-series tables with
// native partitioning, pg_partman and pg_cron (RDS has no TimescaleDB). The
// application role logs in with IAM database authentication: it has no
// password anywhere ("IAM database authentication for MariaDB, MySQL, and
// PostgreSQL", Amazon RDS User Guide).
type PostgresDatabase struct {
	cdkconstructs.Construct
	Instance       awsrds.DatabaseInstance
	ParameterGroup awsrds.ParameterGroup
	LogGroups      []awslogs.LogGroup
	Database       Database
}

// MasterUsername is the generated secret's user.
const MasterUsername = "tsa_admin"

// NewPostgresDatabase creates the instance, its parameter group and its
// generated credentials.
func NewPostgresDatabase(scope cdkconstructs.Construct, id string, props *PostgresDatabaseProps) *PostgresDatabase {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	major := strings.SplitN(props.EngineVersion, ".", 2)[0]
	engine := awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{
		Version: awsrds.PostgresEngineVersion_Of(jsii.String(props.EngineVersion), jsii.String(major), nil),
	})

	params := awsrds.NewParameterGroup(this, jsii.String("Parameters"), &awsrds.ParameterGroupProps{
		Engine:      engine,
		Description: jsii.String("TLS only; pg_stat_statements and pg_cron preloaded for pg_partman maintenance"),
		Parameters: &map[string]*string{
			"rds.force_ssl":              jsii.String("1"),
			"shared_preload_libraries":   jsii.String("pg_stat_statements,pg_cron"),
			"cron.database_name":         jsii.String(props.DatabaseName),
			"log_min_duration_statement": jsii.String("1000"),
			"log_connections":            jsii.String("1"),
			"log_disconnections":         jsii.String("1"),
			"rds.log_retention_period":   jsii.String("1440"),
		},
	})

	removalPolicy := awscdk.RemovalPolicy_DESTROY
	if props.Production {
		removalPolicy = awscdk.RemovalPolicy_SNAPSHOT
	}
	var monitoring awscdk.Duration
	if props.MonitoringIntervalSeconds > 0 {
		monitoring = awscdk.Duration_Seconds(jsii.Number(float64(props.MonitoringIntervalSeconds)))
	}
	var piKey awskms.IKey
	if props.PerformanceInsights {
		piKey = props.EncryptionKey
	}
	var maxStorage *float64
	if props.MaxAllocatedStorageGiB > 0 {
		maxStorage = jsii.Number(float64(props.MaxAllocatedStorageGiB))
	}

	secret := awsrds.NewDatabaseSecret(this, jsii.String("Secret"), &awsrds.DatabaseSecretProps{
		Username:      jsii.String(MasterUsername),
		Dbname:        jsii.String(props.DatabaseName),
		EncryptionKey: props.EncryptionKey,
	})
	// The credentials outlive a production stack, like the snapshot they unlock.
	secretRemoval := awscdk.RemovalPolicy_DESTROY
	if props.Production {
		secretRemoval = awscdk.RemovalPolicy_RETAIN
	}
	secret.ApplyRemovalPolicy(secretRemoval)

	// Exported logs go to log groups this construct owns (retention, removal
	// policy), rather than to ones RDS creates and a Lambda later adjusts.
	exports := []string{"postgresql", "upgrade"}
	logRemoval := awscdk.RemovalPolicy_DESTROY
	if props.Production {
		logRemoval = awscdk.RemovalPolicy_RETAIN
	}
	var logGroups []awslogs.LogGroup
	for _, name := range exports {
		logGroups = append(logGroups, awslogs.NewLogGroup(this, jsii.String("Logs-"+name), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String(fmt.Sprintf("/aws/rds/instance/%s/%s", props.InstanceIdentifier, name)),
			Retention:     props.LogRetention,
			RemovalPolicy: logRemoval,
		}))
	}

	instance := awsrds.NewDatabaseInstance(this, jsii.String("Instance"), &awsrds.DatabaseInstanceProps{
		InstanceIdentifier:              jsii.String(props.InstanceIdentifier),
		Engine:                          engine,
		InstanceType:                    awsec2.NewInstanceType(jsii.String(strings.TrimPrefix(props.InstanceClass, "db."))),
		Vpc:                             props.Vpc,
		VpcSubnets:                      props.VpcSubnets,
		Credentials:                     awsrds.Credentials_FromSecret(secret, nil),
		DatabaseName:                    jsii.String(props.DatabaseName),
		ParameterGroup:                  params,
		StorageType:                     awsrds.StorageType_GP3,
		AllocatedStorage:                jsii.Number(float64(props.AllocatedStorageGiB)),
		MaxAllocatedStorage:             maxStorage,
		StorageEncrypted:                jsii.Bool(true),
		StorageEncryptionKey:            props.EncryptionKey,
		MultiAz:                         jsii.Bool(props.MultiAz),
		PubliclyAccessible:              jsii.Bool(false),
		BackupRetention:                 awscdk.Duration_Days(jsii.Number(float64(props.BackupRetentionDays))),
		DeleteAutomatedBackups:          jsii.Bool(!props.Production),
		DeletionProtection:              jsii.Bool(props.DeletionProtection),
		RemovalPolicy:                   removalPolicy,
		CopyTagsToSnapshot:              jsii.Bool(true),
		EnablePerformanceInsights:       jsii.Bool(props.PerformanceInsights),
		PerformanceInsightEncryptionKey: piKey,
		// The application role's credential (rds_iam, granted by the
		// migration task); the master keeps its password.
		IamAuthentication:     jsii.Bool(true),
		MonitoringInterval:    monitoring,
		CloudwatchLogsExports: jsii.Strings(exports...),
		// Minor upgrades happen by changing the pinned version in config, so
		// the template never disagrees with what runs.
		AutoMinorVersionUpgrade: jsii.Bool(false),
		CaCertificate:           awsrds.CaCertificate_RDS_CA_RSA2048_G1(),
	})

	for _, lg := range logGroups {
		instance.Node().AddDependency(lg)
	}
	if role, ok := instance.Node().TryFindChild(jsii.String("MonitoringRole")).(awsiam.Role); ok {
		// "Protecting against the confused deputy problem" (Setting up and
		// enabling Enhanced Monitoring, Amazon RDS User Guide): RDS may
		// assume the role only for this account's instance.
		stack := awscdk.Stack_Of(this)
		RestrictServiceTrust(role, fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", *stack.Partition(), *stack.Region(), *stack.Account(), props.InstanceIdentifier))
	}

	return &PostgresDatabase{
		Construct:      this,
		Instance:       instance,
		ParameterGroup: params,
		LogGroups:      logGroups,
		Database: Database{
			Endpoint:      instance.DbInstanceEndpointAddress(),
			Port:          5432,
			Name:          props.DatabaseName,
			Secret:        instance.Secret(),
			AppUser:       AppUsername,
			IAMResourceID: instance.InstanceResourceId(),
			Key:           props.EncryptionKey,
			Connections:   instance.Connections(),
		},
	}
}
