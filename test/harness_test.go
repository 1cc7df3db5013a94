// Package test holds the specification of the synthesized platform. TestMain
// synthesizes each environment once through stacks.NewPlatform, with the
// context the CDK CLI would pass from cdk.json, and every test reads the
// shared templates: one jsii runtime per test binary, no t.Parallel.
package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
	"github.com/tsa-platform/infra/stacks"
)

var update = flag.Bool("update", false, "rewrite the golden snapshots in test/snapshots from the current synth")

// synth is one synthesized environment. Its templates are keyed by stack
// part: network, data, compute, edge (with frontend.waf), frontend.
type synth struct {
	cfg       *config.Config
	platform  *stacks.Platform
	templates map[string]assertions.Template
	raw       map[string]map[string]any
	files     map[string]string // template file of each part
	outdir    string
	err       error // synthesis error, if any
}

var (
	root    string
	outRoot string
	envs    = map[string]*synth{}
	cliDev  *cliSynth
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := run(m)
	os.Exit(code)
}

func run(m *testing.M) int {
	defer jsii.Close()
	var err error
	if root, err = moduleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if outRoot, err = os.MkdirTemp("", "tsa-test-synth-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(outRoot)
	// The pinned CLI synthesizes dev through app.go in its own processes
	// while this binary synthesizes in-process.
	if willRun("TestCLISynthMatchesTests") {
		cliDev = startCLISynth("dev")
		defer cliDev.wait()
	}
	for _, env := range []string{"dev", "prod"} {
		s, err := synthesize(env, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		envs[env] = s
	}
	return m.Run()
}

// willRun tells whether the top-level test name is selected by -test.run and
// -test.skip, to start its background work early only when it will be used.
// A wrong guess costs time, never a result: each test waits for or starts
// what it needs.
func willRun(name string) bool {
	matches := func(flagName string) (bool, bool) {
		f := flag.Lookup(flagName)
		if f == nil || f.Value.String() == "" {
			return false, false
		}
		re, err := regexp.Compile(strings.Split(f.Value.String(), "/")[0])
		return err == nil && re.MatchString(name), true
	}
	if skip, set := matches("test.skip"); set && skip {
		return false
	}
	run, set := matches("test.run")
	return run || !set
}

// moduleRoot finds the directory holding go.mod; go test runs in test/.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// cliContext is the context the CDK CLI hands the app for this project:
// cdk.json's "context" (feature flags included) plus the keys it derives from
// cdk.json's top-level settings.
func cliContext() (map[string]any, error) {
	data, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, err
	}
	var file struct {
		Context          map[string]any `json:"context"`
		VersionReporting *bool          `json:"versionReporting"`
		PathMetadata     *bool          `json:"pathMetadata"`
		AssetMetadata    *bool          `json:"assetMetadata"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	ctx := file.Context
	set := func(key string, v *bool) {
		if v != nil {
			ctx[key] = *v
		}
	}
	set("aws:cdk:version-reporting", file.VersionReporting)
	set("aws:cdk:enable-path-metadata", file.PathMetadata)
	set("aws:cdk:enable-asset-metadata", file.AssetMetadata)
	return ctx, nil
}

// testApp is an App with the context the CLI would pass, writing into
// outdir (removed with outRoot).
func testApp(ctx map[string]any, outdir string) awscdk.App {
	return awscdk.NewApp(&awscdk.AppProps{
		Context: &ctx,
		Outdir:  jsii.String(outdir),
		// cfn-lint checks every template in this suite; the built-in validator
		// would repeat that at ~4 s per synth.
		BuiltinCloudFormationValidation: jsii.Bool(false),
		StackTraces:                     jsii.Bool(false),
		TreeMetadata:                    jsii.Bool(false),
	})
}

// synthesize builds one environment exactly as app.go does, with extra
// context (as -c flags) on top of cdk.json.
func synthesize(env string, extra map[string]any) (*synth, error) {
	ctx, err := cliContext()
	if err != nil {
		return nil, err
	}
	ctx[config.KeyEnv] = env
	for k, v := range extra {
		ctx[k] = v
	}
	outdir, err := os.MkdirTemp(outRoot, env+"-")
	if err != nil {
		return nil, err
	}
	app := testApp(ctx, outdir)
	load := stacks.LoadConfig
	if envs, ok := extra[config.KeyEnvironments].(map[string]any); ok {
		// A variant's environments stand for an edited cdk.json.
		load = func(app awscdk.App, root string) (*config.Config, error) {
			return stacks.LoadConfigWith(app, envs, root)
		}
	}
	cfg, err := load(app, root)
	if err != nil {
		return nil, err
	}
	p := stacks.NewPlatform(app, cfg)
	s := &synth{cfg: cfg, platform: p, templates: map[string]assertions.Template{}, raw: map[string]map[string]any{}, files: map[string]string{}, outdir: outdir}
	// A synth that fails validation (an unsuppressed cdk-nag error, say) still
	// writes its templates: keep them so every other test reports too.
	s.err = synthOnce(app)
	parts := cfg.StackParts()
	if len(parts) != len(p.Stacks()) {
		return nil, fmt.Errorf("config lists stacks %v, the platform has %d", parts, len(p.Stacks()))
	}
	for i, st := range p.Stacks() {
		s.files[parts[i]] = filepath.Join(outdir, *st.TemplateFile())
		data, err := os.ReadFile(s.files[parts[i]])
		if err != nil {
			return nil, fmt.Errorf("%s: %v (synth: %v)", *st.StackName(), err, s.err)
		}
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, err
		}
		s.raw[parts[i]] = raw
		s.templates[parts[i]] = assertions.Template_FromJSON(&raw, nil)
	}
	return s, nil
}

// parts are the synthesized stacks' parts in deployment order.
func (s *synth) parts() []string { return s.cfg.StackParts() }

func synthOnce(app awscdk.App) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	app.Synth(nil)
	return nil
}

// TestSynthSucceeds fails when synthesis of an environment failed; the
// other tests still run on the templates it wrote.
func TestSynthSucceeds(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		assert.NoError(t, envs[env].err, "cdk synth of %s", env)
	}
}

var variants = map[string]*synth{}

// variant synthesizes env with its cdk.json settings changed by edit (as a
// user would change cdk.json), once per test binary under name.
func variant(t *testing.T, name, env string, edit func(settings map[string]any)) *synth {
	t.Helper()
	return variantWith(t, name, env, nil, edit)
}

// variantWith is variant with command-line context on top (-c KEY=VALUE:
// a stage, an image tag); a nil edit leaves cdk.json as it is.
func variantWith(t *testing.T, name, env string, flags map[string]any, edit func(settings map[string]any)) *synth {
	t.Helper()
	key := name + "/" + env
	if s, ok := variants[key]; ok {
		return s
	}
	extra := map[string]any{}
	for k, v := range flags {
		extra[k] = v
	}
	if edit != nil {
		ctx, err := cliContext()
		require.NoError(t, err)
		var environments map[string]any
		data, err := json.Marshal(ctx[config.KeyEnvironments])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &environments))
		edit(environments[env].(map[string]any))
		extra[config.KeyEnvironments] = environments
	}
	s, err := synthesize(env, extra)
	require.NoError(t, err, "synth %s (%s)", env, name)
	require.NoError(t, s.err, "synth %s (%s)", env, name)
	variants[key] = s
	return s
}

// must turns a failed jsii assertion (a panic) into a test failure that
// carries the assertion's own message.
func must(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// hasResource asserts a resource of the type with matching properties exists.
func hasResource(t *testing.T, tpl assertions.Template, typ string, props map[string]any) {
	t.Helper()
	must(t, typ, func() { tpl.HasResourceProperties(jsii.String(typ), props) })
}

// resources returns the raw resources of a type in a synthesized template.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// one returns the single resource of a type, failing the test otherwise.
func one(t *testing.T, tpl map[string]any, typ string) (string, map[string]any) {
	t.Helper()
	rs := resources(tpl, typ)
	if len(rs) != 1 {
		t.Fatalf("want exactly one %s, found %d", typ, len(rs))
	}
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// normalize makes a template stable across asset content changes.
func normalize(tpl map[string]any) ([]byte, error) {
	data, err := json.MarshalIndent(tpl, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(assetHash.ReplaceAll(data, []byte("<asset-hash>")), '\n'), nil
}

func m(kv ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func jsonOf(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// serviceTaskDefinition is the task definition the API service runs (the
// compute stack also holds the migration task's).
func serviceTaskDefinition(t *testing.T, tpl map[string]any) (string, map[string]any) {
	t.Helper()
	_, svc := one(t, tpl, "AWS::ECS::Service")
	ref, _ := props(svc)["TaskDefinition"].(map[string]any)["Ref"].(string)
	td, ok := resources(tpl, "AWS::ECS::TaskDefinition")[ref]
	if !ok {
		t.Fatalf("the service's task definition %q is not in the template", ref)
	}
	return ref, td
}

// containerEnv is a container definition's plain environment and its secrets
// (name to ValueFrom, as JSON).
func containerEnv(c map[string]any) (env map[string]any, secrets map[string]string) {
	env, secrets = map[string]any{}, map[string]string{}
	for _, e := range asList(c["Environment"]) {
		em := e.(map[string]any)
		env[em["Name"].(string)] = em["Value"]
	}
	for _, sec := range asList(c["Secrets"]) {
		sm := sec.(map[string]any)
		secrets[sm["Name"].(string)] = jsonOf(sm["ValueFrom"])
	}
	return env, secrets
}

// keys lists a map's keys in order.
func keys[V any](mv map[string]V) []string {
	out := make([]string, 0, len(mv))
	for k := range mv {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
