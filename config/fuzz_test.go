package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadApp feeds the app's whole path arbitrary input: the text of cdk.json
// (read strictly by the loader), the context the CLI would build from it
// (its context, as JSON.parse reads it, plus -c keys), optionally in jsii's
// wire form. Every input ends in a valid configuration or an *Error naming
// a setting, never a panic. (`go test ./config -fuzz FuzzLoad` selects it;
// its name differs from the former FuzzLoad's, whose cached corpus has
// other argument types and stalled the fuzzer.)
func FuzzLoadApp(f *testing.F) {
	// The project's environments, compact: the fuzzer minimizes every new
	// input it finds, which costs seconds for a large one.
	data, err := os.ReadFile(filepath.Join(root, ProjectFile))
	if err != nil {
		f.Fatal(err)
	}
	envs, err := ProjectEnvironments(data)
	if err != nil {
		f.Fatal(err)
	}
	compact, err := json.Marshal(map[string]any{"context": map[string]any{KeyEnvironments: envs, "@aws-cdk/core:checkSecretUsage": true}})
	if err != nil {
		f.Fatal(err)
	}
	project := string(compact)
	f.Add(project, `{"env":"prod"}`, false)
	f.Add(project, `{"env":"dev","imageTag":"v1"}`, true)
	f.Add(project, `{"env":"dev","stage":"pr-42"}`, true)
	f.Add(`{"context":{"environments":{"dev":{}},"github":{"repository":"o/r","accounts":{"a":{"environments":["dev"],"stages":true}}}}}`, `{"stage":"x"}`, false)
	f.Add(project, `{"environments":"{}"}`, false)
	f.Add(`{"context":{"environments":{"dev":{"backend":{"cpu":256,"memoryMiB":512}}}}}`, `{}`, false)
	f.Add(`{"context":{"environments":{"stage":{"profile":"prod","database":{"engine":"external","external":{"cidr":"10.1.0.0/24"}}}}}}`, `{"env":"stage"}`, true)
	f.Add(`{"context":{"environments":{"prod":{"frontend":{"domainName":"a.example.com","certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}}}}}`, `{"env":"prod"}`, false)
	f.Add(`{"context":{"environments":{"dev":{"account":"123456789012","region":"eu-west-1","availabilityZones":["eu-west-1a",7]}}}}`, `{"imageTag":"x"}`, false)
	f.Add(`{"context":{"environments":{"dev":{"network":{"natGateways":1e300}},"dev":{}}}}`, `{"Env":"dev"}`, false)
	f.Fuzz(func(t *testing.T, cdkJSON, cliJSON string, wire bool) {
		var file, cli map[string]any
		if json.Unmarshal([]byte(cdkJSON), &file) != nil || json.Unmarshal([]byte(cliJSON), &cli) != nil {
			return
		}
		ctx := map[string]any{}
		if c, ok := file["context"].(map[string]any); ok {
			for k, v := range c {
				ctx[k] = v
			}
		}
		for k, v := range cli {
			ctx[k] = v
		}
		var input any = ctx
		if wire {
			input = jsiiWire(ctx)
		}
		cfg, err := loadProject(input, []byte(cdkJSON), root)
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("error is not a configuration error naming a setting: %v", err)
			}
			return
		}
		if err := Validate(cfg); err != nil {
			t.Fatalf("Load returned a configuration that does not validate: %v", err)
		}
	})
}
