package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
	"github.com/tsa-platform/infra/constructs/timescaledb"
)

// DataStackProps configures the data stack.
type DataStackProps struct {
	awscdk.StackProps
	Config     *config.Config
	Vpc        awsec2.IVpc
	AlarmTopic awssns.ITopic
}

// DataStack owns the database. Consumers use Database and never the engine.
type DataStack struct {
	awscdk.Stack
	Database tsaconstructs.Database
	// Alarms is nil unless the engine is rds-postgres.
	Alarms *tsaconstructs.DatabaseAlarms
}

// NewDataStack creates the configured data tier.
func NewDataStack(scope constructs.Construct, id string, props *DataStackProps) *DataStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	d := cfg.Database
	isolated := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
	key := newDataKey(stack, cfg)

	var db tsaconstructs.Database
	var alarms *tsaconstructs.DatabaseAlarms
	switch d.Engine {
	case config.EngineRDSPostgres:
		pg := tsaconstructs.NewPostgresDatabase(stack, "Postgres", &tsaconstructs.PostgresDatabaseProps{
			InstanceIdentifier:        cfg.StackName("postgres"),
			Vpc:                       props.Vpc,
			VpcSubnets:                isolated,
			InstanceClass:             d.InstanceClass,
			EngineVersion:             d.EngineVersion,
			AllocatedStorageGiB:       d.AllocatedStorageGiB,
			MaxAllocatedStorageGiB:    d.MaxAllocatedStorageGiB,
			DatabaseName:              d.DatabaseName,
			MultiAz:                   d.MultiAz,
			BackupRetentionDays:       d.BackupRetentionDays,
			Production:                cfg.Production(),
			DeletionProtection:        d.DeletionProtection,
			PerformanceInsights:       d.PerformanceInsights,
			MonitoringIntervalSeconds: d.MonitoringIntervalSeconds,
			LogRetention:              Retention(d.LogRetentionDays),
			EncryptionKey:             key,
		})
		db = pg.Database
		output(stack, "DatabaseInstanceId", pg.Instance.InstanceIdentifier(), "RDS instance identifier")
		alarms = newDatabaseAlarms(stack, cfg, props.AlarmTopic, pg.Instance) // monitoring.go
	case config.EngineTimescaleDB:
		ts := d.Timescale
		var image awsec2.IMachineImage
		if ts.AmiID != "" {
			image = awsec2.MachineImage_GenericLinux(&map[string]*string{cfg.Region: jsii.String(ts.AmiID)}, nil)
		}
		tsdb := tsaconstructs.NewTimescaleDatabase(stack, "Timescale", &tsaconstructs.TimescaleDatabaseProps{
			MachineImage:        image,
			Vpc:                 props.Vpc,
			VpcSubnets:          &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
			AvailabilityZone:    ts.AvailabilityZone,
			InstanceType:        ts.InstanceType,
			VolumeSizeGiB:       ts.VolumeSizeGiB,
			PostgresMajor:       ts.PostgresMajor,
			PostgresMinor:       ts.PostgresMinor,
			TimescaleVersion:    ts.TimescaleVersion,
			DatabaseName:        d.DatabaseName,
			CAParameterName:     fmt.Sprintf("/%s/%s/database/timescaledb-ca", config.Project, cfg.Name),
			EncryptionKey:       key,
			BackupRetentionDays: ts.BackupRetentionDays,
			Pitr: timescaledb.Pitr{
				RetentionDays:     ts.Pitr.RetentionDays,
				FullBackupWeekday: ts.Pitr.FullBackupWeekday,
				BackupHourUtc:     ts.Pitr.BackupHourUtc,
			},
			RestoreTarget:     ts.Restore.TargetTime,
			EbsKmsKeyArn:      ts.EbsKmsKeyArn,
			LogRetention:      Retention(d.LogRetentionDays),
			LogRetentionDays:  d.LogRetentionDays,
			Production:        cfg.Production(),
			ClientCidr:        cfg.Network.VpcCidr,
			DNSZoneName:       fmt.Sprintf("%s-%s.internal", config.Project, cfg.Name),
			CpuAlarmPercent:   cfg.Monitoring.DbCpuPercent,
			EvaluationPeriods: cfg.Monitoring.EvaluationPeriods,
		})
		db = tsdb.Database
		// The host's own alarms (recovery, status checks, CPU, disk,
		// PostgreSQL liveness, archive lag, backup age) page too.
		notify := awscloudwatchactions.NewSnsAction(props.AlarmTopic)
		for _, a := range tsdb.Alarms {
			a.AddAlarmAction(notify)
			a.AddOkAction(notify)
		}
		output(stack, "DatabaseInstanceId", tsdb.Instance.InstanceId(), "EC2 instance of the TimescaleDB host (aws ssm start-session --target ID)")
		output(stack, "DatabaseVolumeId", tsdb.DataVolume.VolumeId(), "EBS volume holding the TimescaleDB data directory")
		output(stack, "ArchiveBucketName", tsdb.Archive.BucketName(), "S3 bucket of the TimescaleDB archive (pgBackRest WAL and backups)")
	case config.EngineExternal:
		db = externalDatabase(stack, cfg, key)
	default:
		panic(fmt.Sprintf("database.engine %q was not validated", d.Engine))
	}
	db.Engine = d.Engine

	if db.Endpoint != nil {
		output(stack, "DatabaseEndpoint", db.Endpoint, "Host name the API connects to")
	}
	output(stack, "DatabasePort", jsii.String(fmt.Sprint(db.Port)), "TCP port of the database")
	output(stack, "DatabaseName", jsii.String(db.Name), "Database the API uses")
	output(stack, "DatabaseSecretArn", db.Secret.SecretArn(), "Secrets Manager secret of the database administrator (host, port, dbname, username, password); read by the deploy-time migration task only")
	if db.AppSecret != nil {
		output(stack, "DatabaseAppSecretArn", db.AppSecret.SecretArn(), "Secrets Manager secret of the application role "+db.AppUser+" (username, password)")
	}
	for i, sg := range *db.Connections.SecurityGroups() {
		output(stack, fmt.Sprintf("DatabaseSecurityGroupId%d", i+1), sg.SecurityGroupId(), "Security group of the database")
	}

	return &DataStack{Stack: stack, Database: db, Alarms: alarms}
}

// newDataKey is the data tier's customer-managed key (encryption.customerManagedKeys):
// RDS storage and Performance Insights, the database secrets, the API key.
// Nil: AWS-managed keys.
func newDataKey(stack awscdk.Stack, cfg *config.Config) awskms.IKey {
	if !cfg.Encryption.CustomerManagedKeys {
		return nil
	}
	props := &awskms.KeyProps{
		Alias:             jsii.String(fmt.Sprintf("alias/%s-%s-data", config.Project, cfg.Name)),
		Description:       jsii.String("Encrypts the " + cfg.Name + " database (storage, Performance Insights), its credentials and the API key"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal(cfg),
	}
	if !cfg.Production() {
		props.PendingWindow = awscdk.Duration_Days(jsii.Number(7))
	}
	return awskms.NewKey(stack, jsii.String("DataKey"), props)
}

// externalDatabase connects to a database this project does not create: the
// administrator's secret is referenced (only the migration task reads it),
// the application role's password is generated here, and the service is
// allowed to reach it.
func externalDatabase(stack awscdk.Stack, cfg *config.Config, key awskms.IKey) tsaconstructs.Database {
	e := cfg.Database.External
	secret := awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("ExternalSecret"), jsii.String(e.SecretArn))
	appSecret := awssecretsmanager.NewSecret(stack, jsii.String("ExternalAppSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Application role (username, password) of the external database of " + cfg.Name + ": set by the deploy-time migration task, read by the API"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(`{"username":"` + tsaconstructs.AppUsername + `"}`),
			GenerateStringKey:    jsii.String("password"),
			ExcludePunctuation:   jsii.Bool(true),
			PasswordLength:       jsii.Number(32),
		},
		EncryptionKey: key,
		RemovalPolicy: removal(cfg),
	})
	var tls tsaconstructs.DatabaseTLS
	switch e.CACertificate {
	case config.ExternalCARDS: // the image's default
	case config.ExternalCASystem:
		tls.RootCertFile = SystemCABundle
	default:
		tls.RootCertPEM = e.CACertificate
	}
	// A record of which database this environment uses; it also keeps the
	// stack deployable (CloudFormation refuses a template without resources).
	awsssm.NewStringParameter(stack, jsii.String("ExternalDatabaseSecret"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(fmt.Sprintf("/%s/%s/database/secret-arn", config.Project, cfg.Name)),
		StringValue:   jsii.String(e.SecretArn),
		Description:   jsii.String("Secret of the external database the " + cfg.Name + " API connects to"),
	})
	port := awsec2.Port_Tcp(jsii.Number(float64(e.Port)))
	var conns awsec2.Connections
	if e.SecurityGroupID != "" {
		sg := awsec2.SecurityGroup_FromSecurityGroupId(stack, jsii.String("ExternalSecurityGroup"), jsii.String(e.SecurityGroupID), &awsec2.SecurityGroupImportOptions{
			AllowAllOutbound: jsii.Bool(false),
			Mutable:          jsii.Bool(false),
		})
		conns = awsec2.NewConnections(&awsec2.ConnectionsProps{SecurityGroups: &[]awsec2.ISecurityGroup{sg}, DefaultPort: port})
	} else {
		conns = awsec2.NewConnections(&awsec2.ConnectionsProps{Peer: awsec2.Peer_Ipv4(jsii.String(e.Cidr)), DefaultPort: port})
	}
	return tsaconstructs.Database{
		Endpoint:    jsii.String(e.Host),
		Port:        float64(e.Port),
		Name:        cfg.Database.DatabaseName,
		Secret:      secret,
		AppUser:     tsaconstructs.AppUsername,
		AppSecret:   appSecret,
		TLS:         tls,
		Key:         key,
		Connections: conns,
	}
}

// SystemCABundle is the public CA bundle of the API image
// (gcr.io/distroless/static-debian12 ships Debian's ca-certificates).
const SystemCABundle = "/etc/ssl/certs/ca-certificates.crt"
