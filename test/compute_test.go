package test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompute(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := envs[env]
		b := s.cfg.Backend
		prod := s.cfg.Production()
		tpl := s.templates["compute"]
		raw := s.raw["compute"]
		t.Run(env, func(t *testing.T) {
			insights := map[bool]string{true: "enabled", false: "disabled"}[s.cfg.Monitoring.ContainerInsights]
			hasResource(t, tpl, "AWS::ECS::Cluster", m("ClusterSettings", []any{m("Name", "containerInsights", "Value", insights)}))

			_, task := serviceTaskDefinition(t, raw)
			tp := props(task)
			assert.Equal(t, fmt.Sprint(b.Cpu), tp["Cpu"])
			assert.Equal(t, fmt.Sprint(b.MemoryMiB), tp["Memory"])
			assert.Equal(t, m("CpuArchitecture", b.CpuArchitecture, "OperatingSystemFamily", "LINUX"), tp["RuntimePlatform"])
			containers := tp["ContainerDefinitions"].([]any)
			require.Len(t, containers, 1)
			c := containers[0].(map[string]any)
			assert.Equal(t, []any{m("ContainerPort", float64(b.Port), "Protocol", "tcp")}, c["PortMappings"])
			assert.Equal(t, []any{"CMD", "/app", "-healthcheck"}, c["HealthCheck"].(map[string]any)["Command"], "container health check without a shell")

			// Where the database is, as plain values; the application role
			// logs in with IAM tokens (RDS), so its only secrets are the API keys.
			env, secrets := containerEnv(c)
			assert.Contains(t, jsonOf(env["DB_HOST"]), "-data", "DB_HOST is the data stack's endpoint")
			assert.Equal(t, "5432", env["DB_PORT"])
			assert.Equal(t, s.cfg.Database.DatabaseName, env["DB_NAME"])
			assert.Equal(t, "tsa_app", env["DB_USER"])
			assert.Equal(t, "true", env["DB_IAM_AUTH"])
			assert.Equal(t, m("Ref", "AWS::Region"), env["AWS_REGION"])
			assert.Equal(t, []string{"API_KEY", "API_KEY_PREVIOUS"}, keys(secrets))
			plainSecret := regexp.MustCompile(`(?i)pass|secret|key|token|credential`)
			for name := range env {
				assert.False(t, plainSecret.MatchString(name), "environment variable %s looks like a secret; use ECS secrets", name)
			}

			_, svc := one(t, raw, "AWS::ECS::Service")
			sp := props(svc)
			dc := sp["DeploymentConfiguration"].(map[string]any)
			assert.Equal(t, m("Enable", true, "Rollback", true), dc["DeploymentCircuitBreaker"])
			assert.EqualValues(t, 100, dc["MinimumHealthyPercent"])
			assert.EqualValues(t, 200, dc["MaximumPercent"])
			assert.EqualValues(t, b.DesiredCount, sp["DesiredCount"])
			assert.EqualValues(t, 60, sp["HealthCheckGracePeriodSeconds"])
			vpcCfg := sp["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
			if s.cfg.Network.NatGateways > 0 {
				assert.Equal(t, "DISABLED", vpcCfg["AssignPublicIp"], "tasks have no public IP")
				assert.Contains(t, jsonOf(vpcCfg["Subnets"]), "appSubnet", "tasks run in the private app subnets")
			} else {
				// Without NAT (the cheap dev profile) tasks reach AWS APIs through a
				// public IP; their security group still admits only the ALB.
				assert.Equal(t, "ENABLED", vpcCfg["AssignPublicIp"])
				assert.Contains(t, jsonOf(vpcCfg["Subnets"]), "publicSubnet")
			}
			assert.Equal(t, b.Spot, jsonOf(sp["CapacityProviderStrategy"]) == `[{"CapacityProvider":"FARGATE_SPOT","Weight":1}]`, "Fargate Spot only where configured")
			assert.Equal(t, b.EnableExec, sp["EnableExecuteCommand"] == true)

			hasResource(t, tpl, "AWS::Logs::LogGroup", m("RetentionInDays", b.LogRetentionDays))

			_, alb := one(t, raw, "AWS::ElasticLoadBalancingV2::LoadBalancer")
			ap := props(alb)
			assert.Equal(t, "internal", ap["Scheme"], "the ALB is reached only through CloudFront's VPC origin")
			attrs := map[string]any{}
			for _, a := range ap["LoadBalancerAttributes"].([]any) {
				am := a.(map[string]any)
				attrs[am["Key"].(string)] = am["Value"]
			}
			assert.Equal(t, fmt.Sprint(prod), attrs["deletion_protection.enabled"])
			assert.Equal(t, "true", attrs["routing.http.drop_invalid_header_fields.enabled"])
			assert.Equal(t, "true", attrs["access_logs.s3.enabled"])

			// Ingress: the tasks from the ALB only, the database from the tasks
			// only (the ALB's own rules: deploy_test.go).
			for id, sg := range resources(raw, "AWS::EC2::SecurityGroup") {
				assert.NotContains(t, jsonOf(props(sg)), "0.0.0.0/0\",\"Description\":\"Allow all", "%s: no allow-all egress", id)
			}
			var albRule bool
			dbRules := map[string]bool{}
			for _, r := range resources(raw, "AWS::EC2::SecurityGroupIngress") {
				p := props(r)
				assert.NotContains(t, p, "CidrIp", "no CIDR ingress")
				if regexp.MustCompile(`DatabaseSecurityGroup|PostgresInstanceSecurityGroup`).MatchString(jsonOf(p["GroupId"])) {
					source := regexp.MustCompile(`"(ApiSecurityGroup|MigrationSecurityGroup)[0-9A-F]{8}"`).FindStringSubmatch(jsonOf(p["SourceSecurityGroupId"]))
					if assert.NotNil(t, source, "only the API tasks and the migration task reach the database: %s", jsonOf(p["SourceSecurityGroupId"])) {
						dbRules[source[1]] = true
					}
				}
				if regexp.MustCompile(`LoadBalancerSecurityGroup`).MatchString(jsonOf(p["SourceSecurityGroupId"])) {
					albRule = true
					assert.Contains(t, jsonOf(p["GroupId"]), "ApiSecurityGroup", "the ALB reaches the tasks")
					assert.EqualValues(t, b.Port, p["FromPort"])
				}
			}
			assert.Equal(t, map[string]bool{"ApiSecurityGroup": true, "MigrationSecurityGroup": true}, dbRules, "the compute stack opens the database port to the API tasks and the migration task")
			assert.True(t, albRule, "the ALB reaches the tasks on the container port")

			hasResource(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup", m(
				"HealthCheckPath", b.HealthCheckPath,
				"Matcher", m("HttpCode", "200"),
				"TargetGroupAttributes", assertions.Match_ArrayWith(&[]any{m("Key", "deregistration_delay.timeout_seconds", "Value", "15")}),
			))
			hasResource(t, tpl, "AWS::ApplicationAutoScaling::ScalableTarget", m("MinCapacity", b.MinCount, "MaxCapacity", b.MaxCount))
			hasResource(t, tpl, "AWS::ApplicationAutoScaling::ScalingPolicy", m("TargetTrackingScalingPolicyConfiguration", assertions.Match_ObjectLike(&map[string]any{
				"PredefinedMetricSpecification": m("PredefinedMetricType", "ECSServiceAverageCPUUtilization"),
				"TargetValue":                   b.TargetCpuPercent,
			})))
			hasResource(t, tpl, "AWS::ApplicationAutoScaling::ScalingPolicy", m("TargetTrackingScalingPolicyConfiguration", assertions.Match_ObjectLike(&map[string]any{
				"PredefinedMetricSpecification": assertions.Match_ObjectLike(&map[string]any{"PredefinedMetricType": "ALBRequestCountPerTarget"}),
				"TargetValue":                   b.RequestsPerTarget,
			})))

			_, apiKey := one(t, raw, "AWS::SecretsManager::Secret")
			assert.Contains(t, props(apiKey), "GenerateSecretString", "the API key is generated, never written in the template")
		})
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
