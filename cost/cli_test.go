package cost

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runMain(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestMainBudget(t *testing.T) {
	dir := filepath.Join("testdata", "cdkout")
	// idle total of env "test" is 46.922 (see TestCrossStackImportAndOrder)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no budget", []string{"-env", "test", "-dir", dir}, ExitOK, ""},
		{"under budget", []string{"-env", "test", "-dir", dir, "-max", "50"}, ExitOK, ""},
		{"over budget", []string{"-env", "test", "-dir", dir, "-max", "40"}, ExitOverBudget,
			"idle estimate 46.92 USD/month exceeds the budget of 40.00"},
		{"zero budget is a budget", []string{"-env", "test", "-dir", dir, "-max", "0"}, ExitOverBudget, "exceeds the budget of 0.00"},
		{"no templates", []string{"-env", "nope", "-dir", dir}, ExitError, "npx cdk synth -c env=nope"},
		{"missing env", []string{"-dir", dir}, ExitUsage, "-env is required"},
		{"bad env", []string{"-env", "*", "-dir", dir}, ExitError, "environment name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(tc.args...)
			assert.Equal(t, tc.wantCode, code, stderr)
			if tc.wantErr != "" {
				assert.Contains(t, stderr, tc.wantErr)
			}
			if tc.wantCode == ExitOK || tc.wantCode == ExitOverBudget {
				assert.Contains(t, stdout, "TOTAL idle estimate: 46.92 USD/month")
			}
		})
	}
	_, _, stderr := runMain("-env", "nope", "-dir", dir)
	assert.Contains(t, stderr, dir, "the error names the directory")
}

func TestMainJSON(t *testing.T) {
	code, stdout, stderr := runMain("-env", "test", "-dir", filepath.Join("testdata", "cdkout"), "-json")
	require.Equal(t, ExitOK, code, stderr)
	var rep Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	assert.Equal(t, "test", rep.Env)
	assert.InDelta(t, 46.922, rep.MonthlyUSD, 1e-6)
	require.Len(t, rep.Stacks, 2)
	assert.Equal(t, "tsa-test-network", rep.Stacks[0].Stack)
	var items []string
	for _, l := range rep.Stacks[1].Lines {
		items = append(items, l.Item)
	}
	assert.Contains(t, items, "EC2 instance t4g.micro")
}
