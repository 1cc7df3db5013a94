package constructs

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tsa-platform/infra/constructs/timescaledb"
)

// UbuntuArm64AmiParameter is Canonical's public SSM parameter for the current
// Ubuntu 24.04 LTS arm64 (gp3) AMI. It is resolved by CloudFormation at deploy
// time: synthesis makes no lookup and writes nothing to cdk.context.json. A
// newer AMI replaces the instance at the next deployment; the data volume
// stays (see NewTimescaleDatabase).
const UbuntuArm64AmiParameter = "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"

// TimescaleAdminUsername is the administrator the secret holds: it owns the
// database and may create roles, but is not a superuser (the bootstrap, as
// postgres, creates the extension). The deploy-time migration task logs in
// as this role and creates the migrator and the application role.
const TimescaleAdminUsername = "tsa_admin"

// TimescalePort is the port PostgreSQL listens on.
const TimescalePort = 5432

// passwordExcludes are left out of generated passwords, as for RDS secrets,
// so the password is safe in URLs, shells and connection strings.
const passwordExcludes = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"

// TimescaleDatabaseProps configures a self-managed TimescaleDB host.
type TimescaleDatabaseProps struct {
	Vpc awsec2.IVpc
	// VpcSubnets are private subnets with NAT egress (the host installs
	// packages at boot). The instance runs in the one selected in
	// AvailabilityZone. Default: PRIVATE_WITH_EGRESS.
	VpcSubnets *awsec2.SubnetSelection
	// AvailabilityZone holds the data volume and the instance. It must be a
	// literal zone name: a zone computed at deploy time (Fn::GetAZs) can
	// change, and a changed zone replaces the volume.
	AvailabilityZone string
	// InstanceType is a Graviton (arm64) type, e.g. "t4g.small", "m7g.large".
	InstanceType string
	// VolumeSizeGiB sizes the gp3 data volume; it can grow later (the boot
	// script grows the filesystem), never shrink.
	VolumeSizeGiB int
	// PostgresMajor and PostgresMinor pin PostgreSQL, e.g. 17 and 9.
	PostgresMajor int
	PostgresMinor int
	// TimescaleVersion is the pinned TimescaleDB release, e.g. "2.22.1".
	TimescaleVersion string
	// DatabaseName is the application database.
	DatabaseName string
	// CAParameterName is the SSM String parameter the host publishes its CA
	// certificate to (a fully qualified name, /...); the host creates it.
	CAParameterName string
	// EncryptionKey encrypts the two secrets; nil for aws/secretsmanager.
	EncryptionKey awskms.IKey
	// BackupRetentionDays is how long AWS Backup keeps daily snapshots of the
	// data volume; 0 creates no backup vault (point-in-time recovery comes
	// from the archive either way).
	BackupRetentionDays int
	// Pitr schedules the pgBackRest backups and sets the window any point of
	// which can be restored.
	Pitr timescaledb.Pitr
	// RestoreTarget (RFC 3339), when set, replaces the data volume with a new
	// one that the host restores from the archive as of that time.
	RestoreTarget string
	// EbsKmsKeyArn is the customer-managed KMS key that encrypts the host's
	// EBS volumes when it is the account's default EBS key; the host role
	// gets what attaching such a volume needs. Empty for AWS's aws/ebs key.
	EbsKmsKeyArn string
	// LogRetention applies to the log group of PostgreSQL, bootstrap and
	// pgBackRest logs, and to the archive bucket's access logs.
	LogRetention awslogs.RetentionDays
	// LogRetentionDays is LogRetention in days (for the access-log bucket).
	LogRetentionDays int
	// Production retains the data volume, the secret, the archive bucket and
	// its key, the backup vault and the log group when the stack is deleted.
	Production bool
	// ClientCidr is the only network pg_hba.conf admits (TLS, SCRAM).
	// Default: the VPC's CIDR block.
	ClientCidr string
	// DNSZoneName names the private hosted zone created for the VPC; clients
	// connect to "timescaledb.<zone>". Default: "tsa.internal".
	DNSZoneName string
	// MachineImage overrides the Ubuntu 24.04 arm64 image, e.g. to pin an AMI
	// so that new public AMIs do not replace a production instance.
	MachineImage awsec2.IMachineImage
	// CloudWatchAgentVersion is a pinned release; default
	// timescaledb.DefaultCloudWatchAgentVersion.
	CloudWatchAgentVersion string
	// CpuAlarmPercent and DiskAlarmPercent are alarm thresholds. Default: 85
	// and 80.
	CpuAlarmPercent  float64
	DiskAlarmPercent float64
	// EvaluationPeriods is how many consecutive breaching minutes raise the
	// PostgreSQL liveness alarm. Default: 3.
	EvaluationPeriods int
}

// TimescaleDatabase is PostgreSQL with TimescaleDB on one Graviton instance,
// reached only through its security group and Session Manager. Its data lives
// on a separate encrypted gp3 volume that the instance attaches at boot, so
// replacing the instance (new AMI, new boot script) never loses data.
// pgBackRest archives WAL every minute and takes scheduled backups to an
// encrypted, versioned S3 bucket, from which any point of the retention
// window can be restored onto a new volume; AWS Backup can also snapshot the
// volume daily.
type TimescaleDatabase struct {
	cdkconstructs.Construct
	// Database is the engine-independent value the compute stack consumes.
	Database Database
	Instance awsec2.Instance
	// DataVolume holds PGDATA and the TLS CA and keys; it outlives the instance.
	DataVolume    awsec2.Volume
	SecurityGroup awsec2.SecurityGroup
	// Secret is the administrator's; AppSecret the application role's.
	Secret     awssecretsmanager.Secret
	AppSecret  awssecretsmanager.Secret
	Role       awsiam.Role
	LogGroup   awslogs.LogGroup
	HostedZone awsroute53.PrivateHostedZone
	// Archive is the pgBackRest repository (WAL and backups), encrypted with
	// ArchiveKey; ArchiveAccessLogs records every request to it.
	Archive           awss3.Bucket
	ArchiveKey        awskms.Key
	ArchiveAccessLogs awss3.Bucket
	// BackupVault and BackupPlan are nil when BackupRetentionDays is 0.
	BackupVault awsbackup.BackupVault
	BackupPlan  awsbackup.BackupPlan
	// RecoveryAlarm recovers the instance on a failed system status check.
	RecoveryAlarm awscloudwatch.Alarm
	// Alarms are all the host's alarms (recovery, status checks, CPU, disk,
	// PostgreSQL liveness, archive lag, backup age); the data stack adds
	// notification actions to them.
	Alarms []awscloudwatch.Alarm
	// BootstrapScript is the rendered user data (with CDK tokens).
	BootstrapScript string
}

// NewTimescaleDatabase creates the host, its data volume, credentials,
// archive, backups, logs and alarms. The security group has no ingress rule:
// consumers open the port from their side (AllowToDefaultPort on
// Database.Connections).
func NewTimescaleDatabase(scope cdkconstructs.Construct, id string, props *TimescaleDatabaseProps) *TimescaleDatabase {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)
	p := withTimescaleDefaults(props)

	// The instance can only attach a volume in its own zone: one subnet of
	// the data volume's zone, chosen deterministically.
	zone := p.AvailabilityZone
	selection := *p.VpcSubnets
	selection.AvailabilityZones = jsii.Strings(zone)
	selected := p.Vpc.SelectSubnets(&selection).Subnets
	if selected == nil || len(*selected) == 0 {
		panic(fmt.Sprintf("TimescaleDatabase: no subnet selected in %s; engine timescaledb needs private subnets with NAT egress in that zone", zone))
	}
	subnet := (*selected)[0]

	retain := func(prod, other awscdk.RemovalPolicy) awscdk.RemovalPolicy {
		if p.Production {
			return prod
		}
		return other
	}

	sg := awsec2.NewSecurityGroup(this, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              p.Vpc,
		Description:      jsii.String("TimescaleDB host: no ingress of its own; HTTP(S) out for packages and AWS APIs"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS: package repositories, AWS APIs"), nil)
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(80)), jsii.String("HTTP: Ubuntu archive (signed packages)"), nil)

	// A restore is a new volume (the host fills it from the archive); its ID
	// names the target, so another target is another volume. The volume it
	// replaces leaves the template: retained in production, deleted
	// elsewhere once the restored host has taken over.
	volumeID, volumeName := "DataVolume", *this.Node().Path()+"/data"
	restoreTarget := ""
	if p.RestoreTarget != "" {
		target, err := timescaledb.RestoreTargetOf(p.RestoreTarget)
		if err != nil {
			panic(fmt.Sprintf("TimescaleDatabase: %v", err))
		}
		restoreTarget = target
		stamp := strings.NewReplacer("-", "", ":", "", " ", "T", "+00", "Z").Replace(target)
		volumeID, volumeName = "DataVolumeRestored"+stamp, volumeName+"-restored-"+stamp
	}
	volume := awsec2.NewVolume(this, jsii.String(volumeID), &awsec2.VolumeProps{
		AvailabilityZone: jsii.String(zone),
		Size:             awscdk.Size_Gibibytes(jsii.Number(float64(p.VolumeSizeGiB))),
		VolumeType:       awsec2.EbsDeviceVolumeType_GP3,
		Encrypted:        jsii.Bool(true),
		// Production keeps the data. Elsewhere the archive is the safety net
		// for as long as the stack exists.
		RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
	})
	awscdk.Tags_Of(volume).Add(jsii.String("Name"), jsii.String(volumeName), nil)

	hostZone := awsroute53.NewPrivateHostedZone(this, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String(p.DNSZoneName),
		Vpc:      p.Vpc,
		Comment:  jsii.String("Stable name of the TimescaleDB host across instance replacements"),
	})
	endpoint := "timescaledb." + p.DNSZoneName

	// Every key but the password is known at synthesis, so the template holds
	// no token: the password is generated once and never changes on updates.
	generated := func(id, description string, keys map[string]any) awssecretsmanager.Secret {
		template, err := json.Marshal(keys)
		if err != nil {
			panic(err)
		}
		return awssecretsmanager.NewSecret(this, jsii.String(id), &awssecretsmanager.SecretProps{
			Description: jsii.String(description),
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				SecretStringTemplate: jsii.String(string(template)),
				GenerateStringKey:    jsii.String("password"),
				ExcludeCharacters:    jsii.String(passwordExcludes),
				PasswordLength:       jsii.Number(32),
			},
			EncryptionKey: p.EncryptionKey,
			RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
		})
	}
	secret := generated("Secret", "TimescaleDB administrator (host, port, dbname, username, password): applied by the host at boot, read by the deploy-time migration task",
		map[string]any{"engine": "postgres", "host": endpoint, "port": TimescalePort, "dbname": p.DatabaseName, "username": TimescaleAdminUsername})
	// TimescaleDB has no IAM database authentication: the application role
	// logs in with a password the migration task sets from this secret.
	appSecret := generated("AppSecret", "TimescaleDB application role (username, password): set by the deploy-time migration task, read by the API",
		map[string]any{"username": AppUsername})

	logGroup := awslogs.NewLogGroup(this, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
	})
	agentConfig := awsssm.NewStringParameter(this, jsii.String("AgentConfig"), &awsssm.StringParameterProps{
		Description: jsii.String("CloudWatch agent configuration of the TimescaleDB host"),
		StringValue: jsii.String(timescaledb.AgentConfig(*logGroup.LogGroupName())),
		Tier:        awsssm.ParameterTier_STANDARD,
	})

	archive, archiveKey, accessLogs := newTimescaleArchive(this, p, retain)

	role := awsiam.NewRole(this, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("TimescaleDB host: Session Manager, its secret, its volume, its archive, its logs and metrics"),
	})
	secret.GrantRead(role, nil)
	agentConfig.GrantRead(role)
	// The host publishes its CA certificate (public) to this one parameter,
	// which it creates; it reads it to write only a changed CA.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("PublishCACertificate"),
		Actions: jsii.Strings("ssm:GetParameter", "ssm:PutParameter"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(strings.TrimPrefix(p.CAParameterName, "/")),
		})),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ShipLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PublishMetrics"),
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": []string{timescaledb.AgentNamespace, timescaledb.MetricsNamespace}}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SignalCreation"),
		Actions:   jsii.Strings("cloudformation:SignalResource"),
		Resources: jsii.Strings(*stack.StackId()),
	}))
	grantArchive(role, archive, archiveKey, stack)

	clientCidr := p.ClientCidr
	if clientCidr == "" {
		clientCidr = *p.Vpc.VpcCidrBlock()
	}
	boot := timescaledb.Bootstrap{
		PostgresMajor:          p.PostgresMajor,
		PostgresMinor:          p.PostgresMinor,
		TimescaleVersion:       p.TimescaleVersion,
		CloudWatchAgentVersion: p.CloudWatchAgentVersion,
		VolumeID:               *volume.VolumeId(),
		SecretArn:              *secret.SecretArn(),
		ArchiveBucket:          *archive.BucketName(),
		Region:                 *stack.Region(),
		URLSuffix:              *stack.UrlSuffix(),
		DatabaseName:           p.DatabaseName,
		Port:                   TimescalePort,
		ClientCidr:             clientCidr,
		DNSName:                endpoint,
		AgentConfigParameter:   *agentConfig.ParameterName(),
		CAParameter:            p.CAParameterName,
		StackName:              *stack.StackName(),
		Pitr:                   p.Pitr,
		RestoreTarget:          restoreTarget,
	}
	fingerprint, err := timescaledb.Fingerprint(boot)
	if err != nil {
		panic(err)
	}
	// The script is added once the instance's logical ID is known: it signals
	// the instance's CreationPolicy by that ID.
	userData := awsec2.UserData_ForLinux(&awsec2.LinuxUserDataOptions{Shebang: jsii.String("#!/bin/bash")})

	image := p.MachineImage
	if image == nil {
		image = awsec2.MachineImage_FromSsmParameter(jsii.String(UbuntuArm64AmiParameter), &awsec2.SsmParameterImageOptions{
			Os: awsec2.OperatingSystemType_LINUX,
		})
	}
	instance := awsec2.NewInstance(this, jsii.String("Instance"), &awsec2.InstanceProps{
		Vpc:                      p.Vpc,
		VpcSubnets:               &awsec2.SubnetSelection{Subnets: &[]awsec2.ISubnet{subnet}},
		InstanceType:             awsec2.NewInstanceType(jsii.String(p.InstanceType)),
		MachineImage:             image,
		UserData:                 userData,
		Role:                     role,
		SecurityGroup:            sg,
		AssociatePublicIpAddress: jsii.Bool(false),
		SsmSessionPermissions:    jsii.Bool(true),
		HttpEndpoint:             jsii.Bool(true),
		HttpTokens:               awsec2.HttpTokens_REQUIRED,
		HttpPutResponseHopLimit:  jsii.Number(1),
		DetailedMonitoring:       jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/sda1"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(16), &awsec2.EbsDeviceOptions{
				VolumeType:          awsec2.EbsDeviceVolumeType_GP3,
				Encrypted:           jsii.Bool(true),
				DeleteOnTermination: jsii.Bool(true),
			}),
		}},
		PropagateTagsToVolumeOnCreation: jsii.Bool(true),
	})
	// A changed boot script replaces the instance (EC2 would only restart it,
	// and user data does not run again): the fingerprint is part of the ID.
	// The new instance signals once PostgreSQL serves on the data volume
	// (which it takes from the instance it replaces); until then the old
	// instance's data is untouched, and a failure rolls the deployment back.
	cfnInstance := instance.Node().DefaultChild().(awsec2.CfnInstance)
	boot.LogicalID = *stack.GetLogicalId(cfnInstance) + fingerprint
	cfnInstance.OverrideLogicalId(jsii.String(boot.LogicalID))
	script, err := timescaledb.Render(boot)
	if err != nil {
		panic(err)
	}
	shebang, body, _ := strings.Cut(script, "\n")
	if shebang != "#!/bin/bash" {
		panic("TimescaleDatabase: the boot script must start with #!/bin/bash")
	}
	userData.AddCommands(jsii.String(strings.TrimSuffix(body, "\n")))
	// A restore copies the whole database from the bucket before the host
	// can answer; 4 hours covers a few hundred GiB.
	timeout := "PT30M"
	if restoreTarget != "" {
		timeout = "PT4H"
	}
	cfnInstance.CfnOptions().SetCreationPolicy(&awscdk.CfnCreationPolicy{
		ResourceSignal: &awscdk.CfnResourceSignal{Count: jsii.Number(1), Timeout: jsii.String(timeout)},
	})
	// The volume may be attached only by an instance carrying the grant tag,
	// i.e. this construct's instance and the one that replaces it.
	volume.GrantAttachVolumeByResourceTag(role, &[]cdkconstructs.Construct{instance}, jsii.String("timescaledb"))
	grantHandover(role, volume, instance, stack)
	if p.EbsKmsKeyArn != "" {
		grantEbsKey(role, p.EbsKmsKeyArn, stack)
	}

	awsroute53.NewARecord(this, jsii.String("Record"), &awsroute53.ARecordProps{
		Zone:       hostZone,
		RecordName: jsii.String(endpoint + "."),
		Target:     awsroute53.RecordTarget_FromIpAddresses(instance.InstancePrivateIp()),
		Ttl:        awscdk.Duration_Seconds(jsii.Number(30)),
		Comment:    jsii.String("TimescaleDB host; follows the instance across replacements"),
	})

	var vault awsbackup.BackupVault
	var plan awsbackup.BackupPlan
	var backupSelection awsbackup.BackupSelection
	if p.BackupRetentionDays > 0 {
		vault = awsbackup.NewBackupVault(this, jsii.String("BackupVault"), &awsbackup.BackupVaultProps{
			// Deleting a vault fails while it holds recovery points, so outside
			// production the data is only lost when someone deletes them.
			RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
		})
		plan = awsbackup.NewBackupPlan(this, jsii.String("BackupPlan"), &awsbackup.BackupPlanProps{
			BackupVault: vault,
			BackupPlanRules: &[]awsbackup.BackupPlanRule{
				awsbackup.NewBackupPlanRule(&awsbackup.BackupPlanRuleProps{
					RuleName:           jsii.String("DailyDataVolume"),
					ScheduleExpression: awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("3"), Minute: jsii.String("0")}),
					StartWindow:        awscdk.Duration_Hours(jsii.Number(1)),
					CompletionWindow:   awscdk.Duration_Hours(jsii.Number(6)),
					DeleteAfter:        awscdk.Duration_Days(jsii.Number(float64(p.BackupRetentionDays))),
				}),
			},
		})
		volumeArn := stack.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("ec2"),
			Resource:     jsii.String("volume"),
			ResourceName: volume.VolumeId(),
		})
		backupSelection = plan.AddSelection(jsii.String("DataVolume"), &awsbackup.BackupSelectionOptions{
			Resources: &[]awsbackup.BackupResource{awsbackup.BackupResource_FromArn(volumeArn)},
		})
	}

	alarms := newTimescaleAlarms(this, instance, endpoint, p)
	suppressTimescaleNagFindings(cfnInstance, role, secret, appSecret, backupSelection, accessLogs)
	caParameter := awsssm.StringParameter_FromStringParameterName(this, jsii.String("CACertificate"), jsii.String(p.CAParameterName))

	return &TimescaleDatabase{
		Construct: this,
		Database: Database{
			Engine:    "timescaledb",
			Endpoint:  jsii.String(endpoint),
			Port:      TimescalePort,
			Name:      p.DatabaseName,
			Secret:    secret,
			AppUser:   AppUsername,
			AppSecret: appSecret,
			TLS:       DatabaseTLS{RootCertParameter: caParameter},
			Key:       p.EncryptionKey,
			Connections: awsec2.NewConnections(&awsec2.ConnectionsProps{
				SecurityGroups: &[]awsec2.ISecurityGroup{sg},
				DefaultPort:    awsec2.Port_Tcp(jsii.Number(TimescalePort)),
			}),
		},
		Instance:          instance,
		DataVolume:        volume,
		SecurityGroup:     sg,
		Secret:            secret,
		AppSecret:         appSecret,
		Role:              role,
		LogGroup:          logGroup,
		HostedZone:        hostZone,
		Archive:           archive,
		ArchiveKey:        archiveKey,
		ArchiveAccessLogs: accessLogs,
		BackupVault:       vault,
		BackupPlan:        plan,
		RecoveryAlarm:     alarms[0],
		Alarms:            alarms,
		BootstrapScript:   script,
	}
}

// newTimescaleArchive creates the pgBackRest repository: an S3 bucket
// encrypted with its own customer-managed key (rotated yearly), versioned so
// that an overwritten or deleted backup can be recovered for one more
// retention window, TLS only, with server access logs in a second bucket.
// Production keeps all three; elsewhere the buckets are emptied (every
// version) and deleted with the stack, and the key is scheduled for deletion
// (AWS KMS does not charge for keys pending deletion).
func newTimescaleArchive(scope cdkconstructs.Construct, p TimescaleDatabaseProps, retain func(prod, other awscdk.RemovalPolicy) awscdk.RemovalPolicy) (awss3.Bucket, awskms.Key, awss3.Bucket) {
	keyProps := &awskms.KeyProps{
		Description:       jsii.String("Encrypts the TimescaleDB archive (pgBackRest WAL and backups)"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
	}
	if !p.Production {
		keyProps.PendingWindow = awscdk.Duration_Days(jsii.Number(7))
	}
	key := awskms.NewKey(scope, jsii.String("ArchiveKey"), keyProps)
	// SSE-S3, like the project's other log buckets: the logs hold request
	// metadata, not data, and log delivery needs no key grant this way.
	logs := awss3.NewBucket(scope, jsii.String("ArchiveAccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
		AutoDeleteObjects: jsii.Bool(!p.Production),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration: awscdk.Duration_Days(jsii.Number(float64(p.LogRetentionDays))),
		}},
	})
	days := awscdk.Duration_Days(jsii.Number(float64(p.Pitr.RetentionDays)))
	archive := awss3.NewBucket(scope, jsii.String("Archive"), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("archive/"),
		RemovalPolicy:          retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
		AutoDeleteObjects:      jsii.Bool(!p.Production),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("ExpireReplacedVersions"),
			// pgBackRest expires what falls out of its window; a deleted or
			// overwritten object stays recoverable for one more window.
			NoncurrentVersionExpiration:         days,
			ExpiredObjectDeleteMarker:           jsii.Bool(true),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	return archive, key, logs
}

// grantArchive lets the host use its repository as pgBackRest's user guide
// prescribes for S3 (list the repository prefix; get, put and delete objects
// below it) and the archive key through S3 only.
func grantArchive(role awsiam.Role, archive awss3.Bucket, key awskms.Key, stack awscdk.Stack) {
	repo := timescaledb.RepoPath
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListArchiveRoot"),
		Actions:    jsii.Strings("s3:ListBucket"),
		Resources:  jsii.Strings(*archive.BucketArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"s3:prefix": []string{"", repo}, "s3:delimiter": []string{"/"}}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListArchiveRepository"),
		Actions:    jsii.Strings("s3:ListBucket"),
		Resources:  jsii.Strings(*archive.BucketArn()),
		Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": []string{repo + "/*"}}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadWriteArchiveRepository"),
		Actions:   jsii.Strings("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
		Resources: jsii.Strings(*archive.ArnForObjects(jsii.String(repo + "/*"))),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("UseArchiveKeyThroughS3"),
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings(*key.KeyArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("s3.%s.%s", *stack.Region(), *stack.UrlSuffix())}},
	}))
}

// grantHandover lets a new host take the data volume from the instance it
// replaces: stop that instance (PostgreSQL shuts down cleanly), detach the
// volume, and on failure detach it again and start the old instance. Both
// instances, and only they, carry the volume's attach-grant tag.
func grantHandover(role awsiam.Role, volume awsec2.Volume, instance awsec2.Instance, stack awscdk.Stack) {
	// The tag Volume.grantAttachVolumeByResourceTag puts on the volume and
	// the instance: md5 of their unique IDs (aws-cdk-lib's
	// calculateResourceTagValue). A test compares it with the template's tag.
	sum := md5.Sum([]byte(*awscdk.Names_UniqueId(volume) + *awscdk.Names_UniqueId(instance)))
	tagged := &map[string]any{"StringEquals": map[string]any{"ec2:ResourceTag/" + HandoverTagKey: hex.EncodeToString(sum[:])}}
	instances := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("instance"), ResourceName: jsii.String("*")})
	volumeArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("volume"), ResourceName: volume.VolumeId()})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("StopStartTheDatabaseHosts"),
		Actions:    jsii.Strings("ec2:StopInstances", "ec2:StartInstances"),
		Resources:  jsii.Strings(*instances),
		Conditions: tagged,
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DetachTheDataVolume"),
		Actions:    jsii.Strings("ec2:DetachVolume"),
		Resources:  jsii.Strings(*volumeArn, *instances),
		Conditions: tagged,
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WatchVolumeAndInstances"),
		Actions:   jsii.Strings("ec2:DescribeVolumes", "ec2:DescribeInstances"),
		Resources: jsii.Strings("*"),
	}))
}

// HandoverTagKey is the tag that marks the data volume and the instances
// allowed to attach, detach, stop and start around it.
const HandoverTagKey = "VolumeGrantAttach-timescaledb"

// grantEbsKey gives the host what attaching a volume encrypted with a
// customer-managed key needs, as AWS documents for EBS encryption ("Requirements
// for Amazon EBS encryption", permissions for users): grants only for AWS
// resources, the other key operations only through EC2.
func grantEbsKey(role awsiam.Role, keyArn string, stack awscdk.Stack) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EbsKeyGrantsForEc2"),
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings(keyArn),
		Conditions: &map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": "true"}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EbsKeyThroughEc2"),
		Actions:    jsii.Strings("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"),
		Resources:  jsii.Strings(keyArn),
		Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("ec2.%s.%s", *stack.Region(), *stack.UrlSuffix())}},
	}))
}

// suppressTimescaleNagFindings records, each on the one resource that raises
// it, why the AWS Solutions findings of this construct are accepted.
func suppressTimescaleNagFindings(instance awsec2.CfnInstance, role awsiam.Role, secret, appSecret awssecretsmanager.Secret, selection awsbackup.BackupSelection, accessLogs awss3.Bucket) {
	suppress := func(resource cdkconstructs.IConstruct, rule, reason string, appliesTo ...string) {
		var applies *[]any
		if len(appliesTo) > 0 {
			list := make([]any, len(appliesTo))
			for i, a := range appliesTo {
				list[i] = a
				if strings.HasPrefix(a, "/") { // a regular expression
					list[i] = &cdknag.RegexAppliesTo{Regex: jsii.String(a)}
				}
			}
			applies = &list
		}
		cdknag.NagSuppressions_AddResourceSuppressions(resource, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String(rule), Reason: jsii.String(reason), AppliesTo: applies,
		}}, jsii.Bool(false))
	}
	cfnChild := func(c cdkconstructs.IConstruct, id string) cdkconstructs.IConstruct {
		child := c.Node().TryFindChild(jsii.String(id))
		if child == nil {
			panic(fmt.Sprintf("TimescaleDatabase: %s has no child %s to annotate", *c.Node().Path(), id))
		}
		return child.Node().DefaultChild()
	}

	suppress(instance, "AwsSolutions-EC29",
		"CloudFormation replaces the TimescaleDB host whenever its AMI or boot script changes, which API termination protection would block; the data lives on a separate volume (retained in production) and a recovery alarm covers host failure")
	suppress(role.Node().DefaultChild(), "AwsSolutions-IAM4",
		"AmazonSSMManagedInstanceCore is the AWS-documented baseline for a Session Manager node; it replaces SSH entirely (no key pair, no port 22)",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore")
	suppress(cfnChild(role, "DefaultPolicy"), "AwsSolutions-IAM5",
		"cloudwatch:PutMetricData, ec2:DescribeVolumes and ec2:DescribeInstances have no resource-level permissions (PutMetricData is limited to the host's two namespaces by condition); ec2:AttachVolume, DetachVolume, StopInstances and StartInstances on instance/* are limited by condition to instances carrying this volume's grant tag (the host and its replacement); objects are read, written and deleted only below the archive bucket's pgBackRest prefix",
		// instance/* in an environment-agnostic or a pinned stack
		"Resource::*", `/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):instance\/\*$/`,
		`/^Resource::<TimescaleArchive[0-9A-F]+\.Arn>\/`+timescaledb.RepoPath+`\/\*$/`)
	if selection != nil {
		suppress(cfnChild(selection, "Role"), "AwsSolutions-IAM4",
			"AWSBackupServiceRolePolicyForBackup is the AWS-documented policy of the role AWS Backup assumes to snapshot the selected data volume",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")
	}
	suppress(accessLogs.Node().DefaultChild(), "AwsSolutions-S1",
		"This bucket receives the archive bucket's server access logs; logging access to the log bucket itself would need another bucket for no added record")
	suppress(secret.Node().DefaultChild(), "AwsSolutions-SMG4",
		"No rotation Lambda for a self-managed PostgreSQL: the host applies the administrator's password at every boot and only the deploy-time migration task logs in with it, so the runbook rotates the secret and reboots the host")
	suppress(appSecret.Node().DefaultChild(), "AwsSolutions-SMG4",
		"No rotation Lambda for a self-managed PostgreSQL: the deploy-time migration task applies the application role's password, so the runbook rotates the secret, re-runs the migration task and rolls the service")
}

func withTimescaleDefaults(props *TimescaleDatabaseProps) TimescaleDatabaseProps {
	if props == nil || props.Vpc == nil {
		panic("TimescaleDatabase: Vpc is required")
	}
	p := *props
	if p.VpcSubnets == nil {
		p.VpcSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	}
	if p.DNSZoneName == "" {
		p.DNSZoneName = "tsa.internal"
	}
	if !strings.HasPrefix(p.CAParameterName, "/") {
		panic("TimescaleDatabase: CAParameterName must be a fully qualified SSM parameter name (/...)")
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_TWO_WEEKS
	}
	if p.CpuAlarmPercent == 0 {
		p.CpuAlarmPercent = 85
	}
	if p.DiskAlarmPercent == 0 {
		p.DiskAlarmPercent = 80
	}
	if p.EvaluationPeriods == 0 {
		p.EvaluationPeriods = 3
	}
	if p.LogRetentionDays == 0 {
		p.LogRetentionDays = 14
	}
	if p.VolumeSizeGiB < 1 || p.BackupRetentionDays < 0 || p.InstanceType == "" || p.Pitr.RetentionDays < 1 {
		panic(fmt.Sprintf("TimescaleDatabase: InstanceType, VolumeSizeGiB and Pitr.RetentionDays are required and BackupRetentionDays is 0 or more, got %q, %d, %d, %d",
			p.InstanceType, p.VolumeSizeGiB, p.Pitr.RetentionDays, p.BackupRetentionDays))
	}
	if p.AvailabilityZone == "" || *awscdk.Token_IsUnresolved(jsii.String(p.AvailabilityZone)) {
		panic("TimescaleDatabase: AvailabilityZone must be a literal zone name (a zone resolved at deploy time can change and would replace the data volume)")
	}
	return p
}

// newTimescaleAlarms creates the host's alarms; the first recovers the
// instance onto healthy hardware when AWS's system status check fails.
func newTimescaleAlarms(scope cdkconstructs.Construct, instance awsec2.Instance, endpoint string, p TimescaleDatabaseProps) []awscloudwatch.Alarm {
	metric := func(namespace, name, statistic string, period awscdk.Duration, dims map[string]*string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(namespace),
			MetricName:    jsii.String(name),
			DimensionsMap: &dims,
			Statistic:     jsii.String(statistic),
			Period:        period,
		})
	}
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	byInstance := map[string]*string{"InstanceId": instance.InstanceId()}
	alarm := func(id, description string, m awscloudwatch.Metric, threshold, periods float64) awscloudwatch.Alarm {
		return awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		})
	}

	recovery := alarm("SystemStatusAlarm", "TimescaleDB host failed the system status check (AWS hardware); EC2 recovers it onto new hardware with the same ID, IP and volumes",
		metric("AWS/EC2", "StatusCheckFailed_System", "Maximum", minute, byInstance), 1, 2)
	recovery.AddAlarmAction(awscloudwatchactions.NewEc2Action(awscloudwatchactions.Ec2InstanceAction_RECOVER))

	instanceCheck := alarm("InstanceStatusAlarm", "TimescaleDB host failed the instance status check (operating system); EC2 reboots it",
		metric("AWS/EC2", "StatusCheckFailed_Instance", "Maximum", minute, byInstance), 1, 3)
	instanceCheck.AddAlarmAction(awscloudwatchactions.NewEc2Action(awscloudwatchactions.Ec2InstanceAction_REBOOT))

	ebsCheck := alarm("AttachedEbsStatusAlarm", "An EBS volume of the TimescaleDB host (root or data) is impaired",
		metric("AWS/EC2", "StatusCheckFailed_AttachedEBS", "Maximum", minute, byInstance), 1, 3)

	cpu := alarm("CpuAlarm", fmt.Sprintf("TimescaleDB host CPU at or above %g%% for 15 minutes", p.CpuAlarmPercent),
		metric("AWS/EC2", "CPUUtilization", "Average", fiveMinutes, byInstance), p.CpuAlarmPercent, 3)

	disk := alarm("DiskAlarm", fmt.Sprintf("TimescaleDB data volume (%s) at or above %g%% full; grow the volume (the host grows the filesystem at boot)", timescaledb.MountPoint, p.DiskAlarmPercent),
		metric(timescaledb.AgentNamespace, timescaledb.DiskUsedMetric, "Maximum", fiveMinutes, map[string]*string{
			"InstanceId": instance.InstanceId(),
			"path":       jsii.String(timescaledb.MountPoint),
		}), p.DiskAlarmPercent, 2)

	// What the host publishes every minute (tsa-pitr.sh metrics), by the
	// DNS name, which outlives instance replacements. Silence means the host
	// or its publisher is down: breaching. The alarms are created after the
	// instance has signalled, by when the host publishes.
	byEndpoint := map[string]*string{timescaledb.EndpointDimension: jsii.String(endpoint)}
	hostMetric := func(id, description, name, statistic string, period awscdk.Duration, op awscloudwatch.ComparisonOperator, threshold, periods float64) awscloudwatch.Alarm {
		a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric(timescaledb.MetricsNamespace, name, statistic, period, byEndpoint),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(periods),
			ComparisonOperator: op,
			TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
		})
		a.Node().AddDependency(instance)
		return a
	}
	postgres := hostMetric("PostgresDownAlarm",
		fmt.Sprintf("PostgreSQL on the TimescaleDB host has not accepted writes (or not reported) for %d minutes. Runbook: %s#timescaledb-postgres-down", p.EvaluationPeriods, RunbookPath),
		timescaledb.PostgresUpMetric, "Minimum", minute, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, float64(p.EvaluationPeriods))
	// Segments close every minute (archive_timeout); 4 more minutes waiting
	// for the bucket puts the recovery point past 5 minutes.
	archiveLag := hostMetric("ArchiveLagAlarm",
		"WAL has waited 4 minutes or more to reach the archive bucket (or the host stopped reporting): the recovery point is past 5 minutes. Runbook: "+RunbookPath+"#timescaledb-archive-lag",
		timescaledb.ArchiveLagMetric, "Maximum", minute, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 240, 1)
	backupAge := hostMetric("BackupAgeAlarm",
		"The newest pgBackRest backup is 30 hours old or older (a daily backup failed), or the host stopped reporting. Runbook: "+RunbookPath+"#timescaledb-backup-age",
		timescaledb.BackupAgeMetric, "Maximum", fiveMinutes, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 30, 1)

	return []awscloudwatch.Alarm{recovery, instanceCheck, ebsCheck, cpu, disk, postgres, archiveLag, backupAge}
}
