package test

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
)

const externalSecretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tsa/timescale-cloud-AbCdEf"

// externalSynth is env with database.engine external: dev allowed by CIDR,
// prod by security group.
func externalSynth(t *testing.T, env string) *synth {
	return variant(t, "external", env, func(settings map[string]any) {
		ext := map[string]any{"secretArn": externalSecretArn, "port": 5433}
		if env == "dev" {
			ext["cidr"] = "10.50.0.0/24"
		} else {
			ext["securityGroupId"] = "sg-0123456789abcdef0"
		}
		settings["database"] = map[string]any{"engine": config.EngineExternal, "external": ext}
	})
}

// TestExternalDatabase: nothing is created for a database this project does
// not own; the service gets its secret and a network path to it.
func TestExternalDatabase(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := externalSynth(t, env)
		t.Run(env, func(t *testing.T) {
			require.NoError(t, s.err)
			data := s.raw["data"]
			for id, r := range data["Resources"].(map[string]any) {
				assert.Equal(t, "AWS::SSM::Parameter", r.(map[string]any)["Type"], "the data stack creates %s for an external database", id)
			}
			assert.Equal(t, externalSecretArn, data["Outputs"].(map[string]any)["DatabaseSecretArn"].(map[string]any)["Value"])

			compute := s.raw["compute"]
			_, task := one(t, compute, "AWS::ECS::TaskDefinition")
			c := asList(props(task)["ContainerDefinitions"])[0].(map[string]any)
			for _, sec := range asList(c["Secrets"]) {
				sm := sec.(map[string]any)
				if name := sm["Name"].(string); name != "API_KEY" {
					assert.Contains(t, jsonOf(sm["ValueFrom"]), externalSecretArn, "%s comes from the external secret", name)
				}
			}
			assert.Contains(t, jsonOf(c["Environment"]), `"SCHEMA_MODE","Value":"plain"`)

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
			want := `"CidrIp":"10.50.0.0/24"`
			if env == "prod" {
				want = `"DestinationSecurityGroupId":"sg-0123456789abcdef0"`
			}
			var found bool
			for _, e := range egress {
				if strings.Contains(e, want) && strings.Contains(e, `"FromPort":5433`) {
					found = true
				}
			}
			assert.True(t, found, "egress from the tasks to the external database on 5433; got %v", egress)
		})
	}
}

// TestComputeIsEngineAgnostic: whichever engine backs the Database value, the
// compute stack has the same resource types and injects the same secrets.
func TestComputeIsEngineAgnostic(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		base := shape(envs[env].raw["compute"])
		assert.Contains(t, base.secrets, "DB_PASSWORD")
		ts := shape(timescaleSynth(t, env).raw["compute"])
		assert.Equal(t, base.secrets, ts.secrets, "%s: same container secrets with timescaledb", env)
		assert.Equal(t, base.types, ts.types, "%s: compute resources do not depend on the engine", env)
		ext := shape(externalSynth(t, env).raw["compute"])
		assert.Equal(t, base.secrets, ext.secrets, "%s: same container secrets with an external database", env)
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
		if typ == "AWS::ECS::TaskDefinition" {
			for _, c := range asList(props(r.(map[string]any))["ContainerDefinitions"]) {
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
