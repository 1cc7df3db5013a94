package constructs

import (
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
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
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

// TimescaleUsername is the application role the secret holds: it owns the
// database but is not a superuser (the bootstrap creates the extension).
const TimescaleUsername = "tsa_app"

// TimescalePort is the port PostgreSQL listens on.
const TimescalePort = 5432

// passwordExcludes are left out of generated passwords, as for RDS secrets,
// so the password is safe in URLs, shells and connection strings.
const passwordExcludes = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"

// TimescaleDatabaseProps configures a self-managed TimescaleDB host.
type TimescaleDatabaseProps struct {
	Vpc awsec2.IVpc
	// VpcSubnets are private subnets with NAT egress (the host installs
	// packages at boot). The first selected subnet holds the instance and its
	// data volume: both live in that subnet's availability zone. Default:
	// PRIVATE_WITH_EGRESS.
	VpcSubnets *awsec2.SubnetSelection
	// InstanceType is a Graviton (arm64) type, e.g. "t4g.small", "m7g.large".
	InstanceType string
	// VolumeSizeGiB sizes the gp3 data volume; it can grow later (the boot
	// script grows the filesystem), never shrink.
	VolumeSizeGiB int
	// PostgresMajor is the PostgreSQL major version, e.g. 17.
	PostgresMajor int
	// TimescaleVersion is the pinned TimescaleDB release, e.g. "2.22.1".
	TimescaleVersion string
	// DatabaseName is the application database.
	DatabaseName string
	// BackupRetentionDays is how long AWS Backup keeps the daily snapshots.
	BackupRetentionDays int
	// LogRetention applies to the log group of PostgreSQL and bootstrap logs.
	LogRetention awslogs.RetentionDays
	// Production retains the data volume, the secret, the backup vault and
	// the log group when the stack is deleted.
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
	// CloudWatchAgentVersion is "latest" (default) or a release number.
	CloudWatchAgentVersion string
	// CpuAlarmPercent and DiskAlarmPercent are alarm thresholds. Default: 85
	// and 80.
	CpuAlarmPercent  float64
	DiskAlarmPercent float64
}

// TimescaleDatabase is PostgreSQL with TimescaleDB on one Graviton instance,
// reached only through its security group and Session Manager. Its data lives
// on a separate encrypted gp3 volume that the instance attaches at boot, so
// replacing the instance (new AMI, new boot script) never loses data; AWS
// Backup snapshots the volume daily.
type TimescaleDatabase struct {
	cdkconstructs.Construct
	// Database is the engine-independent value the compute stack consumes.
	Database Database
	Instance awsec2.Instance
	// DataVolume holds PGDATA and the TLS key; it outlives the instance.
	DataVolume    awsec2.Volume
	SecurityGroup awsec2.SecurityGroup
	Secret        awssecretsmanager.Secret
	Role          awsiam.Role
	LogGroup      awslogs.LogGroup
	HostedZone    awsroute53.PrivateHostedZone
	BackupVault   awsbackup.BackupVault
	BackupPlan    awsbackup.BackupPlan
	// RecoveryAlarm recovers the instance on a failed system status check.
	RecoveryAlarm awscloudwatch.Alarm
	// Alarms are all the host's alarms (recovery, status checks, CPU, disk);
	// the monitoring work adds notification actions to them.
	Alarms []awscloudwatch.Alarm
	// BootstrapScript is the rendered user data (with CDK tokens).
	BootstrapScript string
}

// NewTimescaleDatabase creates the host, its data volume, credentials,
// backups, logs and alarms. The security group has no ingress rule: consumers
// open the port from their side (AllowToDefaultPort on Database.Connections).
func NewTimescaleDatabase(scope cdkconstructs.Construct, id string, props *TimescaleDatabaseProps) *TimescaleDatabase {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)
	p := withTimescaleDefaults(props)

	// One subnet, chosen deterministically: the instance can only attach a
	// volume in its own zone.
	selected := p.Vpc.SelectSubnets(p.VpcSubnets).Subnets
	if selected == nil || len(*selected) == 0 {
		panic("TimescaleDatabase: no subnets selected; engine timescaledb needs private subnets with NAT egress")
	}
	subnet := (*selected)[0]
	zone := subnet.AvailabilityZone()

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

	volume := awsec2.NewVolume(this, jsii.String("DataVolume"), &awsec2.VolumeProps{
		AvailabilityZone: zone,
		Size:             awscdk.Size_Gibibytes(jsii.Number(float64(p.VolumeSizeGiB))),
		VolumeType:       awsec2.EbsDeviceVolumeType_GP3,
		Encrypted:        jsii.Bool(true),
		// Production keeps the data. Elsewhere the daily recovery points in
		// the backup vault remain the safety net: the vault cannot be deleted
		// while it holds any.
		RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
	})
	awscdk.Tags_Of(volume).Add(jsii.String("Name"), jsii.String(*this.Node().Path()+"/data"), nil)

	hostZone := awsroute53.NewPrivateHostedZone(this, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String(p.DNSZoneName),
		Vpc:      p.Vpc,
		Comment:  jsii.String("Stable name of the TimescaleDB host across instance replacements"),
	})
	endpoint := "timescaledb." + p.DNSZoneName

	// Every key but the password is known at synthesis, so the template holds
	// no token: the password is generated once and never changes on updates.
	template, err := json.Marshal(map[string]any{
		"engine":   "postgres",
		"host":     endpoint,
		"port":     TimescalePort,
		"dbname":   p.DatabaseName,
		"username": TimescaleUsername,
	})
	if err != nil {
		panic(err)
	}
	secret := awssecretsmanager.NewSecret(this, jsii.String("Secret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("TimescaleDB credentials (host, port, dbname, username, password), applied by the host at boot"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(string(template)),
			GenerateStringKey:    jsii.String("password"),
			ExcludeCharacters:    jsii.String(passwordExcludes),
			PasswordLength:       jsii.Number(32),
		},
		RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
	})

	logGroup := awslogs.NewLogGroup(this, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
	})
	agentConfig := awsssm.NewStringParameter(this, jsii.String("AgentConfig"), &awsssm.StringParameterProps{
		Description: jsii.String("CloudWatch agent configuration of the TimescaleDB host"),
		StringValue: jsii.String(timescaledb.AgentConfig(*logGroup.LogGroupName())),
		Tier:        awsssm.ParameterTier_STANDARD,
	})

	role := awsiam.NewRole(this, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("TimescaleDB host: Session Manager, its secret, its volume, its logs and metrics"),
	})
	secret.GrantRead(role, nil)
	agentConfig.GrantRead(role)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ShipLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PublishAgentMetrics"),
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": timescaledb.AgentNamespace}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SignalCreation"),
		Actions:   jsii.Strings("cloudformation:SignalResource"),
		Resources: jsii.Strings(*stack.StackId()),
	}))

	clientCidr := p.ClientCidr
	if clientCidr == "" {
		clientCidr = *p.Vpc.VpcCidrBlock()
	}
	boot := timescaledb.Bootstrap{
		PostgresMajor:          p.PostgresMajor,
		TimescaleVersion:       p.TimescaleVersion,
		VolumeID:               *volume.VolumeId(),
		SecretArn:              *secret.SecretArn(),
		DatabaseName:           p.DatabaseName,
		Port:                   TimescalePort,
		ClientCidr:             clientCidr,
		DNSName:                endpoint,
		AgentConfigParameter:   *agentConfig.ParameterName(),
		CloudWatchAgentVersion: p.CloudWatchAgentVersion,
		StackName:              *stack.StackName(),
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
	// The new instance signals once its packages are installed and it may
	// attach the volume and read the secret; until then the instance it
	// replaces keeps serving, and a failure rolls the deployment back.
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
	cfnInstance.CfnOptions().SetCreationPolicy(&awscdk.CfnCreationPolicy{
		ResourceSignal: &awscdk.CfnResourceSignal{Count: jsii.Number(1), Timeout: jsii.String("PT30M")},
	})
	// The volume may be attached only by an instance carrying the grant tag,
	// i.e. this construct's instance and the one that replaces it.
	volume.GrantAttachVolumeByResourceTag(role, &[]cdkconstructs.Construct{instance}, jsii.String("timescaledb"))

	awsroute53.NewARecord(this, jsii.String("Record"), &awsroute53.ARecordProps{
		Zone:       hostZone,
		RecordName: jsii.String(endpoint + "."),
		Target:     awsroute53.RecordTarget_FromIpAddresses(instance.InstancePrivateIp()),
		Ttl:        awscdk.Duration_Seconds(jsii.Number(30)),
		Comment:    jsii.String("TimescaleDB host; follows the instance across replacements"),
	})

	vault := awsbackup.NewBackupVault(this, jsii.String("BackupVault"), &awsbackup.BackupVaultProps{
		// Deleting a vault fails while it holds recovery points, so outside
		// production the data is only lost when someone deletes them.
		RemovalPolicy: retain(awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY),
	})
	plan := awsbackup.NewBackupPlan(this, jsii.String("BackupPlan"), &awsbackup.BackupPlanProps{
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
	selection := plan.AddSelection(jsii.String("DataVolume"), &awsbackup.BackupSelectionOptions{
		Resources: &[]awsbackup.BackupResource{awsbackup.BackupResource_FromArn(volumeArn)},
	})

	alarms := newTimescaleAlarms(this, instance, p)
	suppressTimescaleNagFindings(cfnInstance, role, secret, selection)

	return &TimescaleDatabase{
		Construct: this,
		Database: Database{
			Engine:   "timescaledb",
			Endpoint: jsii.String(endpoint),
			Port:     TimescalePort,
			Name:     p.DatabaseName,
			Secret:   secret,
			Connections: awsec2.NewConnections(&awsec2.ConnectionsProps{
				SecurityGroups: &[]awsec2.ISecurityGroup{sg},
				DefaultPort:    awsec2.Port_Tcp(jsii.Number(TimescalePort)),
			}),
		},
		Instance:        instance,
		DataVolume:      volume,
		SecurityGroup:   sg,
		Secret:          secret,
		Role:            role,
		LogGroup:        logGroup,
		HostedZone:      hostZone,
		BackupVault:     vault,
		BackupPlan:      plan,
		RecoveryAlarm:   alarms[0],
		Alarms:          alarms,
		BootstrapScript: script,
	}
}

// suppressTimescaleNagFindings records, each on the one resource that raises
// it, why the AWS Solutions findings of this construct are accepted.
func suppressTimescaleNagFindings(instance awsec2.CfnInstance, role awsiam.Role, secret awssecretsmanager.Secret, selection awsbackup.BackupSelection) {
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
		"cloudwatch:PutMetricData has no resource-level permissions and is limited to the CWAgent namespace by condition; ec2:AttachVolume on instance/* is limited by condition to instances carrying this volume's grant tag (the host and its replacement)",
		// instance/* in an environment-agnostic or a pinned stack
		"Resource::*", `/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):instance\/\*$/`)
	suppress(cfnChild(selection, "Role"), "AwsSolutions-IAM4",
		"AWSBackupServiceRolePolicyForBackup is the AWS-documented policy of the role AWS Backup assumes to snapshot the selected data volume",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")
	suppress(secret.Node().DefaultChild(), "AwsSolutions-SMG4",
		"No rotation Lambda for a self-managed PostgreSQL: the host applies the secret's password at every boot, so the runbook rotates the secret, reboots the host and restarts the service in one step")
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
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_TWO_WEEKS
	}
	if p.CpuAlarmPercent == 0 {
		p.CpuAlarmPercent = 85
	}
	if p.DiskAlarmPercent == 0 {
		p.DiskAlarmPercent = 80
	}
	if p.VolumeSizeGiB < 1 || p.BackupRetentionDays < 1 || p.InstanceType == "" {
		panic(fmt.Sprintf("TimescaleDatabase: InstanceType, VolumeSizeGiB and BackupRetentionDays are required, got %q, %d, %d", p.InstanceType, p.VolumeSizeGiB, p.BackupRetentionDays))
	}
	return p
}

// newTimescaleAlarms creates the host's alarms; the first recovers the
// instance onto healthy hardware when AWS's system status check fails.
func newTimescaleAlarms(scope cdkconstructs.Construct, instance awsec2.Instance, p TimescaleDatabaseProps) []awscloudwatch.Alarm {
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

	return []awscloudwatch.Alarm{recovery, instanceCheck, ebsCheck, cpu, disk}
}
