// Package stacks builds the platform: four stacks per environment (five with
// the WAF's edge stack) wired by typed references. app.go and the tests both
// call NewPlatform, so the tests check exactly what `cdk synth` writes.
package stacks

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// Platform is one environment's stacks, in deployment order: four, and the
// edge stack (us-east-1) before the frontend when frontend.waf is on.
type Platform struct {
	Network *NetworkStack
	Data    *DataStack
	Compute *ComputeStack
	// Edge is nil unless frontend.waf.enabled.
	Edge     *EdgeStack
	Frontend *FrontendStack
}

// Stacks lists the stacks in deployment order (config.Config.StackParts).
func (p *Platform) Stacks() []awscdk.Stack {
	out := []awscdk.Stack{p.Network.Stack, p.Data.Stack, p.Compute.Stack}
	if p.Edge != nil {
		out = append(out, p.Edge.Stack)
	}
	return append(out, p.Frontend.Stack)
}

// LoadConfig reads the app's configuration: its whole context (cdk.json's
// context merged by the CLI with cdk.context.json, ~/.cdk.json and -c flags)
// and, for the environments, root/cdk.json itself, so that nothing else can
// define or change them (config.LoadProject).
func LoadConfig(app awscdk.App, root string) (*config.Config, error) {
	return config.LoadProject(app.Node().GetAllContext(nil), root)
}

// LoadConfigWith is LoadConfig with environments standing for cdk.json's:
// tests build configuration variants with it, as an edited cdk.json.
func LoadConfigWith(app awscdk.App, environments map[string]any, root string) (*config.Config, error) {
	return config.Load(app.Node().GetAllContext(nil), environments, root)
}

// Guard runs build and turns a panic raised in it into an error of one
// message: CDK's own validation errors reach Go as panics through jsii, and
// a user should read what failed, not a goroutine trace. With CDK_DEBUG=true
// (cdk --debug-app sets it) the panic goes on, trace and all.
func Guard(build func() error) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if os.Getenv("CDK_DEBUG") == "true" {
			panic(r)
		}
		err = fmt.Errorf("synthesis failed: %s", panicMessage(r))
	}()
	return build()
}

// panicMessage is the text of a recovered panic without JavaScript stack
// frames (jsii adds them when JSII_HOST_STACK_TRACES is set).
func panicMessage(r any) string {
	var msg string
	switch v := r.(type) {
	case error:
		msg = v.Error()
	case string:
		msg = v
	default:
		msg = fmt.Sprint(v)
	}
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "at ") || t == "" {
			continue
		}
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return strings.Join(lines, "\n")
}

// NewPlatform adds the stacks of one environment, or of a stage of it, to
// the app.
func NewPlatform(app awscdk.App, cfg *config.Config) *Platform {
	if cfg.PinnedEnvironment() {
		// Answer CDK's availability-zone lookup for a pinned environment from
		// config, as cdk.context.json would, so synthesis never asks AWS.
		key := fmt.Sprintf("availability-zones:account=%s:region=%s", cfg.Account, cfg.Region)
		app.Node().SetContext(jsii.String(key), cfg.AvailabilityZones)
	}
	// A stage's resources carry the environment they copy and the stage:
	// cost reports split them by either.
	tags := map[string]string{"project": config.Project, "environment": cfg.Environment()}
	if cfg.IsStage() {
		tags["stage"] = cfg.Stage
	}
	for k, v := range cfg.Tags {
		tags[k] = v
	}
	tagAll(app, tags)
	checkNag(app)

	p := &Platform{}
	p.Network = NewNetworkStack(app, cfg.StackName("network"), &NetworkStackProps{
		StackProps: stackProps(cfg, "network", "VPC, subnets, NAT, flow logs, endpoints, and the alarm topic, operations key and image repository every later stack uses"),
		Config:     cfg,
	})
	p.Data = NewDataStack(app, cfg.StackName("data"), &DataStackProps{
		StackProps: stackProps(cfg, "data", "PostgreSQL data tier and its credentials"),
		Config:     cfg,
		Vpc:        p.Network.Vpc,
		AlarmTopic: p.Network.AlarmTopic,
	})
	p.Compute = NewComputeStack(app, cfg.StackName("compute"), &ComputeStackProps{
		StackProps: stackProps(cfg, "compute", "ECS cluster and the ALB-fronted Fargate API service"),
		Config:     cfg,
		Vpc:        p.Network.Vpc,
		Database:   p.Data.Database,
		Repository: p.Network.Repository,
		// Monitoring: alarms notify the network stack's topic.
		AlarmTopic: p.Network.AlarmTopic,
	})
	if cfg.Frontend.Waf.Enabled {
		// CloudFront web ACLs exist only in us-east-1: this stack is pinned
		// there whatever the environment's region (edge.go).
		props := stackProps(cfg, "edge", "AWS WAF web ACL of the CloudFront distribution (always in "+tsaconstructs.CloudFrontWAFRegion+")")
		props.Env = &awscdk.Environment{Region: jsii.String(tsaconstructs.CloudFrontWAFRegion)}
		if cfg.PinnedEnvironment() {
			props.Env.Account = jsii.String(cfg.Account)
		}
		p.Edge = NewEdgeStack(app, cfg.StackName("edge"), &EdgeStackProps{StackProps: props, Config: cfg})
	}
	p.Frontend = NewFrontendStack(app, cfg.StackName("frontend"), &FrontendStackProps{
		StackProps:   stackProps(cfg, "frontend", "S3 + CloudFront single-page frontend with /api routed to the internal ALB"),
		Config:       cfg,
		Edge:         p.Edge,
		LoadBalancer: p.Compute.LoadBalancer,
		// Monitoring: the CloudFront alarm, and the dashboard over every stack.
		AlarmTopic:     p.Network.AlarmTopic,
		ServiceAlarms:  p.Compute.Alarms,
		DatabaseAlarms: p.Data.Alarms,
	})
	if !cfg.Production() {
		// Non-production leaves nothing behind on `cdk destroy`, including the
		// log groups aws-cdk-lib creates for its own deploy-time handlers.
		awscdk.RemovalPolicies_Of(app).Destroy(&awscdk.RemovalPolicyProps{ApplyToResourceTypes: jsii.Strings("AWS::Logs::LogGroup")})
	}
	// Deploy-time handlers keep their logs as long as the API does (handlerlogs.go).
	HandlerLogGroups(app, cfg.Backend.LogRetentionDays, removal(cfg))
	suppressNagFindings(p, cfg)
	return p
}

// tagAll tags every resource of the app.
func tagAll(app awscdk.App, tags map[string]string) {
	for _, k := range sortedKeys(tags) {
		awscdk.Tags_Of(app).Add(jsii.String(k), jsii.String(tags[k]), &awscdk.TagProps{
			// CloudFormation's linter schema has no Tags on these; tagging them buys nothing.
			ExcludeResourceTypes: jsii.Strings("AWS::ElasticLoadBalancingV2::Listener", "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::CloudWatch::Dashboard"),
		})
	}
}

// checkNag makes every synth, the CLI's included, run the AWS Solutions
// rules: an unsuppressed finding is an error annotation that fails `cdk synth`.
func checkNag(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// Build adds what the context asks for to the app: the four stacks of an
// environment (-c env=NAME) or of a stage of it (-c stage=NAME), or, with
// -c ci=ACCOUNT, only the keyless CI stack of that account (ci.go), so that
// `cdk deploy --all` of an environment never includes it.
func Build(app awscdk.App, root string) error {
	ctx := app.Node().GetAllContext(nil)
	if c, _ := config.Plain(ctx).(map[string]any); c[config.KeyCI] != nil {
		cfg, err := config.LoadCIProject(ctx, root)
		if err != nil {
			return err
		}
		NewCIStack(app, cfg)
		return nil
	}
	cfg, err := LoadConfig(app, root)
	if err != nil {
		return err
	}
	NewPlatform(app, cfg)
	return nil
}

func stackProps(cfg *config.Config, part, what string) awscdk.StackProps {
	of := fmt.Sprintf("%s environment", cfg.Name)
	if cfg.IsStage() {
		of = fmt.Sprintf("stage %s of the %s environment", cfg.Stage, cfg.Environment())
	}
	props := awscdk.StackProps{
		StackName:             jsii.String(cfg.StackName(part)),
		Description:           jsii.String(fmt.Sprintf("%s (%s): %s", config.Project, of, what)),
		TerminationProtection: jsii.Bool(cfg.Production()),
	}
	if cfg.PinnedEnvironment() {
		props.Env = &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(cfg.Region)}
	}
	return props
}

// removal is what happens to a stateful resource when its stack is deleted:
// production keeps it, other environments clean up so nothing stays billable.
func removal(cfg *config.Config) awscdk.RemovalPolicy {
	if cfg.Production() {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

var retentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// Retention converts validated days into the CDK enum.
func Retention(days int) awslogs.RetentionDays {
	r, ok := retentions[days]
	if !ok {
		panic(fmt.Sprintf("log retention %d days was not validated", days))
	}
	return r
}

// output declares a stack output with a description and a stable export-free name.
func output(scope constructs.Construct, id string, value *string, description string) {
	awscdk.NewCfnOutput(scope, jsii.String(id), &awscdk.CfnOutputProps{
		Value:       value,
		Description: jsii.String(description),
	})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
