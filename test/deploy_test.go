package test

// What AWS checks when the stacks deploy and synthesis does not (issue 9):
// CloudFront reaches the internal ALB, the Spot service waits for its
// capacity providers, ALB access logs work in every region, the ALB sends
// only to the tasks, and an image tag can be pushed before the service needs
// it. Every rule is asserted on the synthesized templates of every variant.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// newRegion was opened after August 2022: ALB access logs there are written
// by a service principal, and no ELB account table lists it.
const newRegion = "mx-central-1"

// newRegionSynth is dev pinned to an account in a region opened after 2022.
func newRegionSynth(t *testing.T) *synth {
	return variant(t, "new-region", "dev", func(dev map[string]any) {
		dev["account"] = "123456789012"
		dev["region"] = newRegion
		dev["availabilityZones"] = []any{newRegion + "a", newRegion + "b"}
	})
}

// imageTagSynth deploys a pushed tag instead of building apps/backend.
const pushedTag = "v1.4.2"

func imageTagSynth(t *testing.T) *synth {
	t.Helper()
	return variantWith(t, "image-tag", "prod", map[string]any{config.KeyImageTag: pushedTag}, nil) // -c imageTag=TAG
}

// deployVariants is every synthesized configuration: allVariants plus the
// two this file adds.
func deployVariants(t *testing.T) []*synth {
	var out []*synth
	for _, env := range []string{"dev", "prod"} {
		out = append(out, allVariants(t, env)...)
	}
	return append(out, newRegionSynth(t), imageTagSynth(t))
}

func variantName(s *synth) string {
	name := s.cfg.Name + "/" + s.cfg.Database.Engine
	if s.cfg.PinnedEnvironment() {
		name += "/" + s.cfg.Region
	}
	if s.cfg.Frontend.DomainName != "" {
		name += "/domain"
	}
	if s.cfg.UsesImageRepository() {
		name += "/tag"
	}
	return name
}

// refID is the logical ID a {"Ref": ID} or {"Fn::GetAtt": [ID, ...]} names.
func refID(v any) string {
	mv, _ := v.(map[string]any)
	if id, ok := mv["Ref"].(string); ok {
		return id
	}
	if ga, ok := mv["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		id, _ := ga[0].(string)
		return id
	}
	return ""
}

// albGroups returns the logical IDs of the ALB's security group and of the
// API tasks' security group.
func albGroups(t *testing.T, compute map[string]any) (alb, tasks string) {
	t.Helper()
	_, lb := one(t, compute, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	groups := asList(props(lb)["SecurityGroups"])
	require.Len(t, groups, 1, "the ALB has one security group")
	_, svc := one(t, compute, "AWS::ECS::Service")
	taskGroups := asList(props(svc)["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)["SecurityGroups"])
	require.Len(t, taskGroups, 1, "the tasks have one security group")
	return refID(groups[0]), refID(taskGroups[0])
}

// rulesOn returns the standalone rules of a type whose GroupId is group (a
// logical ID in this template, or a value another stack reads as group's ID).
func rulesOn(tpl map[string]any, typ, group string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range resources(tpl, typ) {
		if refID(props(r)["GroupId"]) == group {
			out[id] = r
		}
	}
	return out
}

// TestLoadBalancerAdmitsOnlyCloudFront: the ALB's only inbound rule is
// CloudFront's origin-facing prefix list on the listener port, its ID read
// from EC2 when the stack deploys; no CIDR anywhere. A CIDR rule (the VPC's,
// say) never matches CloudFront's VPC-origin traffic and left /api/* dead.
func TestLoadBalancerAdmitsOnlyCloudFront(t *testing.T) {
	for _, s := range deployVariants(t) {
		t.Run(variantName(s), func(t *testing.T) {
			compute := s.raw["compute"]
			alb, _ := albGroups(t, compute)
			sg := compute["Resources"].(map[string]any)[alb].(map[string]any)
			assert.Empty(t, props(sg)["SecurityGroupIngress"], "no inline ingress on the ALB's group")

			rules := rulesOn(compute, "AWS::EC2::SecurityGroupIngress", alb)
			for _, part := range s.parts() {
				for id, r := range resources(s.raw[part], "AWS::EC2::SecurityGroupIngress") {
					p := props(r)
					assert.NotContains(t, p, "CidrIp", "%s/%s: no CIDR ingress in any stack", part, id)
					assert.NotContains(t, p, "CidrIpv6", "%s/%s: no CIDR ingress in any stack", part, id)
				}
			}
			require.Len(t, rules, 1, "one inbound rule on the ALB")
			for id, r := range rules {
				p := props(r)
				assert.Equal(t, "tcp", p["IpProtocol"], id)
				assert.EqualValues(t, 80, p["FromPort"], id)
				assert.EqualValues(t, 80, p["ToPort"], id)
				lookupID := refID(p["SourcePrefixListId"])
				require.NotEmpty(t, lookupID, "%s: the source is a prefix list resolved in this stack", id)
				assert.Equal(t, []any{lookupID, "PrefixLists.0.PrefixListId"}, p["SourcePrefixListId"].(map[string]any)["Fn::GetAtt"])

				lookup := compute["Resources"].(map[string]any)[lookupID].(map[string]any)
				assert.Equal(t, "Custom::AWS", lookup["Type"])
				for _, phase := range []string{"Create", "Update"} {
					call := jsonOf(props(lookup)[phase])
					assert.Contains(t, call, `\"action\":\"DescribeManagedPrefixLists\"`, phase)
					assert.Contains(t, call, `\"Name\":\"prefix-list-name\",\"Values\":[\"`+tsaconstructs.CloudFrontOriginFacing+`\"]`, phase)
				}
				assert.NotContains(t, props(lookup), "Delete", "nothing to undo when the stack goes")
			}

			// The lookup's role may only describe prefix lists.
			var actions []string
			for _, pol := range resources(compute, "AWS::IAM::Policy") {
				if strings.Contains(jsonOf(props(pol)["PolicyName"]), "CloudFrontOriginFacing") {
					for _, st := range asList(props(pol)["PolicyDocument"].(map[string]any)["Statement"]) {
						actions = append(actions, jsonOf(st.(map[string]any)["Action"]))
					}
				}
			}
			assert.Equal(t, []string{`"ec2:DescribeManagedPrefixLists"`}, actions)

			// A prefix-list reference weighs the list's maximum entries: 55
			// for CloudFront's ("AWS-managed prefix lists", Amazon VPC User
			// Guide), against 60 inbound rules per group by default.
			weight := 0
			for _, r := range rules {
				if _, ok := props(r)["SourcePrefixListId"]; ok {
					weight += 55
				} else {
					weight++
				}
			}
			assert.LessOrEqual(t, weight, 60, "inbound rules weigh within the default security group quota")
		})
	}
}

// TestLoadBalancerSendsOnlyToTasks: the ALB's group has an inline egress
// list (so EC2 adds no allow-all rule) holding only the rule that matches no
// traffic, and one standalone rule: TCP to the tasks' group on the container
// port.
func TestLoadBalancerSendsOnlyToTasks(t *testing.T) {
	for _, s := range deployVariants(t) {
		t.Run(variantName(s), func(t *testing.T) {
			compute := s.raw["compute"]
			alb, tasks := albGroups(t, compute)
			sg := compute["Resources"].(map[string]any)[alb].(map[string]any)
			assert.Equal(t, []any{m("CidrIp", "255.255.255.255/32", "Description", "Disallow all traffic", "IpProtocol", "icmp", "FromPort", float64(252), "ToPort", float64(86))},
				props(sg)["SecurityGroupEgress"], "inline egress present, matching no traffic")

			egress := rulesOn(compute, "AWS::EC2::SecurityGroupEgress", alb)
			require.Len(t, egress, 1, "one egress rule from the ALB")
			for id, r := range egress {
				p := props(r)
				assert.Equal(t, tasks, refID(p["DestinationSecurityGroupId"]), "%s: to the tasks' group", id)
				assert.Equal(t, "tcp", p["IpProtocol"], id)
				assert.EqualValues(t, s.cfg.Backend.Port, p["FromPort"], id)
				assert.EqualValues(t, s.cfg.Backend.Port, p["ToPort"], id)
			}
		})
	}
}

// TestSpotServiceWaitsForCapacityProviders: a service whose capacity
// provider strategy names FARGATE_SPOT is created after the cluster's
// capacity provider associations; ECS refuses a strategy whose provider is
// not associated yet.
func TestSpotServiceWaitsForCapacityProviders(t *testing.T) {
	var spot int
	for _, s := range deployVariants(t) {
		compute := s.raw["compute"]
		_, svc := one(t, compute, "AWS::ECS::Service")
		strategy := asList(props(svc)["CapacityProviderStrategy"])
		assert.Equal(t, s.cfg.Backend.Spot, len(strategy) > 0, "%s: a strategy exactly when Spot is configured", variantName(s))
		if len(strategy) == 0 {
			continue
		}
		spot++
		assocID, assoc := one(t, compute, "AWS::ECS::ClusterCapacityProviderAssociations")
		assert.Contains(t, asList(svc["DependsOn"]), assocID, "%s: the service depends on the capacity provider associations", variantName(s))
		assert.Equal(t, refID(props(svc)["Cluster"]), refID(props(assoc)["Cluster"]), "%s: of its own cluster", variantName(s))
		for _, st := range strategy {
			assert.Contains(t, asList(props(assoc)["CapacityProviders"]), st.(map[string]any)["CapacityProvider"], "%s: every provider of the strategy is associated", variantName(s))
		}
	}
	assert.NotZero(t, spot, "no variant runs on Spot: the dependency is untested")
}

// elbLogPrincipals is what AWS documents for the access-log bucket policy
// ("Enable access logs for your Application Load Balancer"): the region's
// Elastic Load Balancing account before August 2022, the log delivery
// service principal after. The last region is made up: a region no table
// knows yet must work too.
var elbLogPrincipals = map[string]map[string]any{
	"us-east-1":      {"AWS": "arn:aws:iam::127311923021:root"},
	"eu-west-1":      {"AWS": "arn:aws:iam::156460612806:root"},
	"ap-southeast-3": {"AWS": "arn:aws:iam::589379963580:root"},
	"ap-south-2":     {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"eu-south-2":     {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"eu-central-2":   {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"il-central-1":   {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"ca-west-1":      {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"ap-southeast-4": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"ap-southeast-5": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"me-central-1":   {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"mx-central-1":   {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
	"zz-future-1":    {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
}

// TestAccessLogsDeployInEveryRegion: the access-log bucket policy resolves,
// in every region an environment can deploy to, to the principal AWS
// documents there. Environment-agnostic templates are evaluated for each
// region above as CloudFormation would (conditions, Fn::If, AWS::NoValue);
// pinned ones for their own region. No template looks a region up in a
// mapping: Fn::FindInMap fails the stack in a region missing from the map.
func TestAccessLogsDeployInEveryRegion(t *testing.T) {
	for _, s := range deployVariants(t) {
		t.Run(variantName(s), func(t *testing.T) {
			for _, part := range s.parts() {
				assert.Empty(t, regionLookups(s.raw[part]["Resources"]), "tsa-%s-%s looks a region up in a mapping", s.cfg.Name, part)
			}
			compute := s.raw["compute"]
			_, lb := one(t, compute, "AWS::ElasticLoadBalancingV2::LoadBalancer")
			attrs := map[string]any{}
			for _, a := range asList(props(lb)["LoadBalancerAttributes"]) {
				attrs[a.(map[string]any)["Key"].(string)] = a.(map[string]any)["Value"]
			}
			assert.Equal(t, "true", attrs["access_logs.s3.enabled"])
			assert.Equal(t, "alb", attrs["access_logs.s3.prefix"])
			bucketID := refID(attrs["access_logs.s3.bucket"])
			require.NotEmpty(t, bucketID)
			var policyID string
			var statement map[string]any
			for id, pol := range resources(compute, "AWS::S3::BucketPolicy") {
				if refID(props(pol)["Bucket"]) != bucketID {
					continue
				}
				policyID = id
				for _, st := range asList(props(pol)["PolicyDocument"].(map[string]any)["Statement"]) {
					sm := st.(map[string]any)
					if strings.Contains(jsonOf(sm["Resource"]), "/alb/AWSLogs/") && jsonOf(sm["Principal"]) != `{"Service":"delivery.logs.amazonaws.com"}` {
						statement = sm
					}
				}
			}
			require.NotNil(t, statement, "the log bucket's policy lets ELB write under alb/AWSLogs/")
			assert.Contains(t, asList(lb["DependsOn"]), policyID, "ELB checks the bucket policy when logging is turned on: it must exist first")
			assert.Equal(t, "s3:PutObject", statement["Action"])

			regions := []string{s.cfg.Region}
			if !s.cfg.PinnedEnvironment() {
				regions = regions[:0]
				for r := range elbLogPrincipals {
					regions = append(regions, r)
				}
			}
			for _, region := range regions {
				want, ok := elbLogPrincipals[region]
				require.True(t, ok, "no expected principal for %s", region)
				got, err := evalCfn(compute, region, statement["Principal"])
				if assert.NoError(t, err, region) {
					assert.Equal(t, want, got, "access-log writer in %s", region)
				}
			}
		})
	}
}

// regionLookups finds every Fn::FindInMap keyed on AWS::Region below v.
func regionLookups(v any) []string {
	var found []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			found = append(found, regionLookups(e)...)
		}
	case map[string]any:
		if args := asList(x["Fn::FindInMap"]); len(args) > 1 && jsonOf(args[1]) == `{"Ref":"AWS::Region"}` {
			found = append(found, jsonOf(x))
		}
		for _, e := range x {
			found = append(found, regionLookups(e)...)
		}
	}
	return found
}

// evalCfn resolves the intrinsic functions a bucket policy uses, as
// CloudFormation would in region (partition aws), so a test can read the
// policy a deployment gets. It errors on anything it does not know rather
// than guess.
func evalCfn(tpl map[string]any, region string, v any) (any, error) {
	e := cfnEval{tpl: tpl, region: region}
	out, _, err := e.value(v)
	return out, err
}

type cfnEval struct {
	tpl    map[string]any
	region string
}

func (e cfnEval) condition(name string) (bool, error) {
	conditions, _ := e.tpl["Conditions"].(map[string]any)
	c, ok := conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	return e.boolean(c)
}

// boolean evaluates a condition expression.
func (e cfnEval) boolean(v any) (bool, error) {
	mv, _ := v.(map[string]any)
	if len(mv) != 1 {
		return false, fmt.Errorf("not a condition: %s", jsonOf(v))
	}
	for fn, args := range mv {
		list := asList(args)
		switch fn {
		case "Condition":
			return e.condition(args.(string))
		case "Fn::Equals":
			a, _, err := e.value(list[0])
			if err != nil {
				return false, err
			}
			b, _, err := e.value(list[1])
			return jsonOf(a) == jsonOf(b), err
		case "Fn::Or", "Fn::And":
			if len(list) < 2 || len(list) > 10 {
				return false, fmt.Errorf("%s takes 2 to 10 conditions, got %d", fn, len(list))
			}
			or := fn == "Fn::Or"
			for _, c := range list {
				b, err := e.boolean(c)
				if err != nil || b == or {
					return b, err
				}
			}
			return !or, nil
		case "Fn::Not":
			b, err := e.boolean(list[0])
			return !b, err
		}
	}
	return false, fmt.Errorf("not a condition: %s", jsonOf(v))
}

// value evaluates v; removed reports an AWS::NoValue.
func (e cfnEval) value(v any) (out any, removed bool, err error) {
	switch x := v.(type) {
	case string, float64, bool, nil:
		return x, false, nil
	case []any:
		list := []any{}
		for _, item := range x {
			r, gone, err := e.value(item)
			if err != nil {
				return nil, false, err
			}
			if !gone {
				list = append(list, r)
			}
		}
		return list, false, nil
	case map[string]any:
		for fn, args := range x {
			if len(x) != 1 || (fn != "Ref" && !strings.HasPrefix(fn, "Fn::")) {
				break
			}
			list := asList(args)
			switch fn {
			case "Ref":
				switch args {
				case "AWS::Region":
					return e.region, false, nil
				case "AWS::Partition":
					return "aws", false, nil
				case "AWS::AccountId":
					return "123456789012", false, nil
				case "AWS::NoValue":
					return nil, true, nil
				}
				return "{Ref:" + fmt.Sprint(args) + "}", false, nil
			case "Fn::GetAtt":
				return "{GetAtt:" + jsonOf(args) + "}", false, nil
			case "Fn::If":
				b, err := e.condition(list[0].(string))
				if err != nil {
					return nil, false, err
				}
				if b {
					return e.value(list[1])
				}
				return e.value(list[2])
			case "Fn::Join":
				items, _, err := e.value(list[1])
				if err != nil {
					return nil, false, err
				}
				var strs []string
				for _, it := range items.([]any) {
					strs = append(strs, fmt.Sprint(it))
				}
				return strings.Join(strs, list[0].(string)), false, nil
			}
			return nil, false, fmt.Errorf("evalCfn does not know %s", fn)
		}
		obj := map[string]any{}
		for k, item := range x {
			r, gone, err := e.value(item)
			if err != nil {
				return nil, false, err
			}
			if !gone {
				obj[k] = r
			}
		}
		return obj, false, nil
	}
	return nil, false, fmt.Errorf("unexpected %T in a template", v)
}

// TestNewRegionTemplatesLint: cfn-lint passes on the variant pinned to a
// region opened after 2022 (cdk-nag already ran in its synth).
func TestNewRegionTemplatesLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	require.NoError(t, err, "cfn-lint is required (pip install cfn-lint)")
	s := newRegionSynth(t)
	file := filepath.Join(s.outdir, "tsa-dev-compute.template.json")
	out, err := exec.Command(bin, "--config-file", filepath.Join(root, ".cfnlintrc.yaml"), "--format", "parseable", "--regions", newRegion, "--template", file).CombinedOutput()
	assert.NoError(t, err, "cfn-lint findings:\n%s", out)
}

// TestImageRepositoryExistsBeforeTheService: the repository lives in the
// network stack (deployed first), so a tag can be pushed before the compute
// stack deploys a service that pulls it; compute pulls from it by reference.
func TestImageRepositoryExistsBeforeTheService(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		network := envs[env].raw["network"]
		_, repo := one(t, network, "AWS::ECR::Repository")
		p := props(repo)
		assert.Equal(t, "IMMUTABLE", p["ImageTagMutability"], env)
		assert.Equal(t, m("ScanOnPush", true), p["ImageScanningConfiguration"], env)
		assert.Contains(t, jsonOf(p["LifecyclePolicy"]), "untagged", env)
		assert.Contains(t, network["Outputs"], "RepositoryUri", env)
		assert.Empty(t, resources(envs[env].raw["compute"], "AWS::ECR::Repository"), "%s: compute owns no repository", env)
	}

	s := imageTagSynth(t)
	compute := s.raw["compute"]
	_, task := serviceTaskDefinition(t, compute)
	image := jsonOf(asList(props(task)["ContainerDefinitions"])[0].(map[string]any)["Image"])
	assert.Contains(t, image, "tsa-prod-network", "the image comes from the network stack's repository")
	assert.Contains(t, image, ":"+pushedTag, "the configured tag")
	var pull bool
	for _, pol := range resources(compute, "AWS::IAM::Policy") {
		for _, st := range asList(props(pol)["PolicyDocument"].(map[string]any)["Statement"]) {
			sm := st.(map[string]any)
			if strings.Contains(jsonOf(sm["Action"]), "ecr:BatchGetImage") {
				pull = true
				assert.Contains(t, jsonOf(sm["Resource"]), "tsa-prod-network", "pull rights on the network stack's repository only")
			}
		}
	}
	assert.True(t, pull, "the execution role can pull the tag")
}
