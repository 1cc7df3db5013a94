package test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/cost"
)

// devIdleBudget is what one developer environment may cost per month while
// nobody uses it (us-east-1 on-demand list prices, cost/prices.json), idle
// floors included.
const devIdleBudget = 40.0

// idleCost prices an environment's synthesized templates with cmd/cost's
// estimator.
func idleCost(t *testing.T, env string) cost.Report {
	t.Helper()
	prices, err := cost.DefaultPrices()
	require.NoError(t, err)
	stacks, err := cost.LoadEnv(envs[env].outdir, env)
	require.NoError(t, err)
	return cost.Estimate(env, stacks, prices)
}

// linesOf returns the priced lines whose price key is key.
func linesOf(rep cost.Report, key string) []cost.Line {
	var out []cost.Line
	for _, s := range rep.Stacks {
		for _, l := range s.Lines {
			if l.PriceKey == key {
				out = append(out, l)
			}
		}
	}
	return out
}

func floorOf(t *testing.T, rep cost.Report, key, item string) (cost.Line, bool) {
	t.Helper()
	for _, l := range linesOf(rep, key) {
		if strings.Contains(l.Item, item) {
			assert.True(t, l.Floor, "%s is an idle floor", l.Item)
			return l, true
		}
	}
	return cost.Line{}, false
}

// TestIdleCost: dev stays within its budget with every idle charge counted,
// nothing goes unpriced, and nothing billed while idle hides among the
// usage-based resources.
func TestIdleCost(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			rep := idleCost(t, env)
			assert.Zero(t, rep.NotPriced, "%s has resources the estimator cannot price: extend cost/prices.json or its lists", env)
			assert.Positive(t, rep.FloorUSD, "the idle floors are part of the total")
			assert.LessOrEqual(t, rep.MonthlyLowUSD, rep.MonthlyUSD)
			for _, s := range rep.Stacks {
				for _, u := range s.UsageBased {
					switch u.Type {
					case "AWS::EC2::FlowLog", "AWS::ECS::Cluster", "AWS::RDS::DBInstance", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::S3::Bucket", "AWS::ECR::Repository":
						t.Errorf("%s %s bills while idle but is filed as usage-based: %s", u.Type, u.LogicalID, u.Reason)
					}
				}
			}
			t.Logf("%s idle estimate: %.2f USD/month (best case %.2f), idle floors %.2f", env, rep.MonthlyUSD, rep.MonthlyLowUSD, rep.FloorUSD)
			if env == "dev" {
				assert.LessOrEqual(t, rep.MonthlyUSD, devIdleBudget, "the dev profile idles above its budget")
			}
		})
	}
}

// TestIdleFloors pins each floor to what the configuration enables, with the
// quantities worked out from the configuration and the assumptions in
// cost/prices.json.
func TestIdleFloors(t *testing.T) {
	prices, err := cost.DefaultPrices()
	require.NoError(t, err)
	assume := func(key string) float64 {
		a, ok := prices.Assumptions[key]
		require.True(t, ok, key)
		return a.Value
	}
	minutes := prices.HoursPerMonth * 60
	for _, env := range []string{"dev", "prod"} {
		cfg := envs[env].cfg
		t.Run(env, func(t *testing.T) {
			rep := idleCost(t, env)
			tasks := float64(max(cfg.Backend.DesiredCount, cfg.Backend.MinCount))

			// Flow log: every ALB node (one per zone) health-checks every task
			// every 15 s (the target group's HealthCheckIntervalSeconds).
			_, tg := one(t, envs[env].raw["compute"], "AWS::ElasticLoadBalancingV2::TargetGroup")
			interval := props(tg)["HealthCheckIntervalSeconds"].(float64)
			checks := float64(cfg.AzCount()) * tasks * 60 / interval
			flow, ok := floorOf(t, rep, "cloudwatch.logs.vended_ingest_gb", "VPC flow")
			if assert.True(t, ok, "a flow log ingestion floor") {
				want := checks * assume("vpcflowlogs.records_per_health_check") * assume("vpcflowlogs.bytes_per_record") * minutes / 1e9
				assert.InDelta(t, want, flow.Quantity, 1e-4, "GB/month")
			}

			// Container Insights: 38 custom metrics for one Fargate service of
			// one task family, and its performance log events, when enabled.
			metrics := linesOf(rep, "cloudwatch.custom_metric.month")
			var insights []cost.Line
			for _, l := range metrics {
				if strings.HasPrefix(l.Item, "Container Insights") {
					insights = append(insights, l)
				}
			}
			_, perfLog := floorOf(t, rep, "cloudwatch.logs.ingest_gb", "Container Insights performance")
			if cfg.Monitoring.ContainerInsights {
				require.Len(t, insights, 1, "a Container Insights line")
				assert.Equal(t, 38.0, insights[0].Quantity, "cluster 13 + service 15 + task family 10")
				assert.True(t, perfLog, "its performance logs")
			} else {
				assert.Empty(t, insights)
				assert.False(t, perfLog)
			}

			// Enhanced Monitoring: one RDSOSMetrics sample per interval.
			em, ok := floorOf(t, rep, "cloudwatch.logs.ingest_gb", "Enhanced Monitoring")
			if iv := cfg.Database.MonitoringIntervalSeconds; iv > 0 {
				if assert.True(t, ok, "an Enhanced Monitoring floor") {
					want := prices.HoursPerMonth * 3600 / float64(iv) * assume("rds.enhanced_monitoring.bytes_per_sample") / 1e9
					assert.InDelta(t, want, em.Quantity, 1e-4)
				}
			} else {
				assert.False(t, ok, "Enhanced Monitoring is off")
			}

			// KMS: the first two rotations of the operations key.
			rot, ok := floorOf(t, rep, "kms.key_rotation.month", "rotated key material")
			assert.Equal(t, cfg.Monitoring.OperationsKeyRotation, ok)
			if ok {
				assert.Equal(t, 2.0, rot.Quantity)
			}
		})
	}
}

// TestWAFIsPriced: cmd/cost prices prod's web ACL (its own stack) and each
// of its four rules by the month: $9 idle; dev, WAF off, pays none of it.
func TestWAFIsPriced(t *testing.T) {
	prod := idleCost(t, "prod")
	acl := linesOf(prod, "waf.web_acl.month")
	rules := linesOf(prod, "waf.rule.month")
	require.Len(t, acl, 1)
	require.Len(t, rules, 1)
	assert.Equal(t, "tsa-prod-edge", acl[0].Stack)
	assert.Equal(t, 1.0, acl[0].Quantity)
	assert.Equal(t, 4.0, rules[0].Quantity, "IP reputation, API rate limit, known bad inputs, core rule set")
	assert.InDelta(t, 9.0, acl[0].MonthlyUSD+rules[0].MonthlyUSD, 1e-9)
	requests := linesOf(prod, "waf.requests.million")
	require.Len(t, requests, 1)
	assert.Zero(t, requests[0].MonthlyUSD, "inspected requests are usage-based")
	var stacks []string
	for _, s := range prod.Stacks {
		stacks = append(stacks, s.Stack)
	}
	assert.Equal(t, []string{"tsa-prod-network", "tsa-prod-data", "tsa-prod-compute", "tsa-prod-edge", "tsa-prod-frontend"}, stacks, "deployment order")

	dev := idleCost(t, "dev")
	assert.Empty(t, linesOf(dev, "waf.web_acl.month"))
	assert.Empty(t, linesOf(dev, "waf.rule.month"))
}
