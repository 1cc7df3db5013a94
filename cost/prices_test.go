package cost

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every figure must say where it comes from and when it was checked.
func TestEveryPriceHasSourceAndDate(t *testing.T) {
	table, err := DefaultPrices()
	require.NoError(t, err)
	assert.Equal(t, "us-east-1", table.Region)
	assert.Equal(t, "USD", table.Currency)
	assert.Equal(t, 730.0, table.HoursPerMonth)
	require.NotEmpty(t, table.Prices)
	for key, p := range table.Prices {
		assert.NotEmpty(t, strings.TrimSpace(p.Source), "%s has no source", key)
		_, err := time.Parse("2006-01-02", p.Date)
		assert.NoError(t, err, "%s has no valid date", key)
		assert.NotEmpty(t, p.Unit, "%s has no unit", key)
		assert.Contains(t, []string{StatusChecked, StatusDerived, StatusUnconfirmed}, p.Status, key)
		if p.Status != StatusChecked {
			// derived and unconfirmed figures must explain themselves
			assert.True(t, p.Note != "" || strings.Contains(p.Source, "not readable"),
				"%s is %s but says neither how it was derived nor why it is unconfirmed", key, p.Status)
		}
	}
}

// The prices the brief requires are all in the table.
func TestRequiredPricesPresent(t *testing.T) {
	table, err := DefaultPrices()
	require.NoError(t, err)
	for _, key := range []string{
		"vpc.nat_gateway.hour", "vpc.public_ipv4.hour", "elb.alb.hour", "elb.alb.lcu_hour",
		"fargate.linux_x86.vcpu_hour", "fargate.linux_arm64.gb_hour", "fargate_spot.linux_x86.vcpu_hour",
		"ec2.t4g.nano.hour", "ec2.t4g.micro.hour", "ec2.t4g.small.hour", "ec2.t4g.medium.hour", "ec2.t4g.large.hour",
		"ec2.m7g.medium.hour", "ec2.m7g.large.hour", "ec2.r7g.large.hour", "ec2.t3.micro.hour", "ec2.t3.small.hour",
		"ebs.gp3.gb_month", "ebs.gp3.iops_month", "ebs.gp3.mbps_month",
		"rds.storage.gp2.gb_month", "rds.storage.gp3.gb_month", "rds.storage.io1.gb_month", "rds.storage.io1.iops_month",
		"vpc.interface_endpoint.az_hour", "secretsmanager.secret.month",
		"cloudwatch.alarm.standard.metric_month", "cloudwatch.alarm.high_resolution.metric_month",
		"cloudwatch.dashboard.month", "kms.key.month", "kms.key_rotation.month", "cloudwatch.custom_metric.month",
		"cloudwatch.logs.ingest_gb", "cloudwatch.logs.vended_ingest_gb", "cloudwatch.logs.storage_gb_month",
	} {
		assert.Contains(t, table.Prices, key)
	}
	for _, key := range []string{"fargate_spot.linux_x86.vcpu_hour", "fargate_spot.linux_x86.gb_hour",
		"fargate_spot.linux_arm64.vcpu_hour", "fargate_spot.linux_arm64.gb_hour"} {
		p := table.Prices[key]
		if assert.NotNil(t, p.LowUSD, "%s varies: it needs a best case", key) {
			assert.Less(t, *p.LowUSD, p.USD, key)
		}
	}
}

// Every assumption behind an idle floor says what it rests on.
func TestEveryAssumptionHasBasisAndSource(t *testing.T) {
	table, err := DefaultPrices()
	require.NoError(t, err)
	require.NotEmpty(t, table.Assumptions)
	for key, a := range table.Assumptions {
		assert.NotEmpty(t, strings.TrimSpace(a.Basis), key)
		assert.Contains(t, a.Source, "https://", "%s names a page", key)
		_, err := time.Parse("2006-01-02", a.Date)
		assert.NoError(t, err, key)
	}
}

func TestParsePricesRejectsBadRangesAndAssumptions(t *testing.T) {
	_, err := ParsePrices([]byte(`{"region":"us-east-1","currency":"USD","hours_per_month":730,"checked":"2026-11-29",
		"prices":{"x.hour":{"usd":1,"low_usd":2,"unit":"hour","status":"derived","date":"2026-11-29","source":"s","note":"n"}},
		"assumptions":{"bytes":{"value":150,"unit":"bytes","date":"2026-11-29","basis":"","source":""}}}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x.hour: low_usd 2 must be between 0 and usd 1")
	assert.Contains(t, err.Error(), "assumption bytes: basis and source are required")
}

func TestParsePricesRejectsUnsourcedFigure(t *testing.T) {
	_, err := ParsePrices([]byte(`{"region":"us-east-1","currency":"USD","hours_per_month":730,"checked":"2026-11-29",
		"prices":{"x.hour":{"usd":1,"unit":"hour","status":"checked","date":"2026-11-29","source":""},
		          "y.hour":{"usd":1,"unit":"hour","status":"checked","date":"last week","source":"somewhere"}}}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x.hour: source is empty")
	assert.Contains(t, err.Error(), `y.hour: date "last week" is not a YYYY-MM-DD date`)
}
