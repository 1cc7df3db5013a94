package cost

import (
	"fmt"
	"strings"
)

func secret(e *est) {
	n := 1.0
	replicas, ok, err := e.props().list("ReplicaRegions")
	if err != nil {
		e.notPriced(err.Error())
	} else if ok {
		n += float64(len(replicas))
	}
	note := "API calls are usage-based"
	if n > 1 {
		note = fmt.Sprintf("1 secret + %d replica(s); %s", int(n-1), note)
	}
	e.line("secret", n, "secretsmanager.secret.month", note)
}

// alarm prices a metric alarm: $/metric-month by resolution; metric-math
// alarms pay for each metric they read, anomaly detection bands for 2 more.
func alarm(e *est) {
	p := e.props()
	metrics, ok, err := p.list("Metrics")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	std, high := 0.0, 0.0
	if !ok || len(metrics) == 0 {
		period, ok, err := p.num("Period")
		if err != nil {
			e.notPriced(err.Error())
			return
		}
		if !ok {
			e.notPriced("Period is not set")
			return
		}
		if period < 60 {
			high = 1
		} else {
			std = 1
		}
	} else {
		bands := 0.0
		for i, m := range metrics {
			mp, _, err := p.asObj(fmt.Sprintf("Metrics[%d]", i), m)
			if err != nil {
				e.notPriced(err.Error())
				return
			}
			if ms, ok, err := mp.obj("MetricStat"); err != nil {
				e.notPriced(err.Error())
				return
			} else if ok {
				period, ok, err := ms.num("Period")
				if err != nil {
					e.notPriced(err.Error())
					return
				}
				if !ok {
					e.notPriced(ms.name("Period") + " is not set")
					return
				}
				if period < 60 {
					high++
				} else {
					std++
				}
				continue
			}
			expr, _, err := mp.str("Expression")
			if err != nil {
				e.notPriced(err.Error())
				return
			}
			up := strings.ToUpper(strings.TrimSpace(expr))
			if strings.HasPrefix(up, "SELECT") {
				e.notPriced("Metrics Insights query alarm: billed per metric analysed, not in the price table")
				return
			}
			if strings.Contains(up, "ANOMALY_DETECTION_BAND") {
				bands++
			}
		}
		if bands > 0 {
			// An anomaly detection alarm is billed as 3 metrics: the metric
			// and the two band bounds.
			if high > 0 {
				high += 2 * bands
			} else {
				std += 2 * bands
			}
		}
	}
	if std > 0 {
		e.line("alarm metrics, standard resolution", std, "cloudwatch.alarm.standard.metric_month", "")
	}
	if high > 0 {
		e.line("alarm metrics, high resolution (period < 60 s)", high, "cloudwatch.alarm.high_resolution.metric_month", "")
	}
}

func compositeAlarm(e *est) {
	e.line("composite alarm", 1, "cloudwatch.alarm.composite.month", "")
}

func dashboard(e *est) {
	e.line("dashboard", 1, "cloudwatch.dashboard.month", "")
}

// cloudFrontAdditionalMetrics is how many metrics a distribution's monitoring
// subscription adds (cache hit rate, origin latency, six error rates by code).
const cloudFrontAdditionalMetrics = 8

// cloudFrontMetrics prices a distribution's additional CloudWatch metrics,
// which are billed as custom metrics.
func cloudFrontMetrics(e *est) {
	status := ""
	if cfg, ok, err := e.props().obj("MonitoringSubscription"); err == nil && ok {
		if rt, ok, err := cfg.obj("RealtimeMetricsSubscriptionConfig"); err == nil && ok {
			status, _, _ = rt.str("RealtimeMetricsSubscriptionStatus")
		}
	}
	if status != "Enabled" {
		e.free()
		return
	}
	e.line("additional CloudFront metrics", cloudFrontAdditionalMetrics, "cloudwatch.custom_metric.month", "billed as CloudWatch custom metrics")
}

func kmsKey(e *est) {
	e.line("customer managed KMS key", 1, "kms.key.month", "")
	rot, _, err := e.props().boolean("EnableKeyRotation")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	if rot {
		// AWS bills the first and the second rotation of the key material
		// ($1/month each, from the first and second anniversary with the
		// default 365-day period); later rotations are free. The estimate is
		// for a standing environment, so it counts both.
		e.floor("rotated key material (first and second rotation)", 2, "kms.key_rotation.month",
			"rotation on: +$1/month from the first rotation, +$2 from the second; later rotations are not billed")
	}
}

func hostedZone(e *est) {
	e.line("hosted zone", 1, "route53.hosted_zone.month", "DNS queries are usage-based")
}

func dynamoTable(e *est) {
	mode, _, err := e.props().str("BillingMode")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	if mode == "PAY_PER_REQUEST" {
		e.usage("on-demand capacity and storage are billed by use")
		return
	}
	e.notPriced("provisioned capacity (BillingMode PROVISIONED, the default) is not in the price table")
}

func ssmParameter(e *est) {
	tier, _, _ := e.props().str("Tier")
	if strings.EqualFold(tier, "Advanced") {
		e.notPriced("advanced-tier parameter: monthly charge not in the price table")
		return
	}
	e.free()
}

// paidRuleGroups are AWS managed rule groups with a subscription and
// per-request fee of their own ("Using managed rule group statements",
// AWS WAF Developer Guide; AWS WAF pricing), which the table does not hold.
var paidRuleGroups = map[string]bool{
	"AWSManagedRulesBotControlRuleSet": true,
	"AWSManagedRulesATPRuleSet":        true,
	"AWSManagedRulesACFPRuleSet":       true,
	"AWSManagedRulesAntiDDoSRuleSet":   true,
}

// webACL prices an AWS WAF web ACL: the ACL and each of its rules by the
// month (a rule group, managed or not, is one rule); inspected requests are
// usage-based.
func webACL(e *est) {
	rules, _, err := e.props().list("Rules")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	for i, r := range rules {
		rp, _, err := e.props().asObj(fmt.Sprintf("Rules[%d]", i), r)
		if err != nil {
			e.notPriced(err.Error())
			return
		}
		stmt, _, err := rp.obj("Statement")
		if err != nil {
			e.notPriced(err.Error())
			return
		}
		if group, ok, _ := stmt.obj("ManagedRuleGroupStatement"); ok {
			if name, _, _ := group.str("Name"); paidRuleGroups[name] {
				e.notPriced(fmt.Sprintf("paid AWS managed rule group %s: its subscription and per-request fees are not in the price table", name))
			}
		}
	}
	e.line("web ACL", 1, "waf.web_acl.month", "")
	if len(rules) > 0 {
		e.line("rules and rule groups", float64(len(rules)), "waf.rule.month", "a managed rule group is billed as one rule")
	}
	e.usageLine("requests inspected", "waf.requests.million", "")
}
