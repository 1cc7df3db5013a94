package test

// Issue #12, least privilege end to end (the infrastructure's part): the
// application role and the deploy-time migration, verified TLS to the
// database, customer-managed keys, the ECS Exec audit, confused-deputy
// conditions, a read-only root filesystem and the two-key API secret. Each
// test runs on every configuration the suite synthesizes where it applies.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
)

// execSynth is env with ECS Exec turned on (backend.enableExec), the
// break-glass setting.
func execSynth(t *testing.T, env string) *synth {
	return variant(t, "exec", env, func(settings map[string]any) {
		backend, _ := settings["backend"].(map[string]any)
		if backend == nil {
			backend = map[string]any{}
			settings["backend"] = backend
		}
		backend["enableExec"] = true
	})
}

// variantsOf names a synth for messages.
func nameOf(s *synth) string {
	return fmt.Sprintf("%s/%s%s", s.cfg.Name, s.cfg.Database.Engine, map[bool]string{true: "/exec", false: ""}[s.cfg.Backend.EnableExec])
}

func everyVariant(t *testing.T) []*synth {
	return append(allVariants(t, "dev"), allVariants(t, "prod")...)
}

// policiesOf lists the statements of every AWS::IAM::Policy attached to a
// role of the template.
func policiesOf(raw map[string]any, role string) []map[string]any {
	var out []map[string]any
	for _, pol := range resources(raw, "AWS::IAM::Policy") {
		if !strings.Contains(jsonOf(props(pol)["Roles"]), `{"Ref":"`+role+`"}`) {
			continue
		}
		for _, st := range asList(props(pol)["PolicyDocument"].(map[string]any)["Statement"]) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func roleOf(v any) string {
	ref, _ := v.(map[string]any)["Fn::GetAtt"].([]any)
	if len(ref) != 2 {
		return ""
	}
	return ref[0].(string)
}

func actionsOf(st map[string]any) []string {
	var out []string
	for _, a := range oneOrMany(st["Action"]) {
		out = append(out, a.(string))
	}
	sort.Strings(out)
	return out
}

// migrationTask is the migration task definition and its container.
func migrationTask(t *testing.T, raw map[string]any) (string, map[string]any, map[string]any) {
	t.Helper()
	id, td := named(t, raw, "AWS::ECS::TaskDefinition", "MigrationTaskDef")
	containers := asList(props(td)["ContainerDefinitions"])
	require.Len(t, containers, 1)
	return id, td, containers[0].(map[string]any)
}

// masterSecretRef is how the compute stack names the administrator's
// secret: the migration task's DB_PASSWORD without its JSON key.
func masterSecretRef(t *testing.T, raw map[string]any) string {
	t.Helper()
	_, _, c := migrationTask(t, raw)
	_, secrets := containerEnv(c)
	ref := secrets["DB_PASSWORD"]
	require.Contains(t, ref, ":password::", "the migration task reads the administrator's password")
	return strings.Replace(ref, `:password::`, ``, 1)
}

// TestServiceNeverReadsTheMasterSecret: "the master secret is read by nothing
// that runs all the time". Only the migration task's execution role may read
// it; the service's task definition, execution role and task role never
// name it, and the task role reads no secret at all.
func TestServiceNeverReadsTheMasterSecret(t *testing.T) {
	for _, s := range everyVariant(t) {
		raw := s.raw["compute"]
		master := masterSecretRef(t, raw)
		// The data stack's output holding its ARN, or (external) the ARN itself.
		masterArn := regexp.MustCompile(`"OutputName":"[^"]+"|"arn:aws:secretsmanager:[^"]+"`).FindString(master)
		require.NotEmpty(t, masterArn, "%s: the administrator's secret in %s", nameOf(s), master)
		_, td := serviceTaskDefinition(t, raw)
		_, secrets := containerEnv(asList(props(td)["ContainerDefinitions"])[0].(map[string]any))
		for name, from := range secrets {
			assert.NotContains(t, from, masterArn, "%s: the service's %s comes from the administrator's secret", nameOf(s), name)
		}
		for _, role := range []string{roleOf(props(td)["ExecutionRoleArn"]), roleOf(props(td)["TaskRoleArn"])} {
			require.NotEmpty(t, role, nameOf(s))
			for _, st := range policiesOf(raw, role) {
				assert.NotContains(t, jsonOf(st["Resource"]), masterArn, "%s: %s may read the administrator's secret", nameOf(s), role)
			}
		}
		for _, st := range policiesOf(raw, roleOf(props(td)["TaskRoleArn"])) {
			assert.NotContains(t, jsonOf(st["Action"]), "secretsmanager:", "%s: the task role reads no secret", nameOf(s))
		}
		_, mtd, _ := migrationTask(t, raw)
		var reads bool
		for _, st := range policiesOf(raw, roleOf(props(mtd)["ExecutionRoleArn"])) {
			reads = reads || (strings.Contains(jsonOf(st["Action"]), "secretsmanager:GetSecretValue") && strings.Contains(jsonOf(st["Resource"]), masterArn))
		}
		assert.True(t, reads, "%s: the migration task's execution role reads the administrator's secret", nameOf(s))
		// No secret of the project holds the migrator's password.
		assert.NotContains(t, jsonOf(raw), "MIGRATOR_PASSWORD", nameOf(s))
		assert.NotContains(t, jsonOf(s.raw["data"]), "tsa_migrator", "%s: no stored migrator credentials", nameOf(s))
	}
}

// TestMigrationRunsBeforeTheService: /app -migrate runs as a one-off task of
// the same image while the compute stack deploys, and the service rolls only
// once it succeeded; its properties hold the task definition revision, so a
// new image or task definition runs it again.
func TestMigrationRunsBeforeTheService(t *testing.T) {
	for _, s := range everyVariant(t) {
		raw, b := s.raw["compute"], s.cfg.Backend
		runID, run := one(t, raw, "Custom::DatabaseMigration")
		_, svc := one(t, raw, "AWS::ECS::Service")
		assert.Contains(t, oneOrMany(svc["DependsOn"]), runID, "%s: the service waits for the migration", nameOf(s))

		tdID, td, c := migrationTask(t, raw)
		p := props(run)
		assert.Equal(t, m("Ref", tdID), p["TaskDefinition"], "%s: the run names the task definition revision", nameOf(s))
		assert.Equal(t, "migrate", p["Container"])
		assert.Equal(t, map[bool]string{true: "ENABLED", false: "DISABLED"}[b.AssignPublicIp], p["AssignPublicIp"])
		vpcCfg := props(svc)["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
		assert.Equal(t, vpcCfg["Subnets"], p["Subnets"], "%s: the service's subnets", nameOf(s))
		assert.Contains(t, jsonOf(p["SecurityGroups"]), "MigrationSecurityGroup")
		assert.Contains(t, oneOrMany(run["DependsOn"]), roleOf(props(td)["ExecutionRoleArn"]), "%s: the execution role exists before the task starts", nameOf(s))

		_, svcTD := serviceTaskDefinition(t, raw)
		image := asList(props(svcTD)["ContainerDefinitions"])[0].(map[string]any)["Image"]
		assert.Equal(t, image, c["Image"], "%s: the same image as the service", nameOf(s))
		assert.Equal(t, []any{"/app", "-migrate"}, c["Command"])
		assert.Equal(t, "tsa-"+s.cfg.Name+"-migrate", props(td)["Family"])
		assert.Equal(t, true, c["ReadonlyRootFilesystem"])
		env, secrets := containerEnv(c)
		assert.Equal(t, "tsa_migrator", env["MIGRATOR_USER"])
		assert.NotContains(t, env, "MIGRATOR_PASSWORD", "%s: the migrator's password is generated for each run", nameOf(s))
		assert.NotContains(t, secrets, "MIGRATOR_PASSWORD")
		for _, name := range []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"} {
			assert.Contains(t, secrets, name, "%s: the migration task logs in as the administrator", nameOf(s))
		}
		if s.cfg.Database.Engine == config.EngineRDSPostgres {
			assert.Equal(t, "true", env["APP_IAM_AUTH"])
			assert.Equal(t, "tsa_app", env["APP_USER"])
			assert.NotContains(t, secrets, "APP_PASSWORD")
		} else {
			assert.Contains(t, secrets, "APP_USER")
			assert.Contains(t, secrets, "APP_PASSWORD")
		}
	}
}

// TestMigrationHandlerIsLeastPrivilege: the handlers may start the migration
// family's tasks in this cluster, pass the migration task's two roles to ECS,
// read tasks of this cluster, and write their own logs; the framework's
// roles may invoke the handlers and start the waiter; nothing else.
func TestMigrationHandlerIsLeastPrivilege(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		raw := envs[env].raw["compute"]
		handler, _ := named(t, raw, "AWS::IAM::Role", "MigrationHandlerRole")
		_, td, _ := migrationTask(t, raw)
		got := map[string]string{}
		for _, st := range policiesOf(raw, handler) {
			require.Equal(t, "Allow", st["Effect"])
			got[strings.Join(actionsOf(st), ",")] = jsonOf(st["Resource"]) + " if " + jsonOf(st["Condition"])
		}
		cluster := `{"Fn::GetAtt":["ClusterEB0386A7","Arn"]}`
		assert.Len(t, got, 4, "%s: handler statements %v", env, got)
		assert.Equal(t, `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ecs:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":task-definition/tsa-`+env+`-migrate:*"]]} if {"ArnEquals":{"ecs:cluster":`+cluster+`}}`, got["ecs:RunTask"])
		passed := []string{jsonOf(props(td)["TaskRoleArn"]), jsonOf(props(td)["ExecutionRoleArn"])}
		sort.Strings(passed)
		assert.Equal(t, "["+strings.Join(passed, ",")+`] if {"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`, got["iam:PassRole"])
		assert.Equal(t, `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ecs:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":task/",{"Ref":"ClusterEB0386A7"},"/*"]]} if null`, got["ecs:DescribeTasks"])
		assert.Regexp(t, `^\[\{"Fn::GetAtt":\["MigrationIsCompleteLogs[0-9A-F]{8}","Arn"\]\},\{"Fn::GetAtt":\["MigrationOnEventLogs[0-9A-F]{8}","Arn"\]\}\] if null$`, got["logs:CreateLogStream,logs:PutLogEvents"])

		for _, prefix := range []string{"MigrationFrameworkOnEventRole", "MigrationFrameworkCompleteRole"} {
			role, _ := named(t, raw, "AWS::IAM::Role", prefix)
			for _, st := range policiesOf(raw, role) {
				for _, a := range actionsOf(st) {
					assert.Contains(t, []string{"lambda:InvokeFunction", "lambda:GetFunction", "states:StartExecution", "logs:CreateLogStream", "logs:PutLogEvents"}, a, "%s: %s", env, prefix)
				}
				assert.NotContains(t, jsonOf(st["Resource"]), `"*"`, "%s: %s names its resources", env, prefix)
			}
		}
		// The handler succeeds only on exit code 0 and fails with the reason.
		var code string
		for id, fn := range resources(raw, "AWS::Lambda::Function") {
			if strings.HasPrefix(id, "MigrationIsComplete") {
				code = props(fn)["Code"].(map[string]any)["ZipFile"].(string)
			}
		}
		for _, want := range []string{"RunTaskCommand", "DescribeTasksCommand", "task.lastStatus !== 'STOPPED'", "c.exitCode === 0", "throw new Error('migration task ' + arn + ' failed"} {
			assert.Contains(t, code, want, env)
		}
	}
}

// TestDatabaseTLS: the API and the migration verify the server (DB_SSLMODE
// unset: verify-full) against the CA of each engine: the RDS bundle the image
// ships, the TimescaleDB host's CA from its SSM parameter, or what
// database.external.caCertificate names.
func TestDatabaseTLS(t *testing.T) {
	for _, s := range everyVariant(t) {
		raw := s.raw["compute"]
		_, svcTD := serviceTaskDefinition(t, raw)
		_, _, mc := migrationTask(t, raw)
		for what, c := range map[string]map[string]any{"service": asList(props(svcTD)["ContainerDefinitions"])[0].(map[string]any), "migration": mc} {
			env, secrets := containerEnv(c)
			assert.NotContains(t, env, "DB_SSLMODE", "%s %s: verify-full, the app's default", nameOf(s), what)
			switch s.cfg.Database.Engine {
			case config.EngineRDSPostgres:
				assert.NotContains(t, env, "DB_SSLROOTCERT", "%s %s: the image's RDS bundle", nameOf(s), what)
				assert.NotContains(t, env, "DB_SSLROOTCERT_PEM")
				assert.NotContains(t, secrets, "DB_SSLROOTCERT_PEM")
			case config.EngineTimescaleDB:
				assert.Contains(t, secrets["DB_SSLROOTCERT_PEM"], ":parameter/tsa/"+s.cfg.Name+"/database/timescaledb-ca", "%s %s: the host's CA", nameOf(s), what)
			case config.EngineExternal:
				assert.Equal(t, "/etc/ssl/certs/ca-certificates.crt", env["DB_SSLROOTCERT"], "%s %s: caCertificate system", nameOf(s), what)
			}
		}
		if s.cfg.Database.Engine == config.EngineTimescaleDB {
			// The host publishes the CA to that one parameter.
			host, _ := named(t, s.raw["data"], "AWS::IAM::Role", "TimescaleRole")
			var put []string
			for _, st := range policiesOf(s.raw["data"], host) {
				if strings.Contains(jsonOf(st["Action"]), "ssm:PutParameter") {
					put = append(put, jsonOf(st["Resource"]))
				}
			}
			require.Len(t, put, 1, nameOf(s))
			assert.Contains(t, put[0], ":parameter/tsa/"+s.cfg.Name+"/database/timescaledb-ca\"", nameOf(s))
		}
	}
}

// TestIAMDatabaseAuthentication: on RDS the application role has no password
// anywhere: the instance accepts IAM tokens and the API's task role may
// connect as tsa_app on this instance only.
func TestIAMDatabaseAuthentication(t *testing.T) {
	for _, s := range everyVariant(t) {
		raw := s.raw["compute"]
		_, td := serviceTaskDefinition(t, raw)
		var connect []map[string]any
		for _, st := range policiesOf(raw, roleOf(props(td)["TaskRoleArn"])) {
			if strings.Contains(jsonOf(st["Action"]), "rds-db:") {
				connect = append(connect, st)
			}
		}
		if s.cfg.Database.Engine != config.EngineRDSPostgres {
			assert.Empty(t, connect, "%s: no IAM database authentication", nameOf(s))
			continue
		}
		_, db := one(t, s.raw["data"], "AWS::RDS::DBInstance")
		assert.Equal(t, true, props(db)["EnableIAMDatabaseAuthentication"], nameOf(s))
		require.Len(t, connect, 1, nameOf(s))
		assert.Equal(t, "rds-db:connect", connect[0]["Action"])
		res := jsonOf(connect[0]["Resource"])
		assert.Regexp(t, `:rds-db:.*:dbuser:",\{"Fn::GetStackOutput":\{"OutputName":"PublishOutputFnGetAttPostgresInstance[0-9A-F]+DbiResourceId[0-9A-F]+",.*\}\},"/tsa_app"\]\]\}$`, res, "%s: this instance (its DbiResourceId), user tsa_app", nameOf(s))
	}
}

// TestKeysPerProfile: with customer-managed keys (prod) the data tier's key
// encrypts RDS storage and Performance Insights, every database secret and
// the API key, and the ECS Exec audit has a key of its own; without them
// (dev) nothing new is billed: AWS-managed keys.
func TestKeysPerProfile(t *testing.T) {
	for _, s := range everyVariant(t) {
		cmk := s.cfg.Encryption.CustomerManagedKeys
		assert.Equal(t, s.cfg.Production(), cmk, nameOf(s))
		data, compute := s.raw["data"], s.raw["compute"]
		var dataKey string
		if cmk {
			id, key := named(t, data, "AWS::KMS::Key", "DataKey")
			dataKey = id
			assert.Equal(t, true, props(key)["EnableKeyRotation"], nameOf(s))
			assert.Equal(t, "Retain", key["DeletionPolicy"], "%s: a kept snapshot or secret needs its key", nameOf(s))
			_, _ = named(t, compute, "AWS::KMS::Key", "ExecAuditKey")
		} else {
			for id := range resources(data, "AWS::KMS::Key") {
				assert.True(t, strings.HasPrefix(id, "TimescaleArchiveKey"), "%s: %s", nameOf(s), id)
			}
			assert.Empty(t, resources(compute, "AWS::KMS::Key"), nameOf(s))
		}
		keyRef := m("Fn::GetAtt", []any{dataKey, "Arn"})
		for id, secret := range resources(data, "AWS::SecretsManager::Secret") {
			if cmk {
				assert.Equal(t, keyRef, props(secret)["KmsKeyId"], "%s: %s", nameOf(s), id)
			} else {
				assert.Nil(t, props(secret)["KmsKeyId"], "%s: %s", nameOf(s), id)
			}
		}
		for id, db := range resources(data, "AWS::RDS::DBInstance") {
			p := props(db)
			if cmk {
				assert.Equal(t, keyRef, p["KmsKeyId"], "%s: %s storage", nameOf(s), id)
				if p["EnablePerformanceInsights"] == true {
					assert.Equal(t, keyRef, p["PerformanceInsightsKMSKeyId"], "%s: %s Performance Insights", nameOf(s), id)
				}
			} else {
				assert.Nil(t, p["KmsKeyId"], "%s: aws/rds", nameOf(s))
			}
		}
		_, apiKey := one(t, compute, "AWS::SecretsManager::Secret")
		if cmk {
			assert.Contains(t, jsonOf(props(apiKey)["KmsKeyId"]), "DataKey", "%s: the API key under the data key", nameOf(s))
		} else {
			assert.Nil(t, props(apiKey)["KmsKeyId"], nameOf(s))
		}
	}
}

// TestServiceTrustConditions: confused-deputy conditions on the trust
// policies of service roles whose service documents them (ECS task roles,
// RDS Enhanced Monitoring, VPC flow logs, Step Functions), and on no other:
// a condition on a key a service does not send would break the role. The ECS
// task execution role's page documents none, nor do Lambda, EC2 and AWS
// Backup for their roles.
func TestServiceTrustConditions(t *testing.T) {
	sourceArn := map[string]*regexp.Regexp{
		"ecs-tasks.amazonaws.com":      regexp.MustCompile(`":ecs:",\{"Ref":"AWS::Region"\},":",\{"Ref":"AWS::AccountId"\},":\*"`),
		"monitoring.rds.amazonaws.com": regexp.MustCompile(`":rds:",\{"Ref":"AWS::Region"\},":",\{"Ref":"AWS::AccountId"\},":db:tsa-[a-z0-9]+-postgres"`),
		"vpc-flow-logs.amazonaws.com":  regexp.MustCompile(`":ec2:",\{"Ref":"AWS::Region"\},":",\{"Ref":"AWS::AccountId"\},":vpc-flow-log/\*"`),
		"states.amazonaws.com":         regexp.MustCompile(`":states:",\{"Ref":"AWS::Region"\},":",\{"Ref":"AWS::AccountId"\},":stateMachine:\*"`),
	}
	seen := map[string]bool{}
	for _, s := range everyVariant(t) {
		for _, part := range s.parts() {
			raw := s.raw[part]
			execRoles := map[string]bool{}
			for _, td := range resources(raw, "AWS::ECS::TaskDefinition") {
				execRoles[roleOf(props(td)["ExecutionRoleArn"])] = true
			}
			for id, role := range resources(raw, "AWS::IAM::Role") {
				for _, st := range asList(props(role)["AssumeRolePolicyDocument"].(map[string]any)["Statement"]) {
					sm := st.(map[string]any)
					service, _ := sm["Principal"].(map[string]any)["Service"].(string)
					cond, has := sm["Condition"]
					want := sourceArn[service] != nil && !execRoles[id]
					if service == "" || s.cfg.PinnedEnvironment() {
						continue // pinned stacks write literal ARNs; the shape is checked on the others
					}
					if !want {
						assert.False(t, has, "%s %s %s (%s): no documented confused-deputy keys", nameOf(s), part, id, service)
						continue
					}
					seen[service] = true
					if assert.True(t, has, "%s %s %s (%s) trusts the service without aws:SourceAccount/aws:SourceArn", nameOf(s), part, id, service) {
						c := jsonOf(cond)
						assert.Contains(t, c, `"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}`, "%s %s", nameOf(s), id)
						assert.Regexp(t, sourceArn[service], c, "%s %s", nameOf(s), id)
					}
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"ecs-tasks.amazonaws.com": true, "monitoring.rds.amazonaws.com": true, "vpc-flow-logs.amazonaws.com": true, "states.amazonaws.com": true}, seen)
}

// TestReadOnlyRootFilesystem: the API container's root is read-only (the app
// writes no file), except while ECS Exec is on, whose agent must write into
// the container (AWS documents readonlyRootFilesystem as unsupported with
// ECS Exec); the migration container's always is.
func TestReadOnlyRootFilesystem(t *testing.T) {
	for _, s := range everyVariant(t) {
		raw := s.raw["compute"]
		_, td := serviceTaskDefinition(t, raw)
		c := asList(props(td)["ContainerDefinitions"])[0].(map[string]any)
		assert.Equal(t, !s.cfg.Backend.EnableExec, c["ReadonlyRootFilesystem"] == true, nameOf(s))
		assert.Empty(t, c["MountPoints"], "%s: no writable mount", nameOf(s))
		_, _, mc := migrationTask(t, raw)
		assert.Equal(t, true, mc["ReadonlyRootFilesystem"], nameOf(s))
	}
}

// TestAPIKeyHoldsCurrentAndPrevious: the API key secret is JSON with the key
// in "current" and an empty "previous"; the service gets both, so a rotation
// (runbook) never cuts writers off. The secret keeps its logical ID.
func TestAPIKeyHoldsCurrentAndPrevious(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		raw := envs[env].raw["compute"]
		id, secret := one(t, raw, "AWS::SecretsManager::Secret")
		assert.Equal(t, "ApiKeyF9DDEE66", id)
		gen := props(secret)["GenerateSecretString"].(map[string]any)
		assert.Equal(t, `{"previous":""}`, gen["SecretStringTemplate"])
		assert.Equal(t, "current", gen["GenerateStringKey"])
		_, td := serviceTaskDefinition(t, raw)
		_, secrets := containerEnv(asList(props(td)["ContainerDefinitions"])[0].(map[string]any))
		assert.Equal(t, `{"Fn::Join":["",[{"Ref":"ApiKeyF9DDEE66"},":current::"]]}`, secrets["API_KEY"])
		assert.Equal(t, `{"Fn::Join":["",[{"Ref":"ApiKeyF9DDEE66"},":previous::"]]}`, secrets["API_KEY_PREVIOUS"])
	}
}

// TestExecAuditIsAppendOnly: the SSM agent uploads ECS Exec sessions with the
// task role's credentials, so the task role may create streams in, and put
// events into, the session log group, and do nothing else to it: not read,
// delete, expire, re-key or redirect it. Without ECS Exec the task role has
// no ECS Exec permission at all.
func TestExecAuditIsAppendOnly(t *testing.T) {
	for _, s := range []*synth{envs["dev"], envs["prod"], execSynth(t, "dev"), execSynth(t, "prod")} {
		raw := s.raw["compute"]
		_, td := serviceTaskDefinition(t, raw)
		var actions []string
		for _, st := range policiesOf(raw, roleOf(props(td)["TaskRoleArn"])) {
			require.Equal(t, "Allow", st["Effect"])
			for _, a := range actionsOf(st) {
				actions = append(actions, a)
				switch {
				case strings.HasPrefix(a, "ssmmessages:") || a == "logs:DescribeLogGroups":
					assert.Equal(t, "*", st["Resource"], "%s: %s has no resource-level permissions", nameOf(s), a)
				case strings.HasPrefix(a, "logs:"):
					assert.Regexp(t, `:log-group:",\{"Ref":"ExecSessionsLogs[0-9A-F]{8}"\},":\*"`, jsonOf(st["Resource"]), "%s: %s on the session log group only", nameOf(s), a)
				case a == "kms:Decrypt":
					assert.Regexp(t, `^\{"Fn::GetAtt":\["ExecAuditKey[0-9A-F]{8}","Arn"\]\}$`, jsonOf(st["Resource"]), nameOf(s))
				}
			}
		}
		sort.Strings(actions)
		want := []string{"rds-db:connect"}
		if s.cfg.Backend.EnableExec {
			want = append(want, "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents",
				"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel")
			if s.cfg.Encryption.CustomerManagedKeys {
				want = append(want, "kms:Decrypt")
			}
		}
		sort.Strings(want)
		assert.Equal(t, want, actions, "%s: the task role's permissions", nameOf(s))
	}
}
