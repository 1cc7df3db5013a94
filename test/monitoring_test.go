package test

// Monitoring (issue 4): alarms, the alarm topic, deployment safety, the
// dashboard, ECS Exec session logging and the CloudFront alarm's region rule.
// Every test reads the shared dev/prod synth; the region and e-mail cases use
// one extra prod synth (monitoringPinnedSynth, ~2-3 s, built once on first use).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// monitoringPinnedRegion is a region other than CloudFront's metrics region.
const (
	monitoringPinnedRegion = "eu-west-1"
	monitoringAlarmEmail   = "oncall@example.com"
)

// monitoringPinnedSynth is prod pinned to an account in eu-west-1 with an
// alarm e-mail: the CloudFront alarm cannot exist there, and the topic gets
// a subscription.
func monitoringPinnedSynth(t *testing.T) *synth {
	return variant(t, "pinned", "prod", func(prod map[string]any) {
		prod["account"] = "123456789012"
		prod["region"] = monitoringPinnedRegion
		prod["availabilityZones"] = []any{monitoringPinnedRegion + "a", monitoringPinnedRegion + "b"}
		prod["monitoring"] = map[string]any{"alarmEmail": monitoringAlarmEmail}
	})
}

// alarmWant is one alarm the environment must have.
type alarmWant struct {
	part      string
	name      string // after the tsa-<env>- prefix
	threshold float64
	op        string
	missing   string
	periods   int
	metric    string // metric name, or a fragment of the metric math expression
	// conditional: the alarm exists only where the template condition holds.
	conditional bool
}

func alarmTable(cfg *config.Config) []alarmWant {
	mon := cfg.Monitoring
	p := mon.EvaluationPeriods
	tasks := max(5, p)
	return []alarmWant{
		{"compute", "alb-5xx-rate", mon.Alb5xxPercent, "GreaterThanThreshold", "notBreaching", p, "100 * FILL(elb5xx, 0) / MAX([FILL(albRequests, 0), FILL(elb5xx, 0)])", false},
		{"compute", "api-5xx-rate", mon.Target5xxPercent, "GreaterThanThreshold", "notBreaching", p, "100 * FILL(target5xx, 0) / FILL(tgRequests, 0)", false},
		{"compute", "api-latency-p99", mon.LatencyP99Seconds, "GreaterThanThreshold", "notBreaching", p, "TargetResponseTime", false},
		{"compute", "api-unhealthy-hosts", 0, "GreaterThanThreshold", "breaching", p, "UnHealthyHostCount", false},
		{"compute", "api-cpu", mon.ServiceCpuPercent, "GreaterThanThreshold", "notBreaching", p, "CPUUtilization", false},
		{"compute", "api-memory", mon.ServiceMemoryPercent, "GreaterThanThreshold", "notBreaching", p, "MemoryUtilization", false},
		{"compute", "api-tasks-below-minimum", float64(cfg.Backend.MinCount), "LessThanThreshold", "breaching", tasks, "HealthyHostCount", false},
		{"data", "db-cpu", mon.DbCpuPercent, "GreaterThanThreshold", "notBreaching", p, "CPUUtilization", false},
		{"data", "db-free-storage", mon.DbFreeStorageGiB * 1024 * 1024 * 1024, "LessThanThreshold", "ignore", p, "FreeStorageSpace", false},
		{"data", "db-freeable-memory", mon.DbFreeableMemoryMiB * 1024 * 1024, "LessThanThreshold", "ignore", p, "FreeableMemory", false},
		{"data", "db-connections", mon.DbConnections, "GreaterThanThreshold", "notBreaching", p, "DatabaseConnections", false},
		{"frontend", "cloudfront-5xx-rate", mon.CloudFront5xxPercent, "GreaterThanThreshold", "notBreaching", p, "5xxErrorRate", true},
	}
}

// alarmsByName indexes every alarm of an environment by AlarmName.
func alarmsByName(s *synth) map[string]struct {
	part string
	id   string
	res  map[string]any
} {
	out := map[string]struct {
		part string
		id   string
		res  map[string]any
	}{}
	for _, part := range s.parts() {
		for id, r := range resources(s.raw[part], "AWS::CloudWatch::Alarm") {
			name, _ := props(r)["AlarmName"].(string)
			out[name] = struct {
				part string
				id   string
				res  map[string]any
			}{part, id, r}
		}
	}
	return out
}

// isAlarmTopic reports whether an alarm action resolves to the network
// stack's alarm topic: a stack output of tsa-<env>-network whose value is a
// Ref to its only SNS topic.
func isAlarmTopic(t *testing.T, s *synth, action any) bool {
	t.Helper()
	topicID, _ := one(t, s.raw["network"], "AWS::SNS::Topic")
	ref, ok := action.(map[string]any)["Fn::GetStackOutput"].(map[string]any)
	if !ok || ref["StackName"] != s.cfg.StackName("network") {
		return false
	}
	out, ok := s.raw["network"]["Outputs"].(map[string]any)[ref["OutputName"].(string)].(map[string]any)
	return ok && jsonOf(out["Value"]) == jsonOf(m("Ref", topicID))
}

// TestMonitoringAlarms: each listed alarm exists with its threshold from
// config, a deliberate TreatMissingData, and the topic on ALARM and OK; no
// alarm exists that this table does not know.
func TestMonitoringAlarms(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := envs[env]
		t.Run(env, func(t *testing.T) {
			all := alarmsByName(s)
			want := alarmTable(s.cfg)
			known := map[string]bool{}
			for _, w := range want {
				name := fmt.Sprintf("%s-%s-%s", config.Project, env, w.name)
				known[name] = true
				t.Run(w.name, func(t *testing.T) {
					a, ok := all[name]
					if !assert.True(t, ok, "alarm %s is missing", name) {
						return
					}
					assert.Equal(t, w.part, a.part, "%s lives in the %s stack", name, w.part)
					p := props(a.res)
					assert.Equal(t, w.threshold, p["Threshold"], "threshold from config")
					assert.Equal(t, w.op, p["ComparisonOperator"])
					assert.Equal(t, w.missing, p["TreatMissingData"], "TreatMissingData is chosen per alarm")
					assert.Equal(t, float64(w.periods), p["EvaluationPeriods"])
					assert.Equal(t, float64(w.periods), p["DatapointsToAlarm"], "every evaluated minute must breach")
					if name, ok := p["MetricName"]; ok {
						assert.Equal(t, w.metric, name)
						assert.Equal(t, float64(60), p["Period"], "one-minute periods")
					} else {
						assert.Contains(t, jsonOf(p["Metrics"]), w.metric)
					}
					assert.Contains(t, p["AlarmDescription"], tsaconstructs.RunbookPath+"#"+w.name, "the description points at the runbook")
					for _, key := range []string{"AlarmActions", "OKActions"} {
						actions := asList(p[key])
						if assert.Len(t, actions, 1, "%s of %s", key, name) {
							assert.True(t, isAlarmTopic(t, s, actions[0]), "%s of %s notify the alarm topic, got %s", key, name, jsonOf(actions[0]))
						}
					}
					_, conditional := a.res["Condition"]
					assert.Equal(t, w.conditional, conditional, "template condition on %s", name)
				})
			}
			var unknown []string
			for name := range all {
				if !known[name] {
					unknown = append(unknown, name)
				}
			}
			sort.Strings(unknown)
			assert.Empty(t, unknown, "alarms missing from alarmTable (add them with their thresholds)")
		})
	}
}

// TestMonitoringAlarmTopic: the topic is KMS-encrypted with a rotating
// customer-managed key CloudWatch may use, refuses requests without TLS,
// admits this account's alarms, and is an output of the first stack.
func TestMonitoringAlarmTopic(t *testing.T) {
	s := envs["prod"]
	net := s.raw["network"]
	_, topic := one(t, net, "AWS::SNS::Topic")
	tp := props(topic)
	assert.Equal(t, "tsa-prod-alarms", tp["TopicName"])

	keyRef := tp["KmsMasterKeyId"].(map[string]any)["Fn::GetAtt"].([]any)
	key := net["Resources"].(map[string]any)[keyRef[0].(string)].(map[string]any)
	assert.Equal(t, "AWS::KMS::Key", key["Type"], "a customer-managed key, not alias/aws/sns")
	kp := props(key)
	assert.Equal(t, true, kp["EnableKeyRotation"])
	assert.Equal(t, "Retain", key["DeletionPolicy"], "prod keeps the key that decrypts its kept exec session logs")
	policy := jsonOf(kp["KeyPolicy"])
	assert.Contains(t, policy, `"Principal":{"Service":"cloudwatch.amazonaws.com"}`)
	assert.Contains(t, policy, `"kms:GenerateDataKey*"`)

	_, topicPolicy := one(t, net, "AWS::SNS::TopicPolicy")
	statements := asList(props(topicPolicy)["PolicyDocument"].(map[string]any)["Statement"])
	var tlsDeny, cloudwatchAllow bool
	for _, st := range statements {
		sm := st.(map[string]any)
		text := jsonOf(sm)
		if sm["Effect"] == "Deny" && strings.Contains(text, `"aws:SecureTransport":"false"`) {
			tlsDeny = true
		}
		if sm["Effect"] == "Allow" && strings.Contains(text, `"Service":"cloudwatch.amazonaws.com"`) && strings.Contains(text, `"aws:SourceAccount"`) {
			cloudwatchAllow = true
		}
	}
	assert.True(t, tlsDeny, "the topic policy denies requests without TLS")
	assert.True(t, cloudwatchAllow, "the topic policy admits this account's CloudWatch alarms")

	assert.Contains(t, net["Outputs"], "AlarmTopicArn")
	assert.Empty(t, resources(net, "AWS::SNS::Subscription"), "no monitoring.alarmEmail, no subscription")

	pinned := monitoringPinnedSynth(t)
	_, sub := one(t, pinned.raw["network"], "AWS::SNS::Subscription")
	assert.Equal(t, "email", props(sub)["Protocol"])
	assert.Equal(t, monitoringAlarmEmail, props(sub)["Endpoint"])
}

// TestMonitoringDeploymentSafety: a deployment rolls back when the API 5xx or
// latency alarm fires, on top of the circuit breaker, with the rollout and
// health settings the runbook documents.
func TestMonitoringDeploymentSafety(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		s := envs[env]
		t.Run(env, func(t *testing.T) {
			compute := s.raw["compute"]
			_, svc := one(t, compute, "AWS::ECS::Service")
			sp := props(svc)
			dc := sp["DeploymentConfiguration"].(map[string]any)
			assert.Equal(t, m("Enable", true, "Rollback", true), dc["DeploymentCircuitBreaker"])
			alarms, _ := dc["Alarms"].(map[string]any)
			if assert.NotNil(t, alarms, "deployment alarms") {
				assert.Equal(t, true, alarms["Enable"])
				assert.Equal(t, true, alarms["Rollback"], "ROLLBACK_ON_ALARM")
				var names []string
				for _, ref := range asList(alarms["AlarmNames"]) {
					id := ref.(map[string]any)["Ref"].(string)
					names = append(names, props(compute["Resources"].(map[string]any)[id].(map[string]any))["AlarmName"].(string))
				}
				assert.ElementsMatch(t, []string{"tsa-" + env + "-api-5xx-rate", "tsa-" + env + "-api-latency-p99"}, names)
			}
			assert.Equal(t, float64(100), dc["MinimumHealthyPercent"])
			assert.Equal(t, float64(200), dc["MaximumPercent"])
			assert.Equal(t, float64(60), sp["HealthCheckGracePeriodSeconds"])

			_, task := serviceTaskDefinition(t, compute)
			c := asList(props(task)["ContainerDefinitions"])[0].(map[string]any)
			assert.NotNil(t, c["HealthCheck"], "container health check")
			_, tg := one(t, compute, "AWS::ElasticLoadBalancingV2::TargetGroup")
			assert.Contains(t, jsonOf(props(tg)["TargetGroupAttributes"]), `{"Key":"deregistration_delay.timeout_seconds","Value":"15"}`)
		})
	}
}

// dashboardBody renders a dashboard's Fn::Join body with every reference
// replaced by the string REF, and parses it.
func dashboardBody(t *testing.T, body any) map[string]any {
	t.Helper()
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case map[string]any:
			if join, ok := x["Fn::Join"].([]any); ok && join[0] == "" {
				for _, part := range join[1].([]any) {
					walk(part)
				}
				return
			}
			b.WriteString("REF")
		default:
			t.Fatalf("unexpected dashboard body part %v", v)
		}
	}
	walk(body)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(b.String()), &out), "dashboard body is JSON")
	return out
}

// TestMonitoringDashboard: prod has the dashboard with every listed widget and
// the CloudFront additional metrics its cache hit rate needs; dev has neither
// (monitoring.dashboard is off there).
func TestMonitoringDashboard(t *testing.T) {
	assert.Empty(t, resources(envs["dev"].raw["frontend"], "AWS::CloudWatch::Dashboard"), "dev: monitoring.dashboard is off")
	assert.Empty(t, resources(envs["dev"].raw["frontend"], "AWS::CloudFront::MonitoringSubscription"), "dev: no paid additional metrics without a dashboard")

	s := envs["prod"]
	require.True(t, s.cfg.Monitoring.Dashboard)
	front := s.raw["frontend"]
	_, dash := one(t, front, "AWS::CloudWatch::Dashboard")
	assert.Equal(t, "tsa-prod", props(dash)["DashboardName"])
	body := dashboardBody(t, props(dash)["DashboardBody"])

	widgets := map[string]string{}
	var alarmArns int
	for _, w := range asList(body["widgets"]) {
		wm := w.(map[string]any)
		p := wm["properties"].(map[string]any)
		title, _ := p["title"].(string)
		widgets[title] = jsonOf(p)
		if wm["type"] == "alarm" {
			alarmArns = len(asList(p["alarms"]))
		}
	}
	// Each widget, and a metric it must graph.
	for title, metrics := range map[string][]string{
		tsaconstructs.WidgetAlarms:             nil,
		tsaconstructs.WidgetRequests:           {`"AWS/ApplicationELB","RequestCount"`, `"AWS/CloudFront","Requests"`},
		tsaconstructs.WidgetLatency:            {`"stat":"p50"`, `"stat":"p90"`, `"stat":"p99"`, `"TargetResponseTime"`},
		tsaconstructs.WidgetErrorRates:         {`HTTPCode_ELB_5XX_Count`, `HTTPCode_Target_5XX_Count`, `"5xxErrorRate"`},
		tsaconstructs.WidgetTasks:              {`"RunningTaskCount"`, `"DesiredTaskCount"`, `"HealthyHostCount"`},
		tsaconstructs.WidgetServiceUtilization: {`"AWS/ECS","CPUUtilization"`, `"AWS/ECS","MemoryUtilization"`},
		tsaconstructs.WidgetDatabaseCpu:        {`"AWS/RDS","CPUUtilization"`},
		tsaconstructs.WidgetDatabaseStorage:    {`"FreeStorageSpace"`},
		tsaconstructs.WidgetDatabaseConns:      {`"AWS/RDS","DatabaseConnections"`},
		tsaconstructs.WidgetDatabaseMemory:     {`"FreeableMemory"`},
		tsaconstructs.WidgetCdnRequests:        {`"AWS/CloudFront","Requests"`},
		tsaconstructs.WidgetCdnCacheHitRate:    {`"AWS/CloudFront","CacheHitRate"`},
		tsaconstructs.WidgetCdnErrorRates:      {`"4xxErrorRate"`, `"5xxErrorRate"`},
	} {
		w, ok := widgets[title]
		if !assert.True(t, ok, "dashboard widget %q", title) {
			continue
		}
		for _, metric := range metrics {
			assert.Contains(t, w, metric, "widget %q", title)
		}
	}
	assert.Contains(t, widgets[tsaconstructs.WidgetCdnCacheHitRate], `"region":"us-east-1"`, "CloudFront metrics are read from us-east-1 wherever the dashboard is")
	assert.Equal(t, len(alarmTable(s.cfg))-1, alarmArns, "the alarm widget shows every alarm but the region-conditional CloudFront one")

	_, sub := one(t, front, "AWS::CloudFront::MonitoringSubscription")
	assert.Equal(t, m("RealtimeMetricsSubscriptionConfig", m("RealtimeMetricsSubscriptionStatus", "Enabled")), props(sub)["MonitoringSubscription"])
	assert.Contains(t, front["Outputs"], "DashboardName")
}

// TestMonitoringExecLogging: ECS Exec sessions are logged to their own group
// with the configured retention, kept in prod, whether or not ECS Exec is on;
// with customer-managed keys (prod) the sessions and the group are encrypted
// with the audit's own key in the compute stack, not the alarm topic's.
func TestMonitoringExecLogging(t *testing.T) {
	for _, s := range []*synth{envs["dev"], envs["prod"], execSynth(t, "dev"), execSynth(t, "prod")} {
		t.Run(s.cfg.Name+map[bool]string{true: "-exec", false: ""}[s.cfg.Backend.EnableExec], func(t *testing.T) {
			cmk := s.cfg.Encryption.CustomerManagedKeys
			compute := s.raw["compute"]
			_, cluster := one(t, compute, "AWS::ECS::Cluster")
			exec := props(cluster)["Configuration"].(map[string]any)["ExecuteCommandConfiguration"].(map[string]any)
			assert.Equal(t, "OVERRIDE", exec["Logging"])
			logCfg := exec["LogConfiguration"].(map[string]any)
			assert.Equal(t, cmk, logCfg["CloudWatchEncryptionEnabled"] == true)
			groupID := logCfg["CloudWatchLogGroupName"].(map[string]any)["Ref"].(string)
			group := compute["Resources"].(map[string]any)[groupID].(map[string]any)
			assert.Equal(t, "AWS::Logs::LogGroup", group["Type"])
			assert.Equal(t, float64(s.cfg.Monitoring.ExecSessionLogDays), props(group)["RetentionInDays"])
			if cmk {
				keyID, key := named(t, compute, "AWS::KMS::Key", "ExecAuditKey")
				assert.Equal(t, m("Fn::GetAtt", []any{keyID, "Arn"}), exec["KmsKeyId"], "sessions are encrypted with the audit key")
				assert.Equal(t, m("Fn::GetAtt", []any{keyID, "Arn"}), props(group)["KmsKeyId"], "the session log group is encrypted with the audit key")
				assert.Equal(t, true, props(key)["EnableKeyRotation"])
				assert.Contains(t, jsonOf(props(key)["KeyPolicy"]), `"kms:EncryptionContext:aws:logs:arn"`, "CloudWatch Logs may use the key for this account's groups only")
			} else {
				assert.Nil(t, exec["KmsKeyId"], "no customer-managed key: the channel is TLS only")
				assert.Nil(t, props(group)["KmsKeyId"], "CloudWatch Logs' own encryption at rest")
				assert.Empty(t, resources(compute, "AWS::KMS::Key"))
			}
			assert.NotContains(t, jsonOf(exec), "tsa-"+s.cfg.Name+"-network", "the alarm topic's key does not serve the audit")
			if s.cfg.Production() {
				assert.Equal(t, "Retain", group["DeletionPolicy"])
			} else {
				assert.Equal(t, "Delete", group["DeletionPolicy"])
			}
			assert.Contains(t, compute["Outputs"], "ExecLogGroupName")
			_, svc := one(t, compute, "AWS::ECS::Service")
			assert.Equal(t, s.cfg.Backend.EnableExec, props(svc)["EnableExecuteCommand"] == true)

			_, key := one(t, s.raw["network"], "AWS::KMS::Key")
			assert.Equal(t, "Encrypts alarm notifications", props(key)["Description"])
		})
	}
	assert.False(t, envs["dev"].cfg.Backend.EnableExec, "ECS Exec is break-glass: off by default")
	assert.False(t, envs["prod"].cfg.Backend.EnableExec, "ECS Exec is break-glass: off by default")
}

// TestMonitoringCloudFrontAlarmRegion: CloudFront metrics exist only in
// us-east-1. An environment-agnostic stack gets the alarm under a condition
// that holds there; a stack pinned elsewhere gets none, and a warning.
func TestMonitoringCloudFrontAlarmRegion(t *testing.T) {
	s := envs["prod"]
	front := s.raw["frontend"]
	a := alarmsByName(s)["tsa-prod-cloudfront-5xx-rate"]
	require.NotNil(t, a.res)
	cond := a.res["Condition"].(string)
	assert.Equal(t, m("Fn::Equals", []any{m("Ref", "AWS::Region"), tsaconstructs.CloudFrontMetricsRegion}),
		front["Conditions"].(map[string]any)[cond])
	assert.Contains(t, jsonOf(props(a.res)["Dimensions"]), `{"Name":"Region","Value":"Global"}`)

	pinned := monitoringPinnedSynth(t)
	_, ok := alarmsByName(pinned)["tsa-prod-cloudfront-5xx-rate"]
	assert.False(t, ok, "no CloudFront alarm in a stack pinned to %s", monitoringPinnedRegion)
	var warnings []string
	for _, e := range *pinned.platform.Frontend.Alarms.Node().Metadata() {
		if msg := fmt.Sprint(e.Data); *e.Type == "aws:cdk:warning" && strings.Contains(msg, "no CloudFront 5xx alarm") {
			warnings = append(warnings, msg)
		}
	}
	if assert.Len(t, warnings, 1, "a warning explains the missing alarm") {
		assert.Contains(t, warnings[0], "pinned to "+monitoringPinnedRegion)
	}
	_, dash := one(t, pinned.raw["frontend"], "AWS::CloudWatch::Dashboard")
	assert.Contains(t, jsonOf(props(dash)["DashboardBody"]), `\"region\":\"us-east-1\"`, "the dashboard still graphs CloudFront from us-east-1")
	assert.Len(t, alarmsByName(pinned), len(alarmTable(pinned.cfg))-1, "every other alarm exists in the pinned environment")
}

// TestMonitoringRunbook: every alarm any data tier's templates create has
// its runbook entry (the alarm descriptions link to it): a "### name"
// section for the named alarms, and for the TimescaleDB host's alarms, whose
// names CloudFormation generates, a "#### Metric" entry in their section.
// Every alarm-named section describes an alarm that exists.
func TestMonitoringRunbook(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, tsaconstructs.RunbookPath))
	require.NoError(t, err)
	text := string(data)
	_, alarmsSection, ok := strings.Cut(text, "\n## Alarms\n")
	require.True(t, ok, "the runbook has an Alarms section")
	hostSection := ""
	if _, after, ok := strings.Cut(alarmsSection, "\n### TimescaleDB host alarms"); ok {
		hostSection = after
	}

	names := map[string]bool{}
	for _, s := range []*synth{envs["dev"], envs["prod"], timescaleSynth(t, "dev"), timescaleSynth(t, "prod"), externalSynth(t, "prod")} {
		prefix := fmt.Sprintf("%s-%s-", config.Project, s.cfg.Name)
		for _, part := range s.parts() {
			for id, r := range resources(s.raw[part], "AWS::CloudWatch::Alarm") {
				p := props(r)
				if name, ok := p["AlarmName"].(string); ok {
					short := strings.TrimPrefix(name, prefix)
					names[short] = true
					assert.Contains(t, alarmsSection, "\n### "+short+"\n", "runbook section for alarm %s", name)
					continue
				}
				metric, _ := p["MetricName"].(string)
				assert.Regexp(t, `(?m)^#### `+regexp.QuoteMeta(metric)+` `, hostSection,
					"runbook entry in the TimescaleDB host alarms for %s/%s (metric %s)", part, id, metric)
			}
		}
	}
	require.NotEmpty(t, names)
	for _, mt := range regexp.MustCompile(`(?m)^### ([a-z0-9-]+)$`).FindAllStringSubmatch(alarmsSection, -1) {
		assert.True(t, names[mt[1]], "the runbook describes alarm %s, which no template creates", mt[1])
	}
}
