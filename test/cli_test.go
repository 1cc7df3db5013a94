package test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CDKCLI is the pinned CDK CLI every command in the README runs.
const CDKCLI = "aws-cdk@2.1148.1"

// TestCLISynthMatchesTests runs the real, pinned CDK CLI on the app and checks
// that it writes exactly the templates the tests assert on: same context,
// same feature flags, same wiring.
func TestCLISynthMatchesTests(t *testing.T) {
	if _, err := exec.LookPath("npx"); err != nil {
		t.Fatal("npx (Node.js) is required to run the pinned CDK CLI")
	}
	out := t.TempDir()
	cmd := exec.Command("npx", "--yes", CDKCLI, "synth", "--quiet", "-c", "env=dev", "--output", out)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CDK_DISABLE_VERSION_CHECK=1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "cdk synth failed:\n%s", stderr.String())

	for _, part := range envs["dev"].parts() {
		data, err := os.ReadFile(filepath.Join(out, "tsa-dev-"+part+".template.json"))
		require.NoError(t, err)
		var cli map[string]any
		require.NoError(t, json.Unmarshal(data, &cli))
		assert.Equal(t, jsonOf(envs["dev"].raw[part]), jsonOf(cli), "tsa-dev-%s: the CLI and the tests synthesize different templates", part)
	}
}
