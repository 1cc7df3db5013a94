package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// CloudFrontWAFRegion is where a web ACL of scope CLOUDFRONT must be created
// ("Resources that you can protect with AWS WAF", AWS WAF Developer Guide:
// for CloudFront distributions, US East (N. Virginia)).
const CloudFrontWAFRegion = "us-east-1"

// Rule names of the site's web ACL, in evaluation order.
const (
	RuleIPReputation   = "AmazonIpReputationList"
	RuleAPIRateLimit   = "ApiRateLimit"
	RuleKnownBadInputs = "KnownBadInputs"
	RuleCoreRuleSet    = "CoreRuleSet"
)

// AWS managed rule groups the web ACL uses ("AWS Managed Rules rule groups
// list", AWS WAF Developer Guide), with their capacity (WCU).
const (
	ManagedIPReputation   = "AWSManagedRulesAmazonIpReputationList" // 25 WCU
	ManagedKnownBadInputs = "AWSManagedRulesKnownBadInputsRuleSet"  // 200 WCU
	ManagedCoreRuleSet    = "AWSManagedRulesCommonRuleSet"          // 700 WCU
)

// CoreRuleSetBodySizeRule blocks request bodies over 8 KB in the core rule
// set ("Baseline rule groups", AWS WAF Developer Guide).
const CoreRuleSetBodySizeRule = "SizeRestrictions_BODY"

// SiteWebACLProps configures the web ACL in front of a distribution that
// serves a single-page app and a JSON API under APIPathPrefix.
type SiteWebACLProps struct {
	// Name of the web ACL; also the prefix of its CloudWatch metric names.
	Name string
	// APIPathPrefix is the URI path prefix of the API, e.g. "/api/".
	APIPathPrefix string
	// APIRateLimit requests to the API per client IP within
	// RateWindowSeconds are allowed; more are answered 429.
	APIRateLimit      int
	RateWindowSeconds int
}

// SiteWebACL is an AWS WAF web ACL of scope CLOUDFRONT; its stack must be
// deployed to us-east-1. Requests pass unless a rule blocks them:
//
//  1. Amazon IP reputation list: sources AWS threat intelligence lists as
//     bots, reconnaissance or DDoS participants.
//  2. Rate limit on the API: a client IP (the viewer address CloudFront
//     sees) sending more than APIRateLimit requests under APIPathPrefix in
//     RateWindowSeconds gets 429 Too Many Requests until its rate drops.
//     Static files are cached by CloudFront and not limited.
//  3. Known bad inputs: request patterns of known exploits (Log4j, Java
//     deserialization, localhost Host headers, exploitable paths).
//  4. Core rule set (OWASP-style XSS, LFI/RFI, SSRF, bad bots, size limits),
//     except that SizeRestrictions_BODY only counts: the API accepts batch
//     writes of up to 1 MiB and enforces that limit itself, and the
//     site's S3 behaviour takes no request bodies (GET and HEAD only).
//
// The managed groups weigh 925 WCU and the rate rule a few more, within the
// 1,500 WCU the base price covers (more would add a per-request charge).
type SiteWebACL struct {
	cdkconstructs.Construct
	WebACL awswafv2.CfnWebACL
	// Arn is what a distribution's WebACLId takes for AWS WAF (v2).
	Arn *string
}

// NewSiteWebACL creates the web ACL.
func NewSiteWebACL(scope cdkconstructs.Construct, id string, props *SiteWebACLProps) *SiteWebACL {
	if props.Name == "" || props.APIPathPrefix == "" || props.APIRateLimit == 0 || props.RateWindowSeconds == 0 {
		panic("SiteWebACL: Name, APIPathPrefix, APIRateLimit and RateWindowSeconds are required")
	}
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	if region := awscdk.Stack_Of(this).Region(); !*awscdk.Token_IsUnresolved(region) && *region != CloudFrontWAFRegion {
		panic(fmt.Sprintf("SiteWebACL: a web ACL for CloudFront must be created in %s, not %s", CloudFrontWAFRegion, *region))
	}
	visibility := func(metric string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true),
			MetricName:               jsii.String(props.Name + "-" + metric),
			SampledRequestsEnabled:   jsii.Bool(true),
		}
	}
	managed := func(priority int, name, group, metric string, overrides ...*awswafv2.CfnWebACL_RuleActionOverrideProperty) *awswafv2.CfnWebACL_RuleProperty {
		stmt := &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{VendorName: jsii.String("AWS"), Name: jsii.String(group)}
		if len(overrides) > 0 {
			stmt.RuleActionOverrides = overrides
		}
		return &awswafv2.CfnWebACL_RuleProperty{
			Name:             jsii.String(name),
			Priority:         jsii.Number(float64(priority)),
			OverrideAction:   &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
			Statement:        &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: stmt},
			VisibilityConfig: visibility(metric),
		}
	}
	rateLimit := &awswafv2.CfnWebACL_RuleProperty{
		Name:     jsii.String(RuleAPIRateLimit),
		Priority: jsii.Number(1),
		Action: &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{
			CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{ResponseCode: jsii.Number(429)},
		}},
		Statement: &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
			AggregateKeyType:    jsii.String("IP"),
			Limit:               jsii.Number(float64(props.APIRateLimit)),
			EvaluationWindowSec: jsii.Number(float64(props.RateWindowSeconds)),
			// Only API requests are counted and limited. The path is matched
			// as CloudFront routes it: case-sensitive, untransformed.
			ScopeDownStatement: &awswafv2.CfnWebACL_StatementProperty{ByteMatchStatement: &awswafv2.CfnWebACL_ByteMatchStatementProperty{
				FieldToMatch:         &awswafv2.CfnWebACL_FieldToMatchProperty{UriPath: map[string]any{}},
				PositionalConstraint: jsii.String("STARTS_WITH"),
				SearchString:         jsii.String(props.APIPathPrefix),
				TextTransformations:  &[]*awswafv2.CfnWebACL_TextTransformationProperty{{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
			}},
		}},
		VisibilityConfig: visibility("api-rate-limit"),
	}
	acl := awswafv2.NewCfnWebACL(this, jsii.String("Resource"), &awswafv2.CfnWebACLProps{
		Name:          jsii.String(props.Name),
		Description:   jsii.String("Site and API: IP reputation, API rate limit, known bad inputs, core rule set"),
		Scope:         jsii.String("CLOUDFRONT"),
		DefaultAction: &awswafv2.CfnWebACL_DefaultActionProperty{Allow: map[string]any{}},
		Rules: &[]any{
			managed(0, RuleIPReputation, ManagedIPReputation, "ip-reputation"),
			rateLimit,
			managed(2, RuleKnownBadInputs, ManagedKnownBadInputs, "known-bad-inputs"),
			managed(3, RuleCoreRuleSet, ManagedCoreRuleSet, "core-rule-set", &awswafv2.CfnWebACL_RuleActionOverrideProperty{
				Name:        jsii.String(CoreRuleSetBodySizeRule),
				ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: map[string]any{}},
			}),
		},
		VisibilityConfig: visibility("all"),
	})
	return &SiteWebACL{Construct: this, WebACL: acl, Arn: acl.AttrArn()}
}
