package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// SiteDeploymentRoleProps names what the site deployment may touch.
type SiteDeploymentRoleProps struct {
	// Bucket receives the site files (read, write, delete: s3 sync --delete).
	Bucket awss3.IBucket
	// Distribution is the only one whose cache it may invalidate.
	Distribution awscloudfront.IDistribution
}

// SiteDeploymentRole is the role of aws-cdk-lib's BucketDeployment handler,
// narrowed to what the handler does (aws-cdk-lib 2.276
// custom-resource-handlers/.../bucket-deployment-handler/index.py):
//
//   - s3:GetObject on the exact S3 objects of the deployments' sources
//     (`aws s3 cp s3://bucket/key`), not the whole CDK asset bucket that
//     Source.asset's grant opens;
//   - read, write and delete objects of the site bucket (`aws s3 sync`,
//     `aws s3 rm`, GetBucketTagging, HeadObject), as BucketDeployment
//     grants it;
//   - cloudfront:CreateInvalidation and GetInvalidation on this
//     distribution's ARN, which both actions accept (Service Authorization
//     Reference, Amazon CloudFront: resource type distribution), instead of
//     BucketDeployment's "*";
//   - logs:CreateLogStream and PutLogEvents on the handler's own log group,
//     instead of AWSLambdaBasicExecutionRole (any log group in the account).
//
// BucketDeployment takes Handler (the role without policy updates), so its
// own grants are dropped and only these statements apply.
type SiteDeploymentRole struct {
	cdkconstructs.Construct
	// Role holds the policy; Handler is what BucketDeploymentProps.Role takes.
	Role    awsiam.Role
	Handler awsiam.IRole

	sources awsiam.PolicyStatement
	// logs is a policy of its own: the handler's log group is named after
	// the function, which depends on the role's default policy, so a grant
	// there would be a dependency cycle.
	logs     awsiam.Policy
	logsSeen map[string]bool
}

// NewSiteDeploymentRole creates the role with its site-bucket and
// invalidation grants; Source adds each source's object, Attach the logs.
func NewSiteDeploymentRole(scope cdkconstructs.Construct, id string, props *SiteDeploymentRoleProps) *SiteDeploymentRole {
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	role := awsiam.NewRole(this, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Site deployment (aws-cdk-lib BucketDeployment handler): its own assets, the site bucket, this distribution's invalidations"),
	})
	props.Bucket.GrantReadWrite(role, nil)
	props.Distribution.Grant(role, jsii.String("cloudfront:CreateInvalidation"), jsii.String("cloudfront:GetInvalidation"))
	sources := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("s3:GetObject")})
	return &SiteDeploymentRole{
		Construct: this,
		Role:      role,
		Handler:   role.WithoutPolicyUpdates(&awsiam.WithoutPolicyUpdatesOptions{AddGrantsToResources: jsii.Bool(false)}),
		sources:   sources,
		logs:      awsiam.NewPolicy(this, jsii.String("Logs"), &awsiam.PolicyProps{Roles: &[]awsiam.IRole{role}}),
		logsSeen:  map[string]bool{},
	}
}

// Source binds src (an asset, or data that becomes one) here, lets the role
// read that one object, and returns the same object as a source for a
// BucketDeployment whose Role is Handler.
func (r *SiteDeploymentRole) Source(src awss3deployment.ISource) awss3deployment.ISource {
	cfg := src.Bind(r.Construct, &awss3deployment.DeploymentSourceContext{HandlerRole: r.Handler})
	if cfg.Markers != nil && len(*cfg.Markers) > 0 {
		// Source.bucket would drop the markers (deploy-time values).
		panic("SiteDeploymentRole: sources with deploy-time markers are not supported")
	}
	if len(*r.sources.Resources()) == 0 {
		r.Role.AddToPrincipalPolicy(r.sources)
	}
	r.sources.AddResources(cfg.Bucket.ArnForObjects(cfg.ZipObjectKey))
	return awss3deployment.Source_Bucket(cfg.Bucket, cfg.ZipObjectKey)
}

// Attach lets the deployment's handler write its own log group, and makes
// the deployment wait for that group and that grant so that the handler's
// first run is logged. Call it for every BucketDeployment that uses Handler.
func (r *SiteDeploymentRole) Attach(deployment awss3deployment.BucketDeployment) {
	child := deployment.Node().TryFindChild(jsii.String("CustomResourceHandler"))
	handler, ok := child.(awslambda.SingletonFunction)
	if !ok {
		panic(fmt.Sprintf("SiteDeploymentRole: %s has no CustomResourceHandler singleton function (aws-cdk-lib changed)", *deployment.Node().Path()))
	}
	if *handler.Role().Node().Path() != *r.Handler.Node().Path() {
		panic(fmt.Sprintf("SiteDeploymentRole: %s runs with another role; give it Role: Handler", *deployment.Node().Path()))
	}
	group := handler.LogGroup()
	if path := *group.Node().Path(); !r.logsSeen[path] {
		r.logs.AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: jsii.Strings(*group.LogGroupArn()),
		}))
		r.logsSeen[path] = true
	}
	// The custom resource, not the whole deployment: its AWS CLI layer is
	// an input of the function the log group is named after.
	var invocations int
	for _, c := range *deployment.Node().Children() {
		if cr, ok := c.(awscdk.CustomResource); ok {
			cr.Node().AddDependency(group, r.logs)
			invocations++
		}
	}
	if invocations != 1 {
		panic(fmt.Sprintf("SiteDeploymentRole: %s has %d custom resources, want 1 (aws-cdk-lib changed)", *deployment.Node().Path(), invocations))
	}
}
