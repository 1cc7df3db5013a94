package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testKey   = "k3y-from-secrets-manager"
	testALB   = "internal-tsa-dev-alb-123.eu-west-1.elb.amazonaws.com"
	secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ApiKey-abc"
)

// site emulates CloudFront in front of the S3 site and the sample API, with
// the response headers policy of the frontend stack. Fields break it.
type site struct {
	mu           sync.Mutex
	env          string
	noHSTS       bool
	openWrites   bool // the API takes writes without a key
	dbDown       bool
	unavailable  int // answer 503 to this many requests first (propagation)
	otherKey     bool
	stored       map[string][]float64
	postsWithKey int
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := w.Header()
	h.Set("X-Amz-Cf-Id", "abc123")
	h.Set("Via", "1.1 0123.cloudfront.net (CloudFront)")
	if s.unavailable > 0 {
		s.unavailable--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if !s.noHSTS {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	authorized := r.Header.Get("X-Api-Key") == testKey && !s.otherKey
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		h.Set("Content-Type", "text/html")
		w.Write([]byte("<!doctype html><html><body>tsa</body></html>"))
	case r.URL.Path == "/config.json":
		writeJSON(w, http.StatusOK, map[string]any{"apiBaseUrl": "/api", "environment": s.env})
	case r.URL.Path == "/api/health":
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "env": s.env})
	case r.URL.Path == "/api/health/deep":
		switch {
		case !authorized:
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
		case s.dbDown:
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "error", "db": "unavailable"})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "env": s.env, "db": "ok"})
		}
	case r.URL.Path == "/api/series" && r.Method == http.MethodPost:
		if !authorized && !s.openWrites {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
			return
		}
		var in struct {
			Name   string `json:"name"`
			Points []struct {
				Time  string  `json:"time"`
				Value float64 `json:"value"`
			} `json:"points"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad body"})
			return
		}
		if authorized {
			s.postsWithKey++
		}
		for _, p := range in.Points {
			if _, err := time.Parse(time.RFC3339, p.Time); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad time"})
				return
			}
			s.stored[in.Name] = append(s.stored[in.Name], p.Value)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"name": in.Name, "inserted": len(in.Points)})
	case r.URL.Path == "/api/series" && r.Method == http.MethodGet:
		vals := s.stored[r.URL.Query().Get("name")]
		points := []map[string]any{}
		if len(vals) > 0 {
			sum := 0.0
			for _, v := range vals {
				sum += v
			}
			points = append(points, map[string]any{"avg": sum / float64(len(vals)), "count": len(vals)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": r.URL.Query().Get("name"), "points": points})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type fakeStacks struct {
	status  map[string]cfntypes.StackStatus
	outputs map[string]map[string]string
}

func (f *fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	name := aws.ToString(in.StackName)
	status, ok := f.status[name]
	if !ok {
		return nil, errors.New("operation error CloudFormation: DescribeStacks, api error ValidationError: Stack with id " + name + " does not exist")
	}
	st := cfntypes.Stack{StackName: in.StackName, StackStatus: status}
	for k, v := range f.outputs[name] {
		st.Outputs = append(st.Outputs, cfntypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{st}}, nil
}

type fakeSecrets struct{ value string }

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.SecretId) != secretArn {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

// fakeLBs serves two pages of load balancers; ours is on the second.
type fakeLBs struct {
	scheme elbtypes.LoadBalancerSchemeEnum
}

func (f *fakeLBs) DescribeLoadBalancers(_ context.Context, in *elbv2.DescribeLoadBalancersInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error) {
	if in.Marker == nil {
		return &elbv2.DescribeLoadBalancersOutput{
			LoadBalancers: []elbtypes.LoadBalancer{{DNSName: aws.String("other-1.eu-west-1.elb.amazonaws.com"), Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing}},
			NextMarker:    aws.String("page2"),
		}, nil
	}
	return &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbtypes.LoadBalancer{{DNSName: aws.String(testALB), Scheme: f.scheme}}}, nil
}

type fakeResolver struct{ addrs []string }

func (f *fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if host != testALB {
		return nil, errors.New("no such host")
	}
	return f.addrs, nil
}

// fixture is a healthy deployed dev environment; tests break one part.
type fixture struct {
	site     *site
	stacks   *fakeStacks
	secrets  *fakeSecrets
	lbs      *fakeLBs
	resolver *fakeResolver
	// editStacks changes the deployed stacks once their outputs are known.
	editStacks func(*fakeStacks)
	wait       time.Duration
	clock      time.Time
	sleptFor   time.Duration
	serverURL  string
}

func newFixture() *fixture {
	return &fixture{
		site:     &site{env: "dev", stored: map[string][]float64{}},
		secrets:  &fakeSecrets{value: `{"current":"` + testKey + `","previous":"old-key"}`},
		lbs:      &fakeLBs{scheme: elbtypes.LoadBalancerSchemeEnumInternal},
		resolver: &fakeResolver{addrs: []string{"10.10.2.15", "10.10.3.22"}},
		clock:    time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
	}
}

func (f *fixture) run(t *testing.T) Report {
	t.Helper()
	srv := httptest.NewTLSServer(f.site)
	defer srv.Close()
	f.serverURL = srv.URL
	if f.stacks == nil {
		f.stacks = &fakeStacks{status: map[string]cfntypes.StackStatus{}, outputs: map[string]map[string]string{}}
		for _, part := range stackParts {
			f.stacks.status["tsa-dev-"+part] = cfntypes.StackStatusCreateComplete
		}
		f.stacks.outputs["tsa-dev-frontend"] = map[string]string{"SiteUrl": srv.URL, "ApiUrl": srv.URL + "/api"}
		f.stacks.outputs["tsa-dev-compute"] = map[string]string{"ApiKeySecretArn": secretArn, "LoadBalancerDnsName": testALB}
	}
	if f.editStacks != nil {
		f.editStacks(f.stacks)
	}
	c := &Checker{
		Env: "dev", Stacks: f.stacks, Secrets: f.secrets, LoadBalancers: f.lbs, Resolver: f.resolver,
		HTTP: srv.Client(), Wait: f.wait, Interval: 10 * time.Second,
		Now: func() time.Time { return f.clock },
		Sleep: func(_ context.Context, d time.Duration) error {
			f.clock = f.clock.Add(d)
			f.sleptFor += d
			return nil
		},
	}
	return c.Run(context.Background())
}

func statuses(r Report) map[string]string {
	out := map[string]string{}
	for _, res := range r.Results {
		out[res.Step] = res.Status
	}
	return out
}

var allSteps = []string{stepStacks, stepSite, stepConfig, stepHealth, stepAPIKey, stepDeepHealth, stepWrite, stepReadBack, stepWriteRefused, stepALBPrivate}

func TestHealthyEnvironmentPasses(t *testing.T) {
	f := newFixture()
	rep := f.run(t)
	require.Empty(t, rep.Failed())
	var steps []string
	for _, res := range rep.Results {
		steps = append(steps, res.Step)
		assert.Equal(t, "ok", res.Status, "%s: %s", res.Step, res.Detail)
		assert.Equal(t, 1, res.Tries, res.Step)
	}
	assert.Equal(t, allSteps, steps, "every step, in order")
	assert.Equal(t, 1, f.site.postsWithKey, "exactly one test write")
	require.Len(t, f.site.stored, 1, "the authorized write only; the refused one stored nothing")
	for name, vals := range f.site.stored {
		assert.NotContains(t, name, "refused")
		assert.Equal(t, []float64{float64(f.clock.Unix()%100_000) + 0.25}, vals)
	}
	var buf bytes.Buffer
	rep.Print(&buf)
	assert.Contains(t, buf.String(), "STEP")
	assert.Contains(t, buf.String(), "smoke check of dev passed: 10 steps")
}

// TestFailures: each broken part fails its step, names it first, says what
// to look at, and leaves the independent steps running.
func TestFailures(t *testing.T) {
	cases := []struct {
		name     string
		breakIt  func(*fixture)
		step     string
		detail   string
		skipped  []string
		passes   []string
		lookAtIn string
	}{
		{
			name:    "a stack is missing",
			breakIt: func(f *fixture) { f.editStacks = func(s *fakeStacks) { delete(s.status, "tsa-dev-data") } },
			step:    stepStacks, detail: "stack tsa-dev-data does not exist",
			skipped: allSteps[1:], lookAtIn: "deploy the missing stack",
		},
		{
			name: "the last deployment rolled back",
			breakIt: func(f *fixture) {
				f.editStacks = func(s *fakeStacks) { s.status["tsa-dev-compute"] = cfntypes.StackStatusUpdateRollbackComplete }
			},
			step: stepStacks, detail: "tsa-dev-compute is UPDATE_ROLLBACK_COMPLETE", skipped: allSteps[1:], lookAtIn: "describe-stack-events",
		},
		{
			name:    "the site lacks HSTS",
			breakIt: func(f *fixture) { f.site.noHSTS = true },
			step:    stepSite, detail: "Strict-Transport-Security", passes: []string{stepConfig, stepDeepHealth, stepWrite, stepReadBack, stepALBPrivate},
			lookAtIn: "response headers policy",
		},
		{
			name:    "the database is down",
			breakIt: func(f *fixture) { f.site.dbDown = true },
			step:    stepDeepHealth, detail: "503", passes: []string{stepHealth, stepWrite, stepWriteRefused},
			lookAtIn: "database security group",
		},
		{
			name:    "the tasks hold another API key",
			breakIt: func(f *fixture) { f.site.otherKey = true },
			step:    stepDeepHealth, detail: "refused the API key", skipped: []string{stepReadBack}, passes: []string{stepWriteRefused},
			lookAtIn: "another API key",
		},
		{
			name:    "the API key secret is not the two-key JSON",
			breakIt: func(f *fixture) { f.secrets.value = testKey },
			step:    stepAPIKey, detail: `holds no JSON "current" key`, skipped: []string{stepDeepHealth, stepWrite, stepReadBack},
			passes: []string{stepALBPrivate}, lookAtIn: "ApiKeySecretArn",
		},
		{
			name:    "writes are open",
			breakIt: func(f *fixture) { f.site.openWrites = true },
			step:    stepWriteRefused, detail: "writes are open to anyone", passes: []string{stepWrite, stepReadBack},
			lookAtIn: "SECURITY",
		},
		{
			name:    "the ALB is internet-facing",
			breakIt: func(f *fixture) { f.lbs.scheme = elbtypes.LoadBalancerSchemeEnumInternetFacing },
			step:    stepALBPrivate, detail: "is internet-facing, want internal", lookAtIn: "must be internal",
		},
		{
			name:    "the ALB name resolves to a public address",
			breakIt: func(f *fixture) { f.resolver.addrs = []string{"10.10.2.15", "3.120.1.1"} },
			step:    stepALBPrivate, detail: "3.120.1.1, which is not a private address", lookAtIn: "private addresses",
		},
		{
			name:    "CloudFront is still deploying and no wait is allowed",
			breakIt: func(f *fixture) { f.site.unavailable = 1 },
			step:    stepSite, detail: "answered 503", passes: []string{stepConfig}, lookAtIn: "raise -wait",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			tc.breakIt(f)
			rep := f.run(t)
			failed := rep.Failed()
			require.NotEmpty(t, failed)
			assert.Equal(t, tc.step, failed[0].Step)
			assert.Contains(t, failed[0].Detail, tc.detail)
			assert.Contains(t, failed[0].Hint, tc.lookAtIn)
			st := statuses(rep)
			for _, s := range tc.skipped {
				assert.Equal(t, "skipped", st[s], s)
			}
			for _, s := range tc.passes {
				assert.Equal(t, "ok", st[s], s)
			}
			var buf bytes.Buffer
			rep.Print(&buf)
			assert.Contains(t, buf.String(), `FAILED at step "`+tc.step+`"`)
			assert.Contains(t, buf.String(), "look at: "+failed[0].Hint)
			assert.Contains(t, buf.String(), "docs/runbook.md#smoke-check")
		})
	}
}

// TestWaitsForPropagation: steps retry within -wait, then pass; the wait is
// bounded.
func TestWaitsForPropagation(t *testing.T) {
	f := newFixture()
	f.wait = 5 * time.Minute
	f.site.unavailable = 3 // the site fails three times, then CloudFront answers
	rep := f.run(t)
	require.Empty(t, rep.Failed())
	assert.Equal(t, 4, rep.Results[1].Tries, "site tried until it answered")
	assert.Equal(t, 30*time.Second, f.sleptFor)

	f = newFixture()
	f.wait = time.Minute
	f.site.unavailable = 1000
	rep = f.run(t)
	require.NotEmpty(t, rep.Failed())
	assert.Equal(t, stepSite, rep.Failed()[0].Step)
	assert.LessOrEqual(t, f.sleptFor, time.Minute, "never waits past -wait")
	assert.Contains(t, rep.Failed()[0].Detail, "tries)")
}

// TestPermanentFailuresDoNotWait: a failure retrying cannot fix ends the step
// at once, whatever -wait says.
func TestPermanentFailuresDoNotWait(t *testing.T) {
	f := newFixture()
	f.wait = time.Hour
	f.site.openWrites = true
	f.lbs.scheme = elbtypes.LoadBalancerSchemeEnumInternetFacing
	rep := f.run(t)
	assert.Equal(t, []string{stepWriteRefused, stepALBPrivate}, func() []string {
		var s []string
		for _, r := range rep.Failed() {
			s = append(s, r.Step)
			assert.Equal(t, 1, r.Tries, r.Step)
		}
		return s
	}())
	assert.Zero(t, f.sleptFor)
}

func TestProbeIsAValidSeries(t *testing.T) {
	c := &Checker{Now: func() time.Time { return time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC) }}
	p := c.probe()
	assert.Regexp(t, `^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`, p.series, "the sample API's series name rule")
	assert.True(t, strings.HasPrefix(p.series, "smoke."))
	assert.JSONEq(t, `{"name":"`+p.series+`","points":[{"time":"2026-05-01T10:00:00Z","value":`+jsonNumber(p.value)+`}]}`, string(p.body()))
}

func jsonNumber(v float64) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-env", "Prod"}, {"-env", "dev", "-wait", "-1s"}, {"-nope"}, {"-stage", "pr--42"}, {"-stage", "Pr42"}, {"-stage", "prod-x"}} {
		assert.Equal(t, 2, run(args), "%v", args)
	}
}
