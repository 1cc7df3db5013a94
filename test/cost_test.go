package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/cost"
)

// devIdleBudget is what one developer environment may cost per month while
// nobody uses it (us-east-1 on-demand list prices, cost/prices.json).
const devIdleBudget = 40.0

// TestIdleCost prices the synthesized templates with cmd/cost's estimator:
// dev stays within its budget, and nothing in either environment goes unpriced.
func TestIdleCost(t *testing.T) {
	prices, err := cost.DefaultPrices()
	require.NoError(t, err)
	for _, env := range []string{"dev", "prod"} {
		stacks, err := cost.LoadEnv(envs[env].outdir, env)
		require.NoError(t, err)
		rep := cost.Estimate(env, stacks, prices)
		assert.Zero(t, rep.NotPriced, "%s has resources the estimator cannot price: extend cost/prices.json or its free/usage lists", env)
		t.Logf("%s idle estimate: %.2f USD/month", env, rep.MonthlyUSD)
		if env == "dev" {
			assert.LessOrEqual(t, rep.MonthlyUSD, devIdleBudget, "the dev profile idles above its budget")
		}
	}
}
