package test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
	"github.com/tsa-platform/infra/constructs/timescaledb"
)

// Where the timescaledb variants are pinned: the tier needs a literal zone.
const (
	timescaleAccount = "123456789012"
	timescaleRegion  = "eu-west-1"
	timescaleZone    = "eu-west-1b"
	pinnedAmi        = "ami-0123456789abcdef0"
)

// timescaleSynth is env with database.engine timescaledb, pinned to an
// account, eu-west-1 and a zone for the data volume (and, in prod, to an AMI,
// which validation requires); cdk.json is otherwise unchanged.
func timescaleSynth(t *testing.T, env string) *synth {
	return variant(t, "timescaledb", env, func(settings map[string]any) { timescaleSettings(settings, env) })
}

func timescaleSettings(settings map[string]any, env string) map[string]any {
	settings["account"] = timescaleAccount
	settings["region"] = timescaleRegion
	settings["availabilityZones"] = []any{"eu-west-1a", "eu-west-1b"}
	db, _ := settings["database"].(map[string]any)
	if db == nil {
		db = map[string]any{}
		settings["database"] = db
	}
	db["engine"] = config.EngineTimescaleDB
	// Settings only rds-postgres reads are refused under another engine.
	for _, k := range []string{"instanceClass", "engineVersion", "multiAz", "deletionProtection"} {
		delete(db, k)
	}
	ts := map[string]any{"availabilityZone": timescaleZone}
	if env == "prod" {
		ts["amiId"] = pinnedAmi
	}
	db["timescale"] = ts
	// The host installs packages at boot: it needs NAT, which the dev
	// profile leaves out to save money; tasks then stay private too.
	if network, _ := settings["network"].(map[string]any); network != nil && network["natGateways"] == float64(0) {
		network["natGateways"] = 1
		if backend, _ := settings["backend"].(map[string]any); backend != nil {
			backend["assignPublicIp"] = false
		}
	}
	return ts
}

// timescalePinnedSynth is the prod variant: pinned account, region, zone and
// AMI (a prod-profile timescaledb environment must pin its image).
func timescalePinnedSynth(t *testing.T) *synth { return timescaleSynth(t, "prod") }

// timescaleRestoreSynth is dev restoring to a point in time, with a
// customer-managed default EBS key and daily volume snapshots.
func timescaleRestoreSynth(t *testing.T) *synth {
	return variant(t, "timescaledb-restore", "dev", func(settings map[string]any) {
		ts := timescaleSettings(settings, "dev")
		ts["restore"] = map[string]any{"targetTime": restoreTime}
		ts["ebsKmsKeyArn"] = ebsKeyArn
		ts["backupRetentionDays"] = 3
	})
}

const (
	restoreTime = "2026-11-28T10:30:00+01:00"
	ebsKeyArn   = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// userData returns the instance's user data with CloudFormation references
// written as {Ref:ID} / {GetAtt:ID.Attr}, and the logical IDs it references.
func userData(t *testing.T, instance map[string]any) (string, []string) {
	t.Helper()
	ud := props(instance)["UserData"].(map[string]any)["Fn::Base64"]
	var b strings.Builder
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case map[string]any:
			if join, ok := x["Fn::Join"].([]any); ok {
				for _, part := range join[1].([]any) {
					walk(part)
				}
				return
			}
			if ref, ok := x["Ref"].(string); ok {
				refs = append(refs, ref)
				fmt.Fprintf(&b, "{Ref:%s}", ref)
				return
			}
			fmt.Fprintf(&b, "{%s}", jsonOf(x))
		default:
			t.Fatalf("unexpected user data part %T", v)
		}
	}
	walk(ud)
	return b.String(), refs
}

func TestTimescaleDB(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			s := timescaleSynth(t, env)
			cfg := s.cfg
			ts := cfg.Database.Timescale
			prod := cfg.Production()
			tpl := s.templates["data"]
			raw := s.raw["data"]
			require.Equal(t, config.EngineTimescaleDB, cfg.Database.Engine)
			assert.NoError(t, s.err, "cdk synth (cdk-nag included) with engine timescaledb")
			for i, st := range s.platform.Stacks() {
				assert.Empty(t, annotations(t, s.outdir, *st.ArtifactId(), "AwsSolutions-"), "%s: unsuppressed cdk-nag findings", s.parts()[i])
			}
			pinned := []string{"AWS::EC2::Volume TimescaleDataVolume006778F6", "AWS::SecretsManager::Secret TimescaleSecret52774E0C",
				"AWS::Logs::LogGroup TimescaleLogsD4A290E1", "AWS::S3::Bucket TimescaleArchive59E6DFB5", "AWS::KMS::Key TimescaleArchiveKey4EA29940"}
			if prod {
				pinned = append(pinned, "AWS::Backup::BackupVault TimescaleBackupVaultC82A444D")
			}
			for _, p := range pinned {
				typ, id, _ := strings.Cut(p, " ")
				r, ok := raw["Resources"].(map[string]any)[id]
				if assert.True(t, ok, "%s %s is gone: this change would REPLACE it (for the volume: a new, empty data directory; for the archive: every backup). Restore its construct path, or change this list deliberately.", typ, id) {
					assert.Equal(t, typ, r.(map[string]any)["Type"])
				}
			}

			assert.Empty(t, resources(raw, "AWS::RDS::DBInstance"), "no RDS with the timescaledb engine")

			// The host: Graviton, Ubuntu LTS (Canonical's current image in dev,
			// resolved by CloudFormation; a pinned AMI in prod), IMDSv2 only, no
			// key pair, encrypted root.
			instanceID, instance := one(t, raw, "AWS::EC2::Instance")
			ip := props(instance)
			assert.Equal(t, ts.InstanceType, ip["InstanceType"])
			if prod {
				assert.Equal(t, pinnedAmi, ip["ImageId"], "prod runs the pinned AMI")
			} else {
				imageParam := ip["ImageId"].(map[string]any)["Ref"].(string)
				param := raw["Parameters"].(map[string]any)[imageParam].(map[string]any)
				assert.Equal(t, "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", param["Type"])
				assert.Equal(t, tsaconstructs.UbuntuArm64AmiParameter, param["Default"], "Ubuntu 24.04 LTS arm64, resolved at deploy time")
			}
			assert.Nil(t, ip["KeyName"], "no SSH key pair: access is through Session Manager only")
			assert.Equal(t, m("HttpEndpoint", "enabled", "HttpPutResponseHopLimit", float64(1), "HttpTokens", "required"), ip["MetadataOptions"], "IMDSv2 required")
			assert.Equal(t, true, ip["Monitoring"], "detailed monitoring")
			blocks := ip["BlockDeviceMappings"].([]any)
			require.Len(t, blocks, 1, "only the root volume is part of the instance")
			root := blocks[0].(map[string]any)["Ebs"].(map[string]any)
			assert.Equal(t, true, root["Encrypted"], "root volume encrypted")
			assert.Equal(t, true, root["DeleteOnTermination"], "the root volume is disposable; the data volume is not")
			assert.Equal(t, m("ResourceSignal", m("Count", float64(1), "Timeout", "PT30M")), instance["CreationPolicy"], "the host signals once PostgreSQL serves")
			assert.Regexp(t, `^TimescaleInstance[0-9A-F]{8}[0-9A-F]{8}$`, instanceID, "the boot script's fingerprint is part of the logical ID")
			assert.Empty(t, resources(raw, "AWS::EC2::LaunchTemplate"))

			// The data volume is its own resource in a zone written out in
			// config: replacing the instance never touches it, a changed zone
			// list cannot move it, and production keeps it when the stack goes.
			volumeID, volume := one(t, raw, "AWS::EC2::Volume")
			vp := props(volume)
			assert.Equal(t, true, vp["Encrypted"])
			assert.Equal(t, "gp3", vp["VolumeType"])
			assert.EqualValues(t, ts.VolumeSizeGiB, vp["Size"])
			assert.Equal(t, timescaleZone, vp["AvailabilityZone"], "the zone is a literal from database.timescale.availabilityZone")
			assert.Equal(t, timescaleZone, ip["AvailabilityZone"], "instance and volume share one zone")
			assert.NotContains(t, jsonOf(raw), "Fn::GetAZs", "no zone is computed at deploy time in the data stack")
			wantPolicy := "Delete"
			if prod {
				wantPolicy = "Retain"
			}
			assert.Equal(t, wantPolicy, volume["DeletionPolicy"])
			assert.Equal(t, wantPolicy, volume["UpdateReplacePolicy"])
			assert.Empty(t, resources(raw, "AWS::EC2::VolumeAttachment"),
				"the host attaches the volume at boot: a VolumeAttachment would block instance replacement (the new attachment is created while the old instance still holds the volume)")

			// Daily AWS Backup snapshots in prod; dev has no vault, so recovery
			// points never block `cdk destroy` (the archive is dev's backup).
			if prod {
				_, plan := one(t, raw, "AWS::Backup::BackupPlan")
				rules := props(plan)["BackupPlan"].(map[string]any)["BackupPlanRule"].([]any)
				require.Len(t, rules, 1)
				rule := rules[0].(map[string]any)
				assert.Equal(t, "cron(0 3 * * ? *)", rule["ScheduleExpression"], "daily")
				assert.EqualValues(t, ts.BackupRetentionDays, rule["Lifecycle"].(map[string]any)["DeleteAfterDays"])
				_, selection := one(t, raw, "AWS::Backup::BackupSelection")
				assert.Contains(t, jsonOf(props(selection)["BackupSelection"].(map[string]any)["Resources"]), `{"Ref":"`+volumeID+`"}`, "the data volume is selected")
				_, vault := one(t, raw, "AWS::Backup::BackupVault")
				assert.Equal(t, "Retain", vault["DeletionPolicy"], "the vault outlives a prod stack")
			} else {
				assert.Equal(t, 0, ts.BackupRetentionDays)
				assert.Empty(t, resources(raw, "AWS::Backup::BackupVault"), "no vault in dev")
				assert.Empty(t, resources(raw, "AWS::Backup::BackupPlan"))
			}

			assertArchive(t, s)

			// Credentials: generated by Secrets Manager, the template holds every
			// key but the password and no token (so updates never regenerate
			// it): the administrator's (the host applies it; the migration task
			// logs in with it) and the application role's (the migration task
			// sets it; the API logs in with it).
			require.Len(t, resources(raw, "AWS::SecretsManager::Secret"), 2)
			secretID, secret := named(t, raw, "AWS::SecretsManager::Secret", "TimescaleSecret")
			_, appSecret := named(t, raw, "AWS::SecretsManager::Secret", "TimescaleAppSecret")
			templateOf := func(secret map[string]any) map[string]any {
				gen := props(secret)["GenerateSecretString"].(map[string]any)
				assert.Equal(t, "password", gen["GenerateStringKey"])
				var keys map[string]any
				require.NoError(t, json.Unmarshal([]byte(gen["SecretStringTemplate"].(string)), &keys))
				return keys
			}
			endpoint := "timescaledb.tsa-" + env + ".internal"
			assert.Equal(t, m("engine", "postgres", "host", endpoint, "port", float64(5432), "dbname", cfg.Database.DatabaseName, "username", tsaconstructs.TimescaleAdminUsername), templateOf(secret))
			assert.Equal(t, m("username", tsaconstructs.AppUsername), templateOf(appSecret))
			assert.Equal(t, wantPolicy, secret["DeletionPolicy"])
			assert.Equal(t, wantPolicy, appSecret["DeletionPolicy"])

			// User data: the settings (naming the secret, the volume and the
			// bucket by reference) and the packed scripts; no credential.
			script, refs := userData(t, instance)
			archiveID, _ := named(t, raw, "AWS::S3::Bucket", "TimescaleArchive")
			assert.Contains(t, refs, secretID, "the host reads the secret by its ARN")
			assert.Contains(t, refs, volumeID, "the host attaches and mounts the data volume by its ID")
			assert.Contains(t, refs, archiveID, "the host archives to the bucket")
			assert.Contains(t, script, "SECRET_ID='{Ref:"+secretID+"}'")
			assert.Contains(t, script, "repo1-s3-bucket={Ref:"+archiveID+"}")
			assert.Contains(t, script, "TIMESCALE_VERSION='"+ts.TimescaleVersion+"'")
			assert.Contains(t, script, fmt.Sprintf("PG_MAJOR='%d'", ts.PostgresMajor))
			assert.Contains(t, script, fmt.Sprintf("PG_MINOR='%d'", ts.PostgresMinor))
			assert.Contains(t, script, "CLIENT_CIDR='"+cfg.Network.VpcCidr+"'")
			assert.Contains(t, script, "set -euo pipefail")
			assert.Contains(t, script, "STACK_NAME='"+cfg.StackName("data")+"'")
			assert.Contains(t, script, "LOGICAL_ID='"+instanceID+"'", "the host signals its own CreationPolicy")
			assert.Contains(t, script, "RESTORE_TARGET=''", "no restore")
			assert.Contains(t, script, fmt.Sprintf("repo1-retention-full=%d\n", ts.Pitr.RetentionDays), "archive retention from config")
			assert.Less(t, len(script), timescaledb.MaxUserDataBytes-512, "EC2 user data limit with room for resolved references")
			assert.NotRegexp(t, `(?i)PGPASSWORD|password[ \t]*=[ \t]*['"]?[^'"\s$]|--password`, script, "no password in user data")
			assertNoPlaintextPassword(t, raw)

			// TLS only, from the VPC, with SCRAM; the secret's host is a stable
			// private DNS name that follows the instance.
			_, zone := one(t, raw, "AWS::Route53::HostedZone")
			assert.Equal(t, "tsa-"+env+".internal.", props(zone)["Name"])
			assert.NotNil(t, props(zone)["VPCs"], "private zone of the VPC")
			hasResource(t, tpl, "AWS::Route53::RecordSet", m("Name", endpoint+".", "Type", "A", "TTL", "30",
				"ResourceRecords", []any{m("Fn::GetAtt", []any{instanceID, "PrivateIp"})}))
			hasOutput(t, tpl, "DatabaseEndpoint", endpoint)
			hasOutput(t, tpl, "ArchiveBucketName", m("Ref", archiveID))

			// Network: no ingress of its own, no SSH; egress HTTP(S) only.
			assert.Empty(t, resources(raw, "AWS::EC2::SecurityGroupIngress"), "consumers open the port from their side")
			_, sg := one(t, raw, "AWS::EC2::SecurityGroup")
			assert.Nil(t, props(sg)["SecurityGroupIngress"])
			var egressPorts []float64
			for _, e := range props(sg)["SecurityGroupEgress"].([]any) {
				egressPorts = append(egressPorts, e.(map[string]any)["FromPort"].(float64))
			}
			sort.Float64s(egressPorts)
			assert.Equal(t, []float64{80, 443}, egressPorts)
			for _, part := range s.parts() {
				assert.NotRegexp(t, `"(FromPort|ToPort)":\s*22\b`, jsonOf(s.raw[part]), "no SSH anywhere (%s)", part)
			}

			// Least privilege: the one secret, the volume by tag, its own logs.
			policy := jsonOf(resources(raw, "AWS::IAM::Policy"))
			assert.Contains(t, policy, `"secretsmanager:GetSecretValue"`)
			assert.Contains(t, policy, `"Resource":{"Ref":"`+secretID+`"}`, "read exactly this secret")
			assert.Contains(t, policy, `"ec2:AttachVolume"`)
			assert.Regexp(t, `"ec2:ResourceTag/VolumeGrantAttach-timescaledb"`, policy, "attach only onto the tagged instance")
			assert.NotRegexp(t, `"(secretsmanager|ec2|iam|logs|s3|kms|cloudformation):\*"`, policy, "no service-wide actions")
			assert.Contains(t, policy, `"Action":"cloudformation:SignalResource","Effect":"Allow","Resource":{"Ref":"AWS::StackId"}`, "signal only its own stack")
			assert.Contains(t, policy, `"Condition":{"StringEquals":{"cloudwatch:namespace":["CWAgent","`+timescaledb.MetricsNamespace+`"]}}`, "metrics only in the host's namespaces")
			assertHandover(t, raw, instanceID, volumeID)
			hostRole := ip["IamInstanceProfile"]
			require.NotNil(t, hostRole)
			var ec2Roles []map[string]any
			for _, r := range resources(raw, "AWS::IAM::Role") {
				if strings.Contains(jsonOf(props(r)["AssumeRolePolicyDocument"]), "ec2.amazonaws.com") {
					ec2Roles = append(ec2Roles, r)
				}
			}
			require.Len(t, ec2Roles, 1, "one instance role")
			assert.Contains(t, jsonOf(ec2Roles[0]["Properties"].(map[string]any)["ManagedPolicyArns"]), "AmazonSSMManagedInstanceCore", "Session Manager")
			assert.NotContains(t, policy, "kms:CreateGrant", "no EBS key grants without database.timescale.ebsKmsKeyArn")

			// Logs shipped by the CloudWatch agent to a retained log group.
			// One log group besides those of CDK's deploy-time handlers.
			var logsID string
			var logs map[string]any
			for id, r := range resources(raw, "AWS::Logs::LogGroup") {
				if !isHandlerLog(raw, id) {
					require.Empty(t, logsID, "one log group of the host, found %s and %s", logsID, id)
					logsID, logs = id, r
				}
			}
			require.NotEmpty(t, logsID, "the host's log group")
			assert.EqualValues(t, cfg.Database.LogRetentionDays, props(logs)["RetentionInDays"])
			assert.Equal(t, wantPolicy, logs["DeletionPolicy"])
			_, agentCfg := one(t, raw, "AWS::SSM::Parameter")
			assert.Contains(t, jsonOf(props(agentCfg)["Value"]), `{"Ref":"`+logsID+`"}`, "the agent ships to the construct's log group")
			assert.Contains(t, jsonOf(props(agentCfg)["Value"]), "/var/log/postgresql/postgresql-*.log")
			assert.Contains(t, jsonOf(props(agentCfg)["Value"]), timescaledb.PgBackRestLogs)

			assertTimescaleAlarms(t, s, instanceID, endpoint)
			// The service opens the database port from its side, as with RDS
			// (the rest of the compute shape: TestComputeIsEngineAgnostic).
			assertDatabaseIngress(t, envs[env].raw["compute"], s.raw["compute"])
		})
	}
}

// assertArchive: the pgBackRest repository is an S3 bucket encrypted with
// its own rotated KMS key, versioned, private, TLS only, with access logs;
// kept in prod, emptied and deleted with a dev stack; the host may use only
// the repository prefix and the key only through S3.
func assertArchive(t *testing.T, s *synth) {
	t.Helper()
	raw, prod := s.raw["data"], s.cfg.Production()
	pitr := s.cfg.Database.Timescale.Pitr
	archiveID, archive := named(t, raw, "AWS::S3::Bucket", "TimescaleArchive")
	logsID, logs := named(t, raw, "AWS::S3::Bucket", "TimescaleArchiveAccessLogs")
	keyID, key := named(t, raw, "AWS::KMS::Key", "TimescaleArchiveKey")
	ap := props(archive)
	assert.Equal(t, m("ServerSideEncryptionConfiguration", []any{m("BucketKeyEnabled", true,
		"ServerSideEncryptionByDefault", m("KMSMasterKeyID", m("Fn::GetAtt", []any{keyID, "Arn"}), "SSEAlgorithm", "aws:kms"))}), ap["BucketEncryption"])
	assert.Equal(t, m("Status", "Enabled"), ap["VersioningConfiguration"])
	assert.Equal(t, m("BlockPublicAcls", true, "BlockPublicPolicy", true, "IgnorePublicAcls", true, "RestrictPublicBuckets", true), ap["PublicAccessBlockConfiguration"])
	assert.Equal(t, m("DestinationBucketName", m("Ref", logsID), "LogFilePrefix", "archive/"), ap["LoggingConfiguration"])
	assert.Contains(t, jsonOf(ap["LifecycleConfiguration"]), fmt.Sprintf(`"NoncurrentVersionExpiration":{"NoncurrentDays":%d}`, pitr.RetentionDays))
	assert.Contains(t, jsonOf(ap["LifecycleConfiguration"]), `"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1}`)
	assert.Equal(t, true, props(key)["EnableKeyRotation"])
	policies := jsonOf(resources(raw, "AWS::S3::BucketPolicy"))
	assert.Contains(t, policies, `"aws:SecureTransport":"false"`, "TLS only")
	assert.Contains(t, jsonOf(props(logs)["BucketEncryption"]), `"SSEAlgorithm":"AES256"`, "the access-log bucket is SSE-S3 encrypted")
	autoDelete := resources(raw, "Custom::S3AutoDeleteObjects")
	if prod {
		for _, r := range []map[string]any{archive, logs, key} {
			assert.Equal(t, "Retain", r["DeletionPolicy"], "prod keeps the archive, its key and its logs")
		}
		assert.Empty(t, autoDelete, "nothing empties a prod bucket")
	} else {
		for _, r := range []map[string]any{archive, logs, key} {
			assert.Equal(t, "Delete", r["DeletionPolicy"], "dev leaves nothing billable")
		}
		assert.EqualValues(t, 7, props(key)["PendingWindowInDays"], "a dev key waits the minimum before deletion (not billed while pending)")
		assert.Len(t, autoDelete, 2, "dev empties both buckets (every version) before deleting them")
		assert.Contains(t, jsonOf(autoDelete), `"BucketName":{"Ref":"`+archiveID+`"}`)
	}
	repo := timescaledb.RepoPath
	bucketArn := m("Fn::GetAtt", []any{archiveID, "Arn"})
	assert.Equal(t, m("Action", "s3:ListBucket", "Effect", "Allow", "Resource", bucketArn, "Sid", "ListArchiveRoot",
		"Condition", m("StringEquals", m("s3:delimiter", []any{"/"}, "s3:prefix", []any{"", repo}))), statement(t, raw, "ListArchiveRoot"))
	assert.Equal(t, m("Action", "s3:ListBucket", "Effect", "Allow", "Resource", bucketArn, "Sid", "ListArchiveRepository",
		"Condition", m("StringLike", m("s3:prefix", []any{repo + "/*"}))), statement(t, raw, "ListArchiveRepository"))
	assert.Equal(t, m("Action", []any{"s3:DeleteObject", "s3:GetObject", "s3:PutObject"}, "Effect", "Allow", "Sid", "ReadWriteArchiveRepository",
		"Resource", m("Fn::Join", []any{"", []any{bucketArn, "/" + repo + "/*"}})), statement(t, raw, "ReadWriteArchiveRepository"))
	assert.Equal(t, m("Action", []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Effect", "Allow", "Sid", "UseArchiveKeyThroughS3",
		"Resource", m("Fn::GetAtt", []any{keyID, "Arn"}),
		"Condition", m("StringEquals", m("kms:ViaService", m("Fn::Join", []any{"", []any{"s3." + timescaleRegion + ".", m("Ref", "AWS::URLSuffix")}})))),
		statement(t, raw, "UseArchiveKeyThroughS3"))
	policy := jsonOf(resources(raw, "AWS::IAM::Policy"))
	assert.NotRegexp(t, `"s3:(\*|Get\*|Put\*|Delete\*|List\*)"`, policy, "no wildcard S3 actions")
}

// assertHandover: the host may stop, start and detach only the instances and
// the volume that carry the volume's grant tag, with the tag's real value.
func assertHandover(t *testing.T, raw map[string]any, instanceID, volumeID string) {
	t.Helper()
	var tag string
	for _, tg := range props(resources(raw, "AWS::EC2::Instance")[instanceID])["Tags"].([]any) {
		if tg.(map[string]any)["Key"] == tsaconstructs.HandoverTagKey {
			tag = tg.(map[string]any)["Value"].(string)
		}
	}
	require.NotEmpty(t, tag, "the instance carries %s", tsaconstructs.HandoverTagKey)
	condition := m("StringEquals", m("ec2:ResourceTag/"+tsaconstructs.HandoverTagKey, tag))
	instances := "arn:aws:ec2:" + timescaleRegion + ":" + timescaleAccount + ":instance/*"
	volume := m("Fn::Join", []any{"", []any{"arn:aws:ec2:" + timescaleRegion + ":" + timescaleAccount + ":volume/", m("Ref", volumeID)}})
	assert.Equal(t, m("Action", []any{"ec2:StartInstances", "ec2:StopInstances"}, "Effect", "Allow", "Resource", instances,
		"Condition", condition, "Sid", "StopStartTheDatabaseHosts"), statement(t, raw, "StopStartTheDatabaseHosts"))
	assert.Equal(t, m("Action", "ec2:DetachVolume", "Effect", "Allow", "Resource", []any{instances, volume},
		"Condition", condition, "Sid", "DetachTheDataVolume"), statement(t, raw, "DetachTheDataVolume"))
	assert.Equal(t, m("Action", []any{"ec2:DescribeInstances", "ec2:DescribeVolumes"}, "Effect", "Allow", "Resource", "*",
		"Sid", "WatchVolumeAndInstances"), statement(t, raw, "WatchVolumeAndInstances"))
}

// statement returns the host policy's statement with this Sid.
func statement(t *testing.T, raw map[string]any, sid string) map[string]any {
	t.Helper()
	for _, p := range resources(raw, "AWS::IAM::Policy") {
		for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			if st.(map[string]any)["Sid"] == sid {
				return st.(map[string]any)
			}
		}
	}
	t.Errorf("no policy statement %s", sid)
	return nil
}

// assertTimescaleAlarms: besides EC2's checks, the host's own metrics are
// watched: PostgreSQL accepting writes, WAL reaching the archive, backup age;
// silence is breaching, and the alarms exist only once the host has signalled.
func assertTimescaleAlarms(t *testing.T, s *synth, instanceID, endpoint string) {
	t.Helper()
	cfg := s.cfg
	alarms := resources(s.raw["data"], "AWS::CloudWatch::Alarm")
	byMetric := map[string]map[string]any{}
	for _, a := range alarms {
		byMetric[props(a)["MetricName"].(string)] = props(a)
	}
	recover := byMetric["StatusCheckFailed_System"]
	require.NotNil(t, recover, "system status check alarm")
	assert.Regexp(t, `arn:.*automate:.*:ec2:recover`, strings.ReplaceAll(jsonOf(recover["AlarmActions"]), `"`, ""), "EC2 recover action")
	assert.Equal(t, jsonOf(m("Name", "InstanceId", "Value", m("Ref", instanceID))), jsonOf(recover["Dimensions"].([]any)[0]))
	for _, metric := range []string{"StatusCheckFailed_Instance", "StatusCheckFailed_AttachedEBS", "CPUUtilization", timescaledb.DiskUsedMetric} {
		assert.Contains(t, byMetric, metric)
	}
	disk := byMetric[timescaledb.DiskUsedMetric]
	assert.Equal(t, timescaledb.AgentNamespace, disk["Namespace"])
	assert.Contains(t, jsonOf(disk["Dimensions"]), `{"Name":"path","Value":"`+timescaledb.MountPoint+`"}`)
	assert.EqualValues(t, cfg.Monitoring.DbCpuPercent, byMetric["CPUUtilization"]["Threshold"])

	host := []struct {
		metric, statistic, op, anchor string
		threshold, periods, period    float64
	}{
		{timescaledb.PostgresUpMetric, "Minimum", "LessThanThreshold", "timescaledb-postgres-down", 1, float64(cfg.Monitoring.EvaluationPeriods), 60},
		{timescaledb.ArchiveLagMetric, "Maximum", "GreaterThanOrEqualToThreshold", "timescaledb-archive-lag", 240, 1, 60},
		{timescaledb.BackupAgeMetric, "Maximum", "GreaterThanOrEqualToThreshold", "timescaledb-backup-age", 30, 1, 300},
	}
	for _, w := range host {
		a := byMetric[w.metric]
		if !assert.NotNil(t, a, "alarm on %s", w.metric) {
			continue
		}
		assert.Equal(t, timescaledb.MetricsNamespace, a["Namespace"])
		assert.Equal(t, []any{m("Name", timescaledb.EndpointDimension, "Value", endpoint)}, a["Dimensions"], "by the DNS name, which outlives replacements")
		assert.Equal(t, w.statistic, a["Statistic"])
		assert.Equal(t, w.op, a["ComparisonOperator"])
		assert.EqualValues(t, w.threshold, a["Threshold"])
		assert.EqualValues(t, w.periods, a["EvaluationPeriods"])
		assert.EqualValues(t, w.periods, a["DatapointsToAlarm"])
		assert.EqualValues(t, w.period, a["Period"])
		assert.Equal(t, "breaching", a["TreatMissingData"], "a silent host is a failing host")
		assert.Contains(t, a["AlarmDescription"], tsaconstructs.RunbookPath+"#"+w.anchor)
	}
	for id, a := range alarms {
		if props(a)["Namespace"] == timescaledb.MetricsNamespace {
			assert.Contains(t, jsonOf(a["DependsOn"]), instanceID, "%s is created after the host signalled", id)
		}
	}
}

// named returns the resource of a type whose logical ID is the construct
// path (without separators) plus CDK's 8-digit hash.
func named(t *testing.T, tpl map[string]any, typ, path string) (string, map[string]any) {
	t.Helper()
	re := regexp.MustCompile(`^` + path + `[0-9A-F]{8}$`)
	for id, r := range resources(tpl, typ) {
		if re.MatchString(id) {
			return id, r
		}
	}
	t.Fatalf("no %s %s*", typ, path)
	return "", nil
}

// assertNoPlaintextPassword fails on any literal password-like value in a
// template: generated secrets are the only source of credentials.
func assertNoPlaintextPassword(t *testing.T, tpl map[string]any) {
	t.Helper()
	text := jsonOf(tpl)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`"(?i)(master)?password"\s*:\s*"[^"]+"`),
		regexp.MustCompile(`"SecretString"\s*:`),
		regexp.MustCompile(`(?i)PGPASSWORD`),
	} {
		assert.NotRegexp(t, re, text, "plaintext credentials in the template")
	}
}

// assertDatabaseIngress: the TimescaleDB engine gets as many ingress rules in
// the compute stack as RDS does, one of them on PostgreSQL's port.
func assertDatabaseIngress(t *testing.T, rds, tsdb map[string]any) {
	t.Helper()
	var ports []string
	for _, r := range resources(tsdb, "AWS::EC2::SecurityGroupIngress") {
		ports = append(ports, fmt.Sprint(props(r)["FromPort"], "-", props(r)["ToPort"]))
	}
	assert.Equal(t, len(resources(rds, "AWS::EC2::SecurityGroupIngress")), len(ports),
		"the service opens the database port from its side, as with RDS")
	assert.Contains(t, ports, "5432-5432")
}

func hasOutput(t *testing.T, tpl assertions.Template, id string, value any) {
	t.Helper()
	must(t, "output "+id, func() { tpl.HasOutput(&id, m("Value", value)) })
}

// TestTimescaleUserDataIsTheRenderedScript ties the template to the tested
// scripts: the user data is the rendering (settings, pgbackrest.conf and the
// packed payload/ the unit tests unpack and check), byte for byte, once
// CloudFormation has substituted the references.
func TestTimescaleUserDataIsTheRenderedScript(t *testing.T) {
	for _, s := range []*synth{timescaleSynth(t, "dev"), timescaleRestoreSynth(t)} {
		instanceID, instance := one(t, s.raw["data"], "AWS::EC2::Instance")
		script, _ := userData(t, instance)
		script = strings.TrimSuffix(script, "\n") + "\n"
		ts := s.cfg.Database.Timescale
		target := ""
		if ts.Restore.TargetTime != "" {
			var err error
			target, err = timescaledb.RestoreTargetOf(ts.Restore.TargetTime)
			require.NoError(t, err)
		}
		want, err := timescaledb.Render(timescaledb.Bootstrap{
			StackName: s.cfg.StackName("data"), LogicalID: instanceID,
			PostgresMajor: ts.PostgresMajor, PostgresMinor: ts.PostgresMinor, TimescaleVersion: ts.TimescaleVersion,
			VolumeID: "${Token[VOLUME]}", SecretArn: "${Token[SECRET]}", AgentConfigParameter: "${Token[PARAM]}",
			CAParameter:   "/tsa/" + s.cfg.Name + "/database/timescaledb-ca",
			ArchiveBucket: "${Token[BUCKET]}", Region: timescaleRegion, URLSuffix: "${Token[SUFFIX]}",
			DatabaseName: s.cfg.Database.DatabaseName, Port: 5432, ClientCidr: s.cfg.Network.VpcCidr,
			DNSName:       "timescaledb.tsa-dev.internal",
			Pitr:          timescaledb.Pitr{RetentionDays: ts.Pitr.RetentionDays, FullBackupWeekday: ts.Pitr.FullBackupWeekday, BackupHourUtc: ts.Pitr.BackupHourUtc},
			RestoreTarget: target,
		})
		require.NoError(t, err)
		refs := regexp.MustCompile(`\{Ref:[A-Za-z0-9:]+\}`)
		tokens := regexp.MustCompile(`\$\{Token\[[A-Z]+\]\}`)
		assert.Equal(t, tokens.ReplaceAllString(want, "<ref>"), refs.ReplaceAllString(script, "<ref>"))
	}
}

// TestTimescaleRestore: database.timescale.restore.targetTime puts a new data
// volume (named by the target) in place of the current one, and a new host
// that restores it from the archive before it reports ready; the replaced
// volume leaves the template. It also covers a customer-managed default EBS
// key and volume snapshots outside prod.
func TestTimescaleRestore(t *testing.T) {
	s := timescaleRestoreSynth(t)
	raw := s.raw["data"]
	require.NoError(t, s.err)
	for i, st := range s.platform.Stacks() {
		assert.Empty(t, annotations(t, s.outdir, *st.ArtifactId(), "AwsSolutions-"), "%s: unsuppressed cdk-nag findings", s.parts()[i])
	}
	volumeID, volume := one(t, raw, "AWS::EC2::Volume")
	assert.Regexp(t, `^TimescaleDataVolumeRestored20261128T093000Z[0-9A-F]{8}$`, volumeID, "the restored volume is named by its target (UTC)")
	assert.NotContains(t, raw["Resources"], "TimescaleDataVolume006778F6", "the replaced volume leaves the template")
	assert.Equal(t, timescaleZone, props(volume)["AvailabilityZone"])
	instanceID, instance := one(t, raw, "AWS::EC2::Instance")
	script, refs := userData(t, instance)
	assert.Contains(t, refs, volumeID)
	assert.Contains(t, script, "RESTORE_TARGET='2026-11-28 09:30:00+00'", "pgBackRest's time format, in UTC")
	assert.Equal(t, m("ResourceSignal", m("Count", float64(1), "Timeout", "PT4H")), instance["CreationPolicy"], "a restore copies the database before the host is ready")
	plain, _ := one(t, timescaleSynth(t, "dev").raw["data"], "AWS::EC2::Instance")
	assert.NotEqual(t, plain, instanceID, "a restore replaces the host")
	hasOutput(t, s.templates["data"], "DatabaseVolumeId", m("Ref", volumeID))
	assertHandover(t, raw, instanceID, volumeID)

	// A customer-managed default EBS key: the grants AWS documents for
	// attaching volumes encrypted with it.
	assert.Equal(t, m("Action", "kms:CreateGrant", "Effect", "Allow", "Resource", ebsKeyArn, "Sid", "EbsKeyGrantsForEc2",
		"Condition", m("Bool", m("kms:GrantIsForAWSResource", "true"))), statement(t, raw, "EbsKeyGrantsForEc2"))
	assert.Equal(t, m("Action", []any{"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
		"Effect", "Allow", "Resource", ebsKeyArn, "Sid", "EbsKeyThroughEc2",
		"Condition", m("StringEquals", m("kms:ViaService", m("Fn::Join", []any{"", []any{"ec2." + timescaleRegion + ".", m("Ref", "AWS::URLSuffix")}})))),
		statement(t, raw, "EbsKeyThroughEc2"))

	// Snapshots in a non-prod environment: a vault that goes with the stack
	// (the runbook empties it first).
	_, vault := one(t, raw, "AWS::Backup::BackupVault")
	assert.Equal(t, "Delete", vault["DeletionPolicy"])
	_, selection := one(t, raw, "AWS::Backup::BackupSelection")
	assert.Contains(t, jsonOf(props(selection)), `{"Ref":"`+volumeID+`"}`, "snapshots follow the restored volume")
}

// TestTimescalePinnedImage: with database.timescale.amiId the host runs that
// image instead of Canonical's current one, so a deploy never replaces it
// just because a newer image was published; dev may follow Canonical.
func TestTimescalePinnedImage(t *testing.T) {
	s := timescalePinnedSynth(t)
	_, instance := one(t, s.raw["data"], "AWS::EC2::Instance")
	assert.Equal(t, pinnedAmi, props(instance)["ImageId"])
	assert.NotContains(t, jsonOf(s.raw["data"]["Parameters"]), "canonical", "no image parameter is read at deploy time")
}
