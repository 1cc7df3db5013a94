package test

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
)

const (
	externalSecretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tsa/timescale-cloud-AbCdEf"
	externalHost      = "abc123.tsdb.cloud.timescale.com"
)

// externalSynth is env with database.engine external: dev allowed by CIDR,
// prod by security group.
func externalSynth(t *testing.T, env string) *synth {
	return variant(t, "external", env, func(settings map[string]any) {
		ext := map[string]any{"secretArn": externalSecretArn, "port": 5433, "host": externalHost}
		if env == "dev" {
			ext["cidr"] = "10.50.0.0/24"
		} else {
			ext["securityGroupId"] = "sg-0123456789abcdef0"
		}
		settings["database"] = map[string]any{"engine": config.EngineExternal, "external": ext}
	})
}

// TestExternalDatabase: for a database this project does not own the data
// stack creates only the application role's secret (and, with
// customer-managed keys, the key it is encrypted with) and a record of the
// administrator's secret; the migration task reads that secret, the service
// gets the host as a plain value, its own role's secret and a network path.
func TestExternalDatabase(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := externalSynth(t, env)
		t.Run(env, func(t *testing.T) {
			require.NoError(t, s.err)
			data := s.raw["data"]
			var types []string
			for _, r := range data["Resources"].(map[string]any) {
				types = append(types, r.(map[string]any)["Type"].(string))
			}
			sort.Strings(types)
			want := []string{"AWS::SSM::Parameter", "AWS::SecretsManager::Secret"}
			if s.cfg.Encryption.CustomerManagedKeys {
				want = []string{"AWS::KMS::Alias", "AWS::KMS::Key", "AWS::SSM::Parameter", "AWS::SecretsManager::Secret"}
			}
			assert.Equal(t, want, types, "what the data stack creates for an external database")
			assert.Equal(t, externalSecretArn, data["Outputs"].(map[string]any)["DatabaseSecretArn"].(map[string]any)["Value"])

			compute := s.raw["compute"]
			_, task := serviceTaskDefinition(t, compute)
			c := asList(props(task)["ContainerDefinitions"])[0].(map[string]any)
			vars, secrets := containerEnv(c)
			assert.Equal(t, externalHost, vars["DB_HOST"], "the host is a plain value: the service never reads the administrator's secret")
			assert.Equal(t, "5433", vars["DB_PORT"])
			assert.Equal(t, "plain", vars["SCHEMA_MODE"])
			for name, from := range secrets {
				assert.NotContains(t, from, externalSecretArn, "%s must not come from the administrator's secret", name)
			}
			for _, name := range []string{"DB_USER", "DB_PASSWORD"} {
				assert.Contains(t, secrets[name], "-data", "%s comes from the data stack's application role secret", name)
			}
			assert.Equal(t, config.ExternalCASystem, s.cfg.Database.External.CACertificate)
			assert.Equal(t, "/etc/ssl/certs/ca-certificates.crt", vars["DB_SSLROOTCERT"], "system: the image's public CA bundle")

			_, migration := named(t, compute, "AWS::ECS::TaskDefinition", "MigrationTaskDef")
			_, msecrets := containerEnv(asList(props(migration)["ContainerDefinitions"])[0].(map[string]any))
			for _, name := range []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"} {
				assert.Contains(t, msecrets[name], externalSecretArn, "the migration task reads %s from the administrator's secret", name)
			}

			// The tasks may reach the database port and nothing else new.
			var egress []string
			for _, r := range resources(compute, "AWS::EC2::SecurityGroupEgress") {
				egress = append(egress, jsonOf(props(r)))
			}
			for _, sg := range resources(compute, "AWS::EC2::SecurityGroup") {
				for _, e := range asList(props(sg)["SecurityGroupEgress"]) {
					egress = append(egress, jsonOf(e))
				}
			}
			want1 := `"CidrIp":"10.50.0.0/24"`
			if env == "prod" {
				want1 = `"DestinationSecurityGroupId":"sg-0123456789abcdef0"`
			}
			var found bool
			for _, e := range egress {
				if strings.Contains(e, want1) && strings.Contains(e, `"FromPort":5433`) {
					found = true
				}
			}
			assert.True(t, found, "egress from the tasks to the external database on 5433; got %v", egress)
		})
	}
}

// TestComputeIsEngineAgnostic: whichever engine backs the Database value, the
// compute stack has the same kinds of resources; the service's secrets differ
// only in the application role's login (IAM tokens on RDS, a password
// elsewhere) and the CA of a self-managed host.
func TestComputeIsEngineAgnostic(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		base := shape(envs[env].raw["compute"])
		assert.Equal(t, []string{"API_KEY", "API_KEY_PREVIOUS"}, base.secrets, "%s: RDS: IAM authentication, no database secret", env)
		ts := shape(timescaleSynth(t, env).raw["compute"])
		assert.Equal(t, []string{"API_KEY", "API_KEY_PREVIOUS", "DB_PASSWORD", "DB_SSLROOTCERT_PEM", "DB_USER"}, ts.secrets, "%s: timescaledb: the application role's password and the host's CA", env)
		// The one difference: on RDS the task role's policy grants rds-db:connect;
		// elsewhere the task role has no permission (ECS Exec is off).
		assert.Equal(t, withoutOne(base.types, "AWS::IAM::Policy"), ts.types, "%s: compute resources do not depend on the engine", env)
		ext := shape(externalSynth(t, env).raw["compute"])
		assert.Equal(t, []string{"API_KEY", "API_KEY_PREVIOUS", "DB_PASSWORD", "DB_USER"}, ext.secrets, "%s: external: the application role's password", env)
		// An external database reached by CIDR needs only an egress rule.
		assert.Subset(t, base.types, ext.types, "%s: no new kind of resource for an external database", env)
	}
}

// computeShape is what a compute stack is made of: its resource types (one
// entry per resource) and the secrets its container receives, both sorted.
type computeShape struct {
	types   []string
	secrets []string
}

func shape(tpl map[string]any) computeShape {
	var s computeShape
	for _, r := range tpl["Resources"].(map[string]any) {
		typ := r.(map[string]any)["Type"].(string)
		s.types = append(s.types, typ) // one entry per resource: counts matter
		if typ == "AWS::ECS::Service" {
			ref := props(r.(map[string]any))["TaskDefinition"].(map[string]any)["Ref"].(string)
			td := tpl["Resources"].(map[string]any)[ref].(map[string]any)
			for _, c := range asList(props(td)["ContainerDefinitions"]) {
				for _, sec := range asList(c.(map[string]any)["Secrets"]) {
					s.secrets = append(s.secrets, sec.(map[string]any)["Name"].(string))
				}
			}
		}
	}
	sort.Strings(s.types)
	sort.Strings(s.secrets)
	return s
}

// TestTimescaleAlarmsNotify: the TimescaleDB host's alarms reach the
// environment's alarm topic like every other alarm.
func TestTimescaleAlarmsNotify(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		alarms := resources(timescaleSynth(t, env).raw["data"], "AWS::CloudWatch::Alarm")
		require.NotEmpty(t, alarms)
		for id, a := range alarms {
			assert.Contains(t, jsonOf(props(a)["AlarmActions"]), "AlarmTopic", "%s %s notifies the alarm topic", env, id)
			assert.Contains(t, jsonOf(props(a)["OKActions"]), "AlarmTopic", "%s %s reports recovery", env, id)
		}
	}
}

// withoutOne is list without one occurrence of v.
func withoutOne(list []string, v string) []string {
	out := append([]string(nil), list...)
	for i, x := range out {
		if x == v {
			return append(out[:i], out[i+1:]...)
		}
	}
	return out
}
