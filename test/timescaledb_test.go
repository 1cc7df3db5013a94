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

// timescaleSynth is env with database.engine timescaledb (cdk.json otherwise
// unchanged).
func timescaleSynth(t *testing.T, env string) *synth {
	return variant(t, "timescaledb", env, func(settings map[string]any) {
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
		// The host installs packages at boot: it needs NAT, which the dev
		// profile leaves out to save money; tasks then stay private too.
		if network, _ := settings["network"].(map[string]any); network != nil && network["natGateways"] == float64(0) {
			network["natGateways"] = 1
			if backend, _ := settings["backend"].(map[string]any); backend != nil {
				backend["assignPublicIp"] = false
			}
		}
	})
}

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
				assert.Empty(t, annotations(t, s.outdir, *st.ArtifactId(), "AwsSolutions-"), "%s: unsuppressed cdk-nag findings", parts[i])
			}
			for _, pinned := range []string{"AWS::EC2::Volume TimescaleDataVolume006778F6", "AWS::SecretsManager::Secret TimescaleSecret52774E0C",
				"AWS::Logs::LogGroup TimescaleLogsD4A290E1", "AWS::Backup::BackupVault TimescaleBackupVaultC82A444D"} {
				typ, id, _ := strings.Cut(pinned, " ")
				r, ok := raw["Resources"].(map[string]any)[id]
				if assert.True(t, ok, "%s %s is gone: this change would REPLACE it (for the volume: a new, empty data directory). Restore its construct path, or change this list deliberately.", typ, id) {
					assert.Equal(t, typ, r.(map[string]any)["Type"])
				}
			}

			assert.Empty(t, resources(raw, "AWS::RDS::DBInstance"), "no RDS with the timescaledb engine")

			// The host: Graviton, current Ubuntu LTS AMI resolved by CloudFormation
			// from a public SSM parameter, IMDSv2 only, no key pair, encrypted root.
			instanceID, instance := one(t, raw, "AWS::EC2::Instance")
			ip := props(instance)
			assert.Equal(t, ts.InstanceType, ip["InstanceType"])
			imageParam := ip["ImageId"].(map[string]any)["Ref"].(string)
			param := raw["Parameters"].(map[string]any)[imageParam].(map[string]any)
			assert.Equal(t, "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", param["Type"])
			assert.Equal(t, tsaconstructs.UbuntuArm64AmiParameter, param["Default"], "Ubuntu 24.04 LTS arm64, resolved at deploy time")
			assert.Nil(t, ip["KeyName"], "no SSH key pair: access is through Session Manager only")
			assert.Equal(t, m("HttpEndpoint", "enabled", "HttpPutResponseHopLimit", float64(1), "HttpTokens", "required"), ip["MetadataOptions"], "IMDSv2 required")
			assert.Equal(t, true, ip["Monitoring"], "detailed monitoring")
			blocks := ip["BlockDeviceMappings"].([]any)
			require.Len(t, blocks, 1, "only the root volume is part of the instance")
			root := blocks[0].(map[string]any)["Ebs"].(map[string]any)
			assert.Equal(t, true, root["Encrypted"], "root volume encrypted")
			assert.Equal(t, true, root["DeleteOnTermination"], "the root volume is disposable; the data volume is not")
			assert.Equal(t, m("ResourceSignal", m("Count", float64(1), "Timeout", "PT30M")), instance["CreationPolicy"], "the host signals before the instance it replaces goes")
			assert.Regexp(t, `^TimescaleInstance[0-9A-F]{8}[0-9A-F]{8}$`, instanceID, "the boot script's fingerprint is part of the logical ID")
			assert.Empty(t, resources(raw, "AWS::EC2::LaunchTemplate"))

			// The data volume is its own resource: replacing the instance never
			// touches it, and production keeps it when the stack goes.
			volumeID, volume := one(t, raw, "AWS::EC2::Volume")
			vp := props(volume)
			assert.Equal(t, true, vp["Encrypted"])
			assert.Equal(t, "gp3", vp["VolumeType"])
			assert.EqualValues(t, ts.VolumeSizeGiB, vp["Size"])
			assert.Equal(t, jsonOf(ip["AvailabilityZone"]), jsonOf(vp["AvailabilityZone"]), "instance and volume share one zone")
			wantPolicy := "Delete"
			if prod {
				wantPolicy = "Retain"
			}
			assert.Equal(t, wantPolicy, volume["DeletionPolicy"])
			assert.Equal(t, wantPolicy, volume["UpdateReplacePolicy"])
			assert.Empty(t, resources(raw, "AWS::EC2::VolumeAttachment"),
				"the host attaches the volume at boot: a VolumeAttachment would block instance replacement (the new attachment is created while the old instance still holds the volume)")

			// Daily AWS Backup of the volume, retention per environment.
			_, plan := one(t, raw, "AWS::Backup::BackupPlan")
			rules := props(plan)["BackupPlan"].(map[string]any)["BackupPlanRule"].([]any)
			require.Len(t, rules, 1)
			rule := rules[0].(map[string]any)
			assert.Equal(t, "cron(0 3 * * ? *)", rule["ScheduleExpression"], "daily")
			assert.EqualValues(t, ts.BackupRetentionDays, rule["Lifecycle"].(map[string]any)["DeleteAfterDays"])
			_, selection := one(t, raw, "AWS::Backup::BackupSelection")
			assert.Contains(t, jsonOf(props(selection)["BackupSelection"].(map[string]any)["Resources"]), `{"Ref":"`+volumeID+`"}`, "the data volume is selected")
			_, vault := one(t, raw, "AWS::Backup::BackupVault")
			assert.Equal(t, wantPolicy, vault["DeletionPolicy"], "the vault outlives a prod stack")

			// Credentials: generated by Secrets Manager, the template holds every
			// key but the password and no token (so updates never regenerate it).
			secretID, secret := one(t, raw, "AWS::SecretsManager::Secret")
			gen := props(secret)["GenerateSecretString"].(map[string]any)
			assert.Equal(t, "password", gen["GenerateStringKey"])
			var keys map[string]any
			require.NoError(t, json.Unmarshal([]byte(gen["SecretStringTemplate"].(string)), &keys))
			endpoint := "timescaledb.tsa-" + env + ".internal"
			assert.Equal(t, m("engine", "postgres", "host", endpoint, "port", float64(5432), "dbname", cfg.Database.DatabaseName, "username", tsaconstructs.TimescaleUsername), keys)
			secretPolicy := "Delete"
			if prod {
				secretPolicy = "Retain"
			}
			assert.Equal(t, secretPolicy, secret["DeletionPolicy"])

			// User data: the rendered boot script, naming the secret (by
			// reference) and the volume, carrying no credential.
			script, refs := userData(t, instance)
			assert.Contains(t, refs, secretID, "the script reads the secret by its ARN")
			assert.Contains(t, refs, volumeID, "the script attaches and mounts the data volume by its ID")
			assert.Contains(t, script, "readonly SECRET_ID='{Ref:"+secretID+"}'")
			assert.Contains(t, script, "readonly TIMESCALE_VERSION='"+ts.TimescaleVersion+"'")
			assert.Contains(t, script, fmt.Sprintf("readonly PG_MAJOR='%d'", ts.PostgresMajor))
			assert.Contains(t, script, "readonly CLIENT_CIDR='"+cfg.Network.VpcCidr+"'")
			assert.Contains(t, script, "set -euo pipefail")
			assert.Contains(t, script, "readonly STACK_NAME='"+cfg.StackName("data")+"'")
			assert.Contains(t, script, "readonly LOGICAL_ID='"+instanceID+"'", "the host signals its own CreationPolicy")
			assert.Less(t, len(script), timescaledb.MaxUserDataBytes-512, "EC2 user data limit with room for resolved references")
			assert.NotRegexp(t, `(?i)PGPASSWORD|password[ \t]*=[ \t]*['"]?[^'"\s$]|--password`, script, "no password in user data")
			assertNoPlaintextPassword(t, raw)

			// TLS only, from the VPC, with SCRAM; the secret's host is a stable
			// private DNS name that follows the instance.
			assert.Contains(t, script, "hostssl   all      all  $CLIENT_CIDR     scram-sha-256")
			assert.Contains(t, script, "ssl = on")
			_, zone := one(t, raw, "AWS::Route53::HostedZone")
			assert.Equal(t, "tsa-"+env+".internal.", props(zone)["Name"])
			assert.NotNil(t, props(zone)["VPCs"], "private zone of the VPC")
			hasResource(t, tpl, "AWS::Route53::RecordSet", m("Name", endpoint+".", "Type", "A", "TTL", "30",
				"ResourceRecords", []any{m("Fn::GetAtt", []any{instanceID, "PrivateIp"})}))
			hasOutput(t, tpl, "DatabaseEndpoint", endpoint)

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
			for _, part := range parts {
				assert.NotRegexp(t, `"(FromPort|ToPort)":\s*22\b`, jsonOf(s.raw[part]), "no SSH anywhere (%s)", part)
			}

			// Least privilege: the one secret, the volume by tag, its own logs.
			policy := jsonOf(resources(raw, "AWS::IAM::Policy"))
			assert.Contains(t, policy, `"secretsmanager:GetSecretValue"`)
			assert.Contains(t, policy, `"Resource":{"Ref":"`+secretID+`"}`, "read exactly this secret")
			assert.Contains(t, policy, `"ec2:AttachVolume"`)
			assert.Regexp(t, `"ec2:ResourceTag/VolumeGrantAttach-timescaledb"`, policy, "attach only onto the tagged instance")
			assert.NotRegexp(t, `"(secretsmanager|ec2|iam|logs|s3|cloudformation):\*"`, policy, "no service-wide actions")
			assert.Contains(t, policy, `"Action":"cloudformation:SignalResource","Effect":"Allow","Resource":{"Ref":"AWS::StackId"}`, "signal only its own stack")
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

			// Logs shipped by the CloudWatch agent to a retained log group.
			logsID, logs := one(t, raw, "AWS::Logs::LogGroup")
			assert.EqualValues(t, cfg.Database.LogRetentionDays, props(logs)["RetentionInDays"])
			assert.Equal(t, wantPolicy, logs["DeletionPolicy"])
			_, agentCfg := one(t, raw, "AWS::SSM::Parameter")
			assert.Contains(t, jsonOf(props(agentCfg)["Value"]), `{"Ref":"`+logsID+`"}`, "the agent ships to the construct's log group")
			assert.Contains(t, jsonOf(props(agentCfg)["Value"]), "/var/log/postgresql/postgresql-*.log")

			// Recovery on host failure, and the alarms the monitoring work wires.
			alarms := resources(raw, "AWS::CloudWatch::Alarm")
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
			// The service opens the database port from its side, as with RDS
			// (the rest of the compute shape: TestComputeIsEngineAgnostic).
			assertDatabaseIngress(t, envs[env].raw["compute"], s.raw["compute"])
		})
	}
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
// script: the user data is the shellchecked rendering, byte for byte, once
// CloudFormation has substituted the references.
func TestTimescaleUserDataIsTheRenderedScript(t *testing.T) {
	s := timescaleSynth(t, "dev")
	_, instance := one(t, s.raw["data"], "AWS::EC2::Instance")
	script, _ := userData(t, instance)
	script = strings.TrimSuffix(script, "\n") + "\n"
	ts := s.cfg.Database.Timescale
	instanceID, _ := one(t, s.raw["data"], "AWS::EC2::Instance")
	want, err := timescaledb.Render(timescaledb.Bootstrap{
		StackName: s.cfg.StackName("data"), LogicalID: instanceID,
		PostgresMajor: ts.PostgresMajor, TimescaleVersion: ts.TimescaleVersion,
		VolumeID: "${Token[VOLUME]}", SecretArn: "${Token[SECRET]}", AgentConfigParameter: "${Token[PARAM]}",
		DatabaseName: s.cfg.Database.DatabaseName, Port: 5432, ClientCidr: s.cfg.Network.VpcCidr,
		DNSName: "timescaledb.tsa-dev.internal", CloudWatchAgentVersion: timescaledb.DefaultCloudWatchAgentVersion,
	})
	require.NoError(t, err)
	refs := regexp.MustCompile(`\{Ref:[A-Za-z0-9]+\}`)
	tokens := regexp.MustCompile(`\$\{Token\[[A-Z]+\]\}`)
	assert.Equal(t, tokens.ReplaceAllString(want, "<ref>"), refs.ReplaceAllString(script, "<ref>"))
}

// TestTimescalePinnedImage: with database.timescale.amiId the host runs that
// image instead of Canonical's current one, so a deploy never replaces it
// just because a newer image was published.
func TestTimescalePinnedImage(t *testing.T) {
	_, instance := one(t, timescalePinnedSynth(t).raw["data"], "AWS::EC2::Instance")
	assert.Equal(t, pinnedAmi, props(instance)["ImageId"])
	s := timescalePinnedSynth(t)
	assert.NotContains(t, jsonOf(s.raw["data"]["Parameters"]), "canonical", "no image parameter is read at deploy time")
}

const pinnedAmi = "ami-0123456789abcdef0"

// timescalePinnedSynth is prod with the timescaledb engine, pinned to an
// account in eu-west-1 and to an AMI.
func timescalePinnedSynth(t *testing.T) *synth {
	return variant(t, "timescaledb-pinned-ami", "prod", func(prod map[string]any) {
		prod["account"] = "123456789012"
		prod["region"] = "eu-west-1"
		prod["availabilityZones"] = []any{"eu-west-1a", "eu-west-1b"}
		prod["database"] = map[string]any{"engine": config.EngineTimescaleDB, "timescale": map[string]any{"amiId": pinnedAmi}}
	})
}
