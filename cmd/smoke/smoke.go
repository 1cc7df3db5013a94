package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The AWS calls the check makes, as small interfaces so tests use fakes.
// Everything it asks AWS is read-only.
type (
	StackReader interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	}
	SecretReader interface {
		GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	}
	LoadBalancerReader interface {
		DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	}
	Resolver interface {
		LookupHost(ctx context.Context, host string) ([]string, error)
	}
)

// Checker runs the smoke check of one deployed environment.
type Checker struct {
	Env           string
	Stacks        StackReader
	Secrets       SecretReader
	LoadBalancers LoadBalancerReader
	Resolver      Resolver
	HTTP          *http.Client
	// Wait bounds how long failing steps are retried (CloudFront takes
	// minutes to deploy a distribution); 0 tries every step once.
	Wait     time.Duration
	Interval time.Duration
	// Now and Sleep are replaced in tests.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// Result is one step of the report.
type Result struct {
	Step   string
	Status string // ok, FAIL, skipped
	Tries  int
	Took   time.Duration
	Detail string
	Hint   string // what to look at when it failed
}

// Step names, in order; docs/runbook.md has a section for each.
const (
	stepStacks       = "stacks"
	stepSite         = "site"
	stepConfig       = "config"
	stepHealth       = "api-health"
	stepAPIKey       = "api-key"
	stepDeepHealth   = "deep-health"
	stepWrite        = "write"
	stepReadBack     = "read-back"
	stepWriteRefused = "write-refused"
	stepALBPrivate   = "alb-private"
)

var hints = map[string]string{
	stepStacks:       "deploy the missing stack in order (README: Deploy); for a *_ROLLBACK_* or *_FAILED status read `aws cloudformation describe-stack-events --stack-name STACK`; check the credentials and region (AWS_REGION or -region)",
	stepSite:         "the distribution's status (`aws cloudfront get-distribution --id DistributionId`; a new one takes minutes: raise -wait), index.html in SiteBucketName, and the response headers policy",
	stepConfig:       "config.json in SiteBucketName (the frontend stack's DeployShell deployment) and its invalidation",
	stepHealth:       "504/502: the ALB's security group must admit the CloudFront origin-facing prefix list (compute output LoadBalancerSecurityGroupId) and the VPC origin must be Deployed; 503: no healthy task (runbook: api-unhealthy-hosts); 403/404: the distribution's /api/* behaviour",
	stepAPIKey:       "the secret ApiKeySecretArn (compute stack, JSON current/previous) and your secretsmanager:GetSecretValue permission (kms:Decrypt on the data key where customer-managed keys are on)",
	stepDeepHealth:   "401: the tasks hold another API key than the secret (restart them after a rotation); 503: the API cannot reach the database: its status, the database security group's rule from the tasks' group, the database alarms and the API logs",
	stepWrite:        "401: the tasks hold another API key than the secret; 503: the schema is not ready yet (tasks just started) or the database is down; the API logs (runbook: Logs)",
	stepReadBack:     "the API logs and the database (the measurements table and, on RDS, today's partition)",
	stepWriteRefused: "SECURITY: the API must refuse writes without X-Api-Key; check that the task definition passes API_KEY as a secret, and stop writers until it does",
	stepALBPrivate:   "the load balancer must be internal (scheme internal, private addresses only); compute output LoadBalancerDnsName",
}

// Report is the outcome of a run.
type Report struct {
	Env     string
	Results []Result
}

// Failed returns the failed steps, in order.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == "FAIL" {
			out = append(out, res)
		}
	}
	return out
}

// Print writes the table of steps and, for a failure, what to look at.
func (r Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tRESULT\tTRIES\tTIME\tDETAIL")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", res.Step, res.Status, res.Tries, res.Took.Round(100*time.Millisecond), res.Detail)
	}
	tw.Flush()
	failed := r.Failed()
	if len(failed) == 0 {
		fmt.Fprintf(w, "\nsmoke check of %s passed: %d steps\n", r.Env, len(r.Results))
		return
	}
	first := failed[0]
	fmt.Fprintf(w, "\nsmoke check of %s FAILED at step %q: %s\n  look at: %s\n", r.Env, first.Step, first.Detail, first.Hint)
	for _, f := range failed[1:] {
		fmt.Fprintf(w, "  also failed: %s (%s)\n", f.Step, f.Detail)
	}
	fmt.Fprintln(w, "  every step is explained in docs/runbook.md#smoke-check")
}

// errPermanent marks a failure that retrying cannot fix.
type errPermanent struct{ error }

func permanent(format string, a ...any) error { return errPermanent{fmt.Errorf(format, a...)} }

// outputs are the stack outputs the check needs.
type outputs struct {
	siteURL, apiURL, apiKeyArn, albDNS string
}

// Run performs every step and returns the report; it stops only when a step
// that later steps need fails.
func (c *Checker) Run(ctx context.Context) Report {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	deadline := c.Now().Add(c.Wait)
	rep := Report{Env: c.Env}
	run := func(step string, f func() (string, error)) bool {
		res := c.attempt(ctx, step, deadline, f)
		rep.Results = append(rep.Results, res)
		return res.Status == "ok"
	}
	skip := func(steps ...string) {
		for _, s := range steps {
			rep.Results = append(rep.Results, Result{Step: s, Status: "skipped", Detail: "needs an earlier step"})
		}
	}

	var out outputs
	if !run(stepStacks, func() (string, error) { return c.readStacks(ctx, &out) }) {
		skip(stepSite, stepConfig, stepHealth, stepAPIKey, stepDeepHealth, stepWrite, stepReadBack, stepWriteRefused, stepALBPrivate)
		return rep
	}
	run(stepSite, func() (string, error) { return c.site(ctx, out.siteURL) })
	run(stepConfig, func() (string, error) { return c.config(ctx, out.siteURL) })
	run(stepHealth, func() (string, error) { return c.health(ctx, out.apiURL) })
	var key string
	if run(stepAPIKey, func() (string, error) { return c.apiKey(ctx, out.apiKeyArn, &key) }) {
		run(stepDeepHealth, func() (string, error) { return c.deepHealth(ctx, out.apiURL, key) })
		p := c.probe()
		if run(stepWrite, func() (string, error) { return c.write(ctx, out.apiURL, key, p) }) {
			run(stepReadBack, func() (string, error) { return c.readBack(ctx, out.apiURL, p) })
		} else {
			skip(stepReadBack)
		}
	} else {
		skip(stepDeepHealth, stepWrite, stepReadBack)
	}
	run(stepWriteRefused, func() (string, error) { return c.writeRefused(ctx, out.apiURL) })
	run(stepALBPrivate, func() (string, error) { return c.albPrivate(ctx, out.albDNS) })
	return rep
}

// attempt runs f until it passes, fails permanently, or the deadline passes
// (one attempt at least).
func (c *Checker) attempt(ctx context.Context, step string, deadline time.Time, f func() (string, error)) Result {
	start := c.Now()
	res := Result{Step: step}
	for {
		res.Tries++
		detail, err := f()
		if err == nil {
			res.Status, res.Detail = "ok", detail
			break
		}
		res.Detail = err.Error()
		var perm errPermanent
		if errors.As(err, &perm) || ctx.Err() != nil || !c.Now().Add(c.Interval).Before(deadline) {
			res.Status, res.Hint = "FAIL", hints[step]
			if res.Tries > 1 {
				res.Detail += fmt.Sprintf(" (after %d tries)", res.Tries)
			}
			break
		}
		if c.Sleep(ctx, c.Interval) != nil {
			res.Status, res.Hint = "FAIL", hints[step]
			break
		}
	}
	res.Took = c.Now().Sub(start)
	return res
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stackName follows the app's naming: tsa-<env>-<part>.
func stackName(env, part string) string { return "tsa-" + env + "-" + part }

var stackParts = []string{"network", "data", "compute", "frontend"}

// readStacks checks that the four stacks are deployed and reads the outputs
// the other steps use.
func (c *Checker) readStacks(ctx context.Context, out *outputs) (string, error) {
	values := map[string]string{}
	var statuses []string
	for _, part := range stackParts {
		name := stackName(c.Env, part)
		resp, err := c.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
		if err != nil {
			// The SDK already retried throttling and transient errors.
			if strings.Contains(err.Error(), "does not exist") {
				return "", permanent("stack %s does not exist", name)
			}
			return "", permanent("describe %s: %v", name, err)
		}
		if len(resp.Stacks) != 1 {
			return "", permanent("stack %s: %d stacks returned", name, len(resp.Stacks))
		}
		st := resp.Stacks[0]
		status := string(st.StackStatus)
		switch {
		case strings.HasSuffix(status, "_IN_PROGRESS"):
			return "", fmt.Errorf("stack %s is %s", name, status)
		case status != string(cfntypes.StackStatusCreateComplete) && status != string(cfntypes.StackStatusUpdateComplete) && status != string(cfntypes.StackStatusImportComplete):
			return "", permanent("stack %s is %s: its last deployment did not complete", name, status)
		}
		statuses = append(statuses, part+" "+status)
		for _, o := range st.Outputs {
			if o.OutputKey != nil && o.OutputValue != nil {
				values[part+"/"+*o.OutputKey] = *o.OutputValue
			}
		}
	}
	need := map[string]*string{
		"frontend/SiteUrl": &out.siteURL, "frontend/ApiUrl": &out.apiURL,
		"compute/ApiKeySecretArn": &out.apiKeyArn, "compute/LoadBalancerDnsName": &out.albDNS,
	}
	for key, dst := range need {
		v, ok := values[key]
		if !ok || v == "" {
			return "", permanent("output %s is missing", key)
		}
		*dst = v
	}
	return strings.Join(statuses, ", "), nil
}

// do performs one request and reads at most 1 MiB of the body.
func (c *Checker) do(ctx context.Context, method, target string, header http.Header, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, nil, permanent("%s %s: %v", method, target, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "tsa-smoke/1")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the body: %v", method, target, err)
	}
	return resp, data, nil
}

// statusError describes an unexpected status with the start of the body.
func statusError(method, target string, resp *http.Response, body []byte) error {
	snippet := strings.TrimSpace(string(body))
	if len(snippet) > 120 {
		snippet = snippet[:120] + "..."
	}
	return fmt.Errorf("%s %s answered %d %s", method, target, resp.StatusCode, snippet)
}

// securityHeaders are the headers the distribution's response headers policy
// adds to every response, and a check of each value.
var securityHeaders = []struct {
	name string
	ok   func(string) bool
}{
	{"Strict-Transport-Security", func(v string) bool { return maxAge(v) >= 31536000 }},
	{"Content-Security-Policy", func(v string) bool { return strings.Contains(v, "default-src 'self'") }},
	{"X-Content-Type-Options", func(v string) bool { return strings.EqualFold(v, "nosniff") }},
	{"X-Frame-Options", func(v string) bool { return strings.EqualFold(v, "DENY") }},
	{"Referrer-Policy", func(v string) bool { return v != "" }},
}

func maxAge(hsts string) int {
	for _, part := range strings.Split(hsts, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(k, "max-age") {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

func checkSecurityHeaders(h http.Header) error {
	var bad []string
	for _, sh := range securityHeaders {
		if v := h.Get(sh.name); v == "" || !sh.ok(v) {
			bad = append(bad, fmt.Sprintf("%s=%q", sh.name, v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("security headers missing or wrong: %s", strings.Join(bad, ", "))
	}
	return nil
}

func (c *Checker) site(ctx context.Context, siteURL string) (string, error) {
	if u, err := url.Parse(siteURL); err != nil || u.Scheme != "https" {
		return "", permanent("SiteUrl %q is not an https URL", siteURL)
	}
	resp, body, err := c.do(ctx, http.MethodGet, siteURL+"/", nil, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError("GET", siteURL+"/", resp, body)
	}
	if resp.TLS == nil || resp.Request.URL.Scheme != "https" {
		return "", permanent("GET %s/ was not served over HTTPS", siteURL)
	}
	if err := checkSecurityHeaders(resp.Header); err != nil {
		return "", err
	}
	if !strings.Contains(strings.ToLower(string(body)), "<html") {
		return "", fmt.Errorf("GET %s/ is not an HTML page", siteURL)
	}
	return fmt.Sprintf("200 over %s with %d security headers", tlsName(resp), len(securityHeaders)), nil
}

func tlsName(resp *http.Response) string {
	if resp.TLS == nil {
		return "plain HTTP"
	}
	switch resp.TLS.Version {
	case 0x0304:
		return "TLS 1.3"
	case 0x0303:
		return "TLS 1.2"
	}
	return "TLS"
}

func (c *Checker) config(ctx context.Context, siteURL string) (string, error) {
	target := siteURL + "/config.json"
	resp, body, err := c.do(ctx, http.MethodGet, target, nil, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError("GET", target, resp, body)
	}
	var cfg struct {
		APIBaseURL  string `json:"apiBaseUrl"`
		Environment string `json:"environment"`
	}
	if err := json.Unmarshal(body, &cfg); err != nil {
		return "", fmt.Errorf("GET %s is not JSON: %v", target, err)
	}
	if cfg.APIBaseURL == "" || cfg.Environment != c.Env {
		return "", permanent("config.json says apiBaseUrl=%q environment=%q; want an API base URL and environment %q", cfg.APIBaseURL, cfg.Environment, c.Env)
	}
	return fmt.Sprintf("apiBaseUrl %s, environment %s", cfg.APIBaseURL, cfg.Environment), nil
}

// viaCloudFront reports whether a response passed through CloudFront.
func viaCloudFront(h http.Header) bool {
	return h.Get("X-Amz-Cf-Id") != "" || strings.Contains(strings.ToLower(h.Get("Via")), "cloudfront")
}

type healthResponse struct {
	Status string `json:"status"`
	Env    string `json:"env"`
	DB     string `json:"db"`
}

func (c *Checker) health(ctx context.Context, apiURL string) (string, error) {
	target := apiURL + "/health"
	resp, body, err := c.do(ctx, http.MethodGet, target, nil, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError("GET", target, resp, body)
	}
	var h healthResponse
	if err := json.Unmarshal(body, &h); err != nil || h.Status != "ok" {
		return "", fmt.Errorf("GET %s: want {\"status\":\"ok\"}, got %s", target, strings.TrimSpace(string(body)))
	}
	if h.Env != c.Env {
		return "", permanent("GET %s: the API says env %q, want %q", target, h.Env, c.Env)
	}
	if !viaCloudFront(resp.Header) {
		return "", permanent("GET %s: the answer did not come through CloudFront (no X-Amz-Cf-Id or Via header)", target)
	}
	if err := checkSecurityHeaders(resp.Header); err != nil {
		return "", err
	}
	return "200 through CloudFront, env " + h.Env, nil
}

func (c *Checker) apiKey(ctx context.Context, arn string, key *string) (string, error) {
	resp, err := c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return "", permanent("read the API key: %v", err)
	}
	if resp.SecretString == nil || *resp.SecretString == "" {
		return "", permanent("the API key secret %s is empty", arn)
	}
	// {"current": ..., "previous": ...}: the API accepts both during a
	// rotation; the check writes with the current one.
	var keys struct {
		Current string `json:"current"`
	}
	if err := json.Unmarshal([]byte(*resp.SecretString), &keys); err != nil || keys.Current == "" {
		return "", permanent("the API key secret %s holds no JSON \"current\" key (it is {\"current\": ..., \"previous\": ...})", arn)
	}
	*key = keys.Current
	return "read from Secrets Manager (current)", nil
}

// deepHealth calls GET /api/health/deep with the API key: the API pings the
// database, which accepts TLS connections only (rds.force_ssl, hostssl).
func (c *Checker) deepHealth(ctx context.Context, apiURL, key string) (string, error) {
	target := apiURL + "/health/deep"
	resp, body, err := c.do(ctx, http.MethodGet, target, http.Header{"X-Api-Key": {key}}, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return "", permanent("GET %s refused the API key from Secrets Manager (401)", target)
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError("GET", target, resp, body)
	}
	var h healthResponse
	if err := json.Unmarshal(body, &h); err != nil || h.Status != "ok" || h.DB != "ok" {
		return "", fmt.Errorf("GET %s: want status and db ok, got %s", target, strings.TrimSpace(string(body)))
	}
	return "database reachable (it accepts TLS connections only)", nil
}

// probe is the one point the check writes: a series of its own, a value
// that identifies this run.
type probe struct {
	series string
	at     time.Time
	value  float64
}

func (c *Checker) probe() probe {
	now := c.Now().UTC().Truncate(time.Second)
	return probe{
		series: "smoke." + now.Format("20060102T150405Z"),
		at:     now,
		value:  float64(now.Unix()%100_000) + 0.25, // exact in binary, differs per run
	}
}

func (p probe) body() []byte {
	data, _ := json.Marshal(map[string]any{
		"name":   p.series,
		"points": []map[string]any{{"time": p.at.Format(time.RFC3339), "value": p.value}},
	})
	return data
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func (c *Checker) write(ctx context.Context, apiURL, key string, p probe) (string, error) {
	target := apiURL + "/series"
	h := jsonHeader.Clone()
	h.Set("X-Api-Key", key)
	resp, body, err := c.do(ctx, http.MethodPost, target, h, p.body())
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return "", permanent("POST %s refused the API key from Secrets Manager (401)", target)
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return "", permanent("%v", statusError("POST", target, resp, body))
	}
	if resp.StatusCode != http.StatusCreated {
		return "", statusError("POST", target, resp, body)
	}
	var r struct {
		Inserted int `json:"inserted"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Inserted != 1 {
		return "", permanent("POST %s: want {\"inserted\":1}, got %s", target, strings.TrimSpace(string(body)))
	}
	return fmt.Sprintf("201: 1 point in series %s", p.series), nil
}

func (c *Checker) readBack(ctx context.Context, apiURL string, p probe) (string, error) {
	q := url.Values{
		"name":   {p.series},
		"from":   {p.at.Add(-time.Minute).Format(time.RFC3339)},
		"to":     {p.at.Add(time.Minute).Format(time.RFC3339)},
		"bucket": {"1m"},
	}
	target := apiURL + "/series?" + q.Encode()
	resp, body, err := c.do(ctx, http.MethodGet, target, nil, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError("GET", target, resp, body)
	}
	var r struct {
		Points []struct {
			Avg   float64 `json:"avg"`
			Count int     `json:"count"`
		} `json:"points"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("GET %s is not JSON: %v", target, err)
	}
	count := 0
	for _, pt := range r.Points {
		count += pt.Count
		// A retried write may have stored the same point twice: same average.
		if pt.Count > 0 && math.Abs(pt.Avg-p.value) > 1e-9 {
			return "", permanent("read back %v from series %s, wrote %v", pt.Avg, p.series, p.value)
		}
	}
	if count == 0 {
		return "", fmt.Errorf("series %s has no point yet", p.series)
	}
	return fmt.Sprintf("series %s reads back %v", p.series, p.value), nil
}

// writeRefused posts a valid body without the API key: the API must say 401.
func (c *Checker) writeRefused(ctx context.Context, apiURL string) (string, error) {
	target := apiURL + "/series"
	p := c.probe()
	p.series += ".refused"
	resp, body, err := c.do(ctx, http.MethodPost, target, jsonHeader, p.body())
	if err != nil {
		return "", err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "401 without X-Api-Key", nil
	case resp.StatusCode < 300:
		return "", permanent("POST %s without an API key answered %d: writes are open to anyone", target, resp.StatusCode)
	}
	return "", statusError("POST", target, resp, body)
}

// albPrivate checks the load balancer behind the API: internal scheme, and
// its name resolves to private addresses only.
func (c *Checker) albPrivate(ctx context.Context, dnsName string) (string, error) {
	var scheme string
	var found bool
	p := elbv2.NewDescribeLoadBalancersPaginator(c.LoadBalancers, &elbv2.DescribeLoadBalancersInput{})
	for p.HasMorePages() && !found {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", permanent("describe load balancers: %v", err)
		}
		for _, lb := range page.LoadBalancers {
			if lb.DNSName != nil && strings.EqualFold(*lb.DNSName, dnsName) {
				scheme, found = string(lb.Scheme), true
			}
		}
	}
	if !found {
		return "", permanent("no load balancer named %s", dnsName)
	}
	if scheme != "internal" {
		return "", permanent("load balancer %s is %s, want internal", dnsName, scheme)
	}
	addrs, err := c.Resolver.LookupHost(ctx, dnsName)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %v", dnsName, err)
	}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || !ip.IsPrivate() {
			return "", permanent("%s resolves to %s, which is not a private address", dnsName, a)
		}
	}
	return fmt.Sprintf("internal, resolves to %d private addresses", len(addrs)), nil
}
