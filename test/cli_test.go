package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CDKCLI is the pinned CDK CLI every command in the README runs.
const CDKCLI = "aws-cdk@2.1148.1"

// TestCLISynthMatchesTests runs the real, pinned CDK CLI on the app (cdk.json's
// "app", so app.go itself) and checks that it writes exactly the templates the
// tests assert on: same context, same feature flags, same wiring. The CLI
// starts in TestMain and runs beside the in-process synths.
func TestCLISynthMatchesTests(t *testing.T) {
	synth := cliDev
	if synth == nil {
		synth = startCLISynth("dev")
	}
	out, err := synth.wait()
	require.NoError(t, err)

	for _, part := range envs["dev"].parts() {
		data, err := os.ReadFile(filepath.Join(out, "tsa-dev-"+part+".template.json"))
		require.NoError(t, err)
		var cli map[string]any
		require.NoError(t, json.Unmarshal(data, &cli))
		assert.Equal(t, jsonOf(envs["dev"].raw[part]), jsonOf(cli), "tsa-dev-%s: the CLI and the tests synthesize different templates", part)
	}
}

// cliSynth is a `cdk synth` of one environment through the pinned CLI,
// running in the background.
type cliSynth struct {
	out  string
	done chan struct{}
	err  error
}

// startCLISynth starts `cdk synth -c env=ENV` with the pinned CLI. It runs
// with --no-validation: cfn-lint checks these templates in TestCfnLint, and
// .ci/run runs aws-cdk-lib's built-in validator on its own.
func startCLISynth(env string) *cliSynth {
	c := &cliSynth{out: filepath.Join(outRoot, "cli-"+env), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if _, err := exec.LookPath("npx"); err != nil {
			c.err = fmt.Errorf("npx (Node.js) is required to run the pinned CDK CLI")
			return
		}
		cmd := exec.Command("npx", "--yes", CDKCLI, "synth", "--quiet", "--no-validation", "-c", "env="+env, "--output", c.out)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CDK_DISABLE_VERSION_CHECK=1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			c.err = fmt.Errorf("cdk synth -c env=%s failed: %v\n%s", env, err, stderr.String())
		}
	}()
	return c
}

// wait returns the CLI's output directory once it is done.
func (c *cliSynth) wait() (string, error) {
	<-c.done
	return c.out, c.err
}
