// Command smoke proves that a deployed environment works the way a user
// relies on it: the site and its config over HTTPS with the security
// headers, the API through CloudFront, the database behind it, writes with
// the API key only, and an ALB with no public address.
//
//	go run ./cmd/smoke -env dev [-wait 10m] [-region eu-west-1]
//	go run ./cmd/smoke -stage pr-42        # a stage (stacks tsa-pr-42-*)
//
// It uses the AWS SDK's default credential chain, reads the four stacks'
// outputs and the API key, and writes one point to a series of its own
// (smoke.<UTC time>). It prints a table of steps and exits 1 naming the first
// failed step and what to look at (docs/runbook.md#smoke-check).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tsa-platform/infra/config"
)

// The SDK's clients are what the Checker's interfaces describe.
var (
	_ StackReader        = (*cloudformation.Client)(nil)
	_ SecretReader       = (*secretsmanager.Client)(nil)
	_ LoadBalancerReader = (*elbv2.Client)(nil)
	_ Resolver           = (*net.Resolver)(nil)
)

// envName is the pattern config/ accepts for an environment name.
var envName = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("smoke", flag.ContinueOnError)
	env := flags.String("env", "dev", "environment to check (stacks tsa-ENV-*)")
	stage := flags.String("stage", "", "stage to check instead (stacks tsa-STAGE-*, deployed with -c stage=STAGE)")
	wait := flags.Duration("wait", 10*time.Minute, "how long to retry failing steps, e.g. while a new CloudFront distribution deploys (0: one try each)")
	interval := flags.Duration("interval", 15*time.Second, "pause between tries")
	region := flags.String("region", "", "AWS region of the stacks (default: the SDK's, from AWS_REGION or the profile)")
	timeout := flags.Duration("timeout", 20*time.Second, "timeout of each HTTP request")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if !envName.MatchString(*env) || (*stage != "" && !config.IsStageName(*stage)) || *wait < 0 || *interval <= 0 || *timeout <= 0 {
		fmt.Fprintln(os.Stderr, "smoke: -env must be an environment name (lower-case letters and digits), -stage a stage name (lower-case letters, digits and single hyphens), -wait >= 0, -interval and -timeout > 0")
		return 2
	}
	// A stage's stacks, config.json and API carry the stage's name where an
	// environment's carry the environment's.
	name := *env
	if *stage != "" {
		name = *stage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var opts []func(*awsconfig.LoadOptions) error
	if *region != "" {
		opts = append(opts, awsconfig.WithRegion(*region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "smoke: AWS configuration: %v\n", err)
		return 2
	}
	if cfg.Region == "" {
		fmt.Fprintln(os.Stderr, "smoke: no AWS region: set AWS_REGION, a profile region, or -region")
		return 2
	}

	c := &Checker{
		Env:           name,
		Stacks:        cloudformation.NewFromConfig(cfg),
		Secrets:       secretsmanager.NewFromConfig(cfg),
		LoadBalancers: elbv2.NewFromConfig(cfg),
		Resolver:      net.DefaultResolver,
		HTTP:          &http.Client{Timeout: *timeout},
		Wait:          *wait,
		Interval:      *interval,
	}
	fmt.Printf("smoke check of tsa-%s in %s (retrying for up to %s)\n\n", name, cfg.Region, *wait)
	rep := c.Run(ctx)
	rep.Print(os.Stdout)
	if len(rep.Failed()) > 0 {
		return 1
	}
	return 0
}
