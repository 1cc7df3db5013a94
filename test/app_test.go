package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/stacks"
)

// TestGuardTurnsPanicsIntoOneMessage: CDK's own errors reach Go as jsii
// panics; the app reports them, and Go's own panics, as one message.
func TestGuardTurnsPanicsIntoOneMessage(t *testing.T) {
	t.Setenv("CDK_DEBUG", "")
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	err := stacks.Guard(func() error {
		stack := awscdk.NewStack(app, jsii.String("GuardTest"), nil)
		awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("Secret"), jsii.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:db"))
		return nil
	})
	require.Error(t, err, "aws-cdk-lib refuses an incomplete secret ARN")
	assert.Contains(t, err.Error(), "missing 6-character suffix")
	assert.NotContains(t, err.Error(), "goroutine")

	err = stacks.Guard(func() error {
		var counts map[string]int
		counts["x"]++ // a Go runtime panic
		return nil
	})
	require.Error(t, err)
	assert.Equal(t, "synthesis failed: assignment to entry in nil map", err.Error())

	want := errors.New("invalid configuration")
	assert.Same(t, want, stacks.Guard(func() error { return want }), "errors pass unchanged")
}

// TestAppFailsWithOneMessage runs the app binary as the CDK CLI does (the
// context in CDK_CONTEXT_JSON): a refused context ends in one message on
// stderr and exit status 1, with no goroutine trace.
func TestAppFailsWithOneMessage(t *testing.T) {
	// `go run -exec "cp -t DIR"` builds the app as the CLI's `go run .` does
	// (a warm build cache skips the link) and copies the binary out.
	dir := t.TempDir()
	build := exec.Command("go", "run", "-exec", "cp -t "+dir, ".")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go run: %s", out)
	bins, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	require.Len(t, bins, 1, "the app binary")
	bin := bins[0]

	ctx, err := cliContext()
	require.NoError(t, err)
	ctx["env"] = "prod"
	ctx["imagetag"] = "v1.4.2"                         // mis-cased -c key
	ctx["environments"] = `{"prod":{"profile":"dev"}}` // -c environments=...
	data, err := json.Marshal(ctx)
	require.NoError(t, err)

	cmd := exec.Command(bin)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+string(data), "CDK_OUTDIR="+t.TempDir(), "CDK_DEBUG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the app refuses the context; stderr:\n%s", stderr.String())
	assert.Equal(t, 1, exit.ExitCode())
	msg := stderr.String()
	assert.Contains(t, msg, "invalid configuration:\n")
	assert.Contains(t, msg, "  - environments: the context's environments differ from cdk.json's")
	assert.Contains(t, msg, "  - imagetag: unknown context key; did you mean imageTag?")
	assert.NotContains(t, msg, "goroutine")
	assert.Empty(t, stdout.String())
}
