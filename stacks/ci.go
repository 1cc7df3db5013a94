package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tsa-platform/infra/config"
)

// The keyless CI stack (tsa-ci), one per AWS account, selected with
// `-c ci=ACCOUNT` (Build): GitHub's OIDC provider and three roles that only
// workflows of the configured repository can assume, each for a short
// session and without any long-lived key.
//
//   - deploy: jobs in the GitHub environment of one of the account's
//     environments (or pr-stages): assume the CDK bootstrap roles, which do
//     the deploying, and push to the environments' image repositories.
//   - diff: pull request jobs: read the deployed templates of the account's
//     environments (`cdk diff --method template`), nothing else.
//   - smoke: the deploy jobs again: what cmd/smoke reads after a deploy.

// CDKQualifier is the bootstrap qualifier the stacks' synthesizer uses
// (aws-cdk-lib's default; `cdk bootstrap` creates the roles with it).
const CDKQualifier = "hnb659fds"

// CDKBootstrapRoles are the roles `cdk bootstrap` creates that the CLI
// assumes: deploy (CloudFormation calls), file and image publishing
// (assets), lookup (reading deployed templates for the pre-deploy diff).
// The cfn-exec role is CloudFormation's, passed by the deploy role.
var CDKBootstrapRoles = []string{"deploy", "file-publishing", "image-publishing", "lookup"}

// ApiKeyLogicalID is the compute stack's API key secret (pinned by
// TestStatefulResourcesKeepTheirLogicalIDs). CloudFormation names a secret
// without a Name "<logical ID>-<random>" (Secrets Manager User Guide, "Create
// an AWS Secrets Manager secret with CloudFormation"), so the smoke role can
// name the API keys, and no other secret, by ARN.
const ApiKeyLogicalID = "ApiKeyF9DDEE66"

// ECRPushActions are what pushing an image to one repository needs (Amazon
// ECR User Guide, "IAM permissions for pushing an image to an Amazon ECR
// private repository"); BatchGetImage also reads a tag's digest back.
var ECRPushActions = []string{
	"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
	"ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
}

// ciSessionHours: the OIDC session must outlast the longest deploy (a first
// `--all` creates a database and a CloudFront distribution); the CLI's
// chained bootstrap-role sessions renew from it.
const ciSessionHours = 2

// CIStack is one account's keyless CI credentials.
type CIStack struct {
	awscdk.Stack
	Provider   awsiam.IOidcProvider
	DeployRole awsiam.Role
	DiffRole   awsiam.Role
	SmokeRole  awsiam.Role
}

// NewCIStack adds the CI stack of one account to the app.
func NewCIStack(app awscdk.App, cfg *config.CIConfig) *CIStack {
	props := &awscdk.StackProps{
		StackName:             jsii.String(config.CIStackName),
		Description:           jsii.String(fmt.Sprintf("%s CI (account %s: %s): GitHub OIDC and the roles workflows of %s assume", config.Project, cfg.Name, strings.Join(envNames(cfg), ", "), cfg.GitHub.Repository)),
		TerminationProtection: jsii.Bool(cfg.Production()),
	}
	if cfg.AccountID != "" {
		props.Env = &awscdk.Environment{Account: jsii.String(cfg.AccountID), Region: jsii.String(cfg.Region)}
	}
	stack := awscdk.NewStack(app, jsii.String(config.CIStackName), props)
	tagAll(app, map[string]string{"project": config.Project})
	checkNag(app)
	s := &CIStack{Stack: stack}

	if cfg.Account.ExistingOidcProvider {
		arn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""), Resource: jsii.String("oidc-provider"), ResourceName: jsii.String(config.GitHubOIDCHost)})
		s.Provider = awsiam.OidcProviderNative_FromOidcProviderArn(stack, jsii.String("GitHubOidc"), arn)
	} else {
		// No thumbprint: IAM verifies GitHub's OIDC endpoint against its
		// library of trusted root CAs (IAM API Reference,
		// UpdateOpenIDConnectProviderThumbprint), so a pinned thumbprint would
		// only be ignored.
		s.Provider = awsiam.NewOidcProviderNative(stack, jsii.String("GitHubOidc"), &awsiam.OidcProviderNativeProps{
			Url:       jsii.String("https://" + config.GitHubOIDCHost),
			ClientIds: jsii.Strings(config.GitHubOIDCAud),
		})
	}

	s.DeployRole = ciRole(stack, "DeployRole", config.CIDeployRoleName, s.Provider, cfg.DeploySubjects(),
		"Deploys "+strings.Join(envNames(cfg), ", ")+" through the CDK bootstrap roles and pushes their API images", deployPolicy(stack, cfg))
	s.DiffRole = ciRole(stack, "DiffRole", config.CIDiffRoleName, s.Provider, cfg.DiffSubjects(),
		"Reads the deployed templates of "+strings.Join(envNames(cfg), ", ")+" for cdk diff", diffPolicy(stack, cfg))
	s.SmokeRole = ciRole(stack, "SmokeRole", config.CISmokeRoleName, s.Provider, cfg.DeploySubjects(),
		"Reads what cmd/smoke checks after a deploy", smokePolicy(stack))

	output(stack, "DeployRoleArn", s.DeployRole.RoleArn(), "Role deploy jobs assume (configure-aws-credentials role-to-assume)")
	output(stack, "DiffRoleArn", s.DiffRole.RoleArn(), "Role pull request diff jobs assume")
	output(stack, "SmokeRoleArn", s.SmokeRole.RoleArn(), "Role the smoke check after a deploy assumes")

	for _, sup := range CISuppressions() {
		cdknag.NagSuppressions_AddResourceSuppressionsByPath(stack, jsii.String("/"+config.CIStackName+"/"+sup.Path), &[]*cdknag.NagPackSuppression{{
			Id: jsii.String(sup.Rule), Reason: jsii.String(sup.Reason), AppliesTo: appliesTo(sup.AppliesTo),
		}}, jsii.Bool(false))
	}
	return s
}

func envNames(cfg *config.CIConfig) []string {
	var names []string
	for _, e := range cfg.Environments {
		names = append(names, e.Name)
	}
	return names
}

// ciRole is a role only the given GitHub jobs can assume: the token's
// audience must be sts.amazonaws.com and its subject one of subjects, both
// compared exactly (StringEquals; no wildcard can widen them). AWS IAM User
// Guide, "Configuring a role for GitHub OIDC identity provider".
func ciRole(stack awscdk.Stack, id, name string, provider awsiam.IOidcProvider, subjects []string, what string, policy awsiam.PolicyDocument) awsiam.Role {
	return awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{
		RoleName: jsii.String(name),
		AssumedBy: awsiam.NewWebIdentityPrincipal(provider.OidcProviderArn(), &map[string]any{
			"StringEquals": map[string]any{
				config.GitHubOIDCHost + ":aud": config.GitHubOIDCAud,
				config.GitHubOIDCHost + ":sub": subjects,
			},
		}),
		Description:        jsii.String(what),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(ciSessionHours)),
		InlinePolicies:     &map[string]awsiam.PolicyDocument{"Permissions": policy},
	})
}

func statement(actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

// deployPolicy: assume the bootstrap roles of the account and region, push
// to the image repository of each environment, and get the registry login
// token (ecr:GetAuthorizationToken has no resource-level permissions).
func deployPolicy(stack awscdk.Stack, cfg *config.CIConfig) awsiam.PolicyDocument {
	var roles []*string
	for _, r := range CDKBootstrapRoles {
		roles = append(roles, awscdk.Fn_Sub(jsii.String(fmt.Sprintf("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-%s-%s-role-${AWS::AccountId}-${AWS::Region}", CDKQualifier, r)), nil))
	}
	var repos []*string
	for _, e := range cfg.Environments {
		repos = append(repos, repositoryArn(e))
	}
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		statement([]string{"sts:AssumeRole"}, roles...),
		statement(ECRPushActions, repos...),
		statement([]string{"ecr:GetAuthorizationToken"}, jsii.String("*")),
	}})
}

// repositoryArn is the ARN of an environment's image repository, read from
// its network stack's RepositoryArn output when the CI stack deploys
// (Fn::GetStackOutput, a weak reference: the network stack is deployed
// first, and its repository keeps its name for good).
func repositoryArn(env *config.Config) *string {
	return awscdk.Token_AsString(map[string]any{"Fn::GetStackOutput": map[string]any{
		"StackName":  env.StackName("network"),
		"OutputName": "RepositoryArn",
	}}, nil)
}

// stackArns are the CloudFormation stacks named tsa-<pattern>-... of the
// account and region.
func stackArns(pattern string) *string {
	return awscdk.Fn_Sub(jsii.String(fmt.Sprintf("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/%s-%s/*", config.Project, pattern)), nil)
}

// diffPolicy: what `cdk diff --method template` reads when it proceeds with
// these credentials (DescribeStacks and GetTemplate of each stack), on the
// environments' stacks only. It does not get the lookup role: that role has
// ReadOnlyAccess to the whole account, and any pull request can assume this
// one.
func diffPolicy(stack awscdk.Stack, cfg *config.CIConfig) awsiam.PolicyDocument {
	var arns []*string
	for _, e := range cfg.Environments {
		arns = append(arns, stackArns(e.Name+"-*"))
	}
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		statement([]string{"cloudformation:DescribeStacks", "cloudformation:GetTemplate"}, arns...),
	}})
}

// smokePolicy: cmd/smoke's reads (README, Smoke check): the outputs of the
// stacks (environments' and stages'), the API keys, and the load balancer.
func smokePolicy(stack awscdk.Stack) awsiam.PolicyDocument {
	apiKeys := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: &[]*string{awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"+ApiKeyLogicalID+"-*"), nil)},
		Conditions: &map[string]any{"StringEquals": map[string]any{
			"aws:ResourceTag/project": config.Project,
		}},
	})
	// Production encrypts the API key with its customer-managed data key;
	// reading the secret then needs kms:Decrypt through Secrets Manager. The
	// key is matched by the project tag every resource of the app carries
	// ("Use tags to control access to KMS keys", AWS KMS Developer Guide).
	apiKeyKeys := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:Decrypt"),
		Resources: &[]*string{awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"), nil)},
		Conditions: &map[string]any{"StringEquals": map[string]any{
			"aws:ResourceTag/project": config.Project,
			"kms:ViaService":          awscdk.Fn_Sub(jsii.String("secretsmanager.${AWS::Region}.amazonaws.com"), nil),
		}},
	})
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		statement([]string{"cloudformation:DescribeStacks"}, stackArns("*")),
		apiKeys,
		apiKeyKeys,
		statement([]string{"elasticloadbalancing:DescribeLoadBalancers"}, jsii.String("*")),
	}})
}

// CISuppressions are the CI stack's exceptions to the AWS Solutions rules.
func CISuppressions() []Suppression {
	return []Suppression{
		{Stack: "ci", Path: "DeployRole/Resource", Rule: "AwsSolutions-IAM5",
			AppliesTo: []string{"Resource::*"},
			Reason:    "ecr:GetAuthorizationToken has no resource-level permissions; the role's other statements name the four CDK bootstrap roles and the environments' image repositories"},
		{Stack: "ci", Path: "DiffRole/Resource", Rule: "AwsSolutions-IAM5",
			AppliesTo: []string{`/^Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack\/tsa-[a-z0-9]+-\*\/\*$/`},
			Reason:    "CloudFormation stack ARNs end in a generated stack ID; the wildcards cover the IDs of the environments' own stacks (tsa-ENV-*), which the role may only describe and read the template of"},
		{Stack: "ci", Path: "SmokeRole/Resource", Rule: "AwsSolutions-IAM5",
			AppliesTo: []string{
				"Resource::*",
				"Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/tsa-*/*",
				"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + ApiKeyLogicalID + "-*",
				"Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*",
			},
			Reason: "elasticloadbalancing:DescribeLoadBalancers has no resource-level permissions; stages have names only known when they deploy, so stacks are matched by the tsa- prefix (describe only); CloudFormation suffixes the API key secrets' names, so they are matched by their logical ID and the project tag; the key that encrypts a production API key lives in another stack, so kms:Decrypt is limited to keys with the project tag, used through Secrets Manager"},
	}
}

func appliesTo(list []string) *[]any {
	if len(list) == 0 {
		return nil
	}
	out := make([]any, 0, len(list))
	for _, a := range list {
		if strings.HasPrefix(a, "/") {
			out = append(out, &cdknag.RegexAppliesTo{Regex: jsii.String(a)})
		} else {
			out = append(out, a)
		}
	}
	return &out
}
