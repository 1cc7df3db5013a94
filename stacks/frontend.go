package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// FrontendStackProps configures the frontend stack.
type FrontendStackProps struct {
	awscdk.StackProps
	Config *config.Config
	// Edge holds the web ACL (nil without frontend.waf).
	Edge         *EdgeStack
	LoadBalancer elbv2.IApplicationLoadBalancer
	AlarmTopic   awssns.ITopic
	// ServiceAlarms and DatabaseAlarms (nil without RDS) feed the dashboard.
	ServiceAlarms  *tsaconstructs.ServiceAlarms
	DatabaseAlarms *tsaconstructs.DatabaseAlarms
}

// FrontendStack owns the site bucket and the CloudFront distribution that
// serves it and routes /api/* to the internal ALB.
type FrontendStack struct {
	awscdk.Stack
	Bucket       awss3.Bucket
	LogBucket    awss3.Bucket
	Distribution awscloudfront.Distribution
	SiteURL      *string
	Alarms       *tsaconstructs.DistributionAlarms
	// Deployment is the scoped role of the site deployments' handler.
	Deployment *tsaconstructs.SiteDeploymentRole
	// Dashboard is nil unless monitoring.dashboard is on.
	Dashboard *tsaconstructs.Dashboard
}

// APIPathPattern is the CloudFront behaviour routed to the API.
const APIPathPattern = "/api/*"

// ViewerSecurityPolicy is the distribution's minimum TLS policy with a
// custom domain: TLS 1.2 and 1.3 with forward-secret AEAD ciphers only
// ("Supported protocols and ciphers between viewers and CloudFront",
// CloudFront Developer Guide). TLSv1.3_2025 would refuse clients that stop
// at TLS 1.2 (older API writers and devices).
const ViewerSecurityPolicy = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2025

// DefaultCertificateWarning is the id of the synth warning a prod-profile
// environment without a custom domain gets.
const DefaultCertificateWarning = "@tsa/frontend:default-certificate"

// ContentSecurityPolicy allows only same-origin scripts, styles and API calls:
// the page and the API share one HTTPS origin.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; upgrade-insecure-requests"

// spaRewrite serves the app shell for client-side routes (anything that is
// not a static file type, so /series/cpu.load still reaches the app). It runs
// on the default (S3) behaviour only, so API 404s stay API 404s.
const spaRewrite = `var assets = /\.(html|js|mjs|css|json|map|txt|xml|webmanifest|ico|png|jpe?g|gif|svg|webp|avif|woff2?|ttf|otf|wasm)$/i;
function handler(event) {
  var request = event.request;
  if (!assets.test(request.uri)) {
    request.uri = '/index.html';
  }
  return request;
}`

var priceClasses = map[string]awscloudfront.PriceClass{
	"PriceClass_100": awscloudfront.PriceClass_PRICE_CLASS_100,
	"PriceClass_200": awscloudfront.PriceClass_PRICE_CLASS_200,
	"PriceClass_All": awscloudfront.PriceClass_PRICE_CLASS_ALL,
}

// NewFrontendStack creates the private bucket, the distribution and the
// deployment of the built site plus its generated config.json.
func NewFrontendStack(scope constructs.Construct, id string, props *FrontendStackProps) *FrontendStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	f := cfg.Frontend
	prod := cfg.Production()

	logBucket := awss3.NewBucket(stack, jsii.String("LogBucket"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		// CloudFront standard logs are delivered with an ACL.
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		RemovalPolicy:     removal(cfg),
		AutoDeleteObjects: jsii.Bool(!prod),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration: awscdk.Duration_Days(jsii.Number(float64(cfg.Backend.LogRetentionDays))),
		}},
	})

	bucket := awss3.NewBucket(stack, jsii.String("SiteBucket"), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:              jsii.Bool(prod),
		RemovalPolicy:          removal(cfg),
		AutoDeleteObjects:      jsii.Bool(!prod),
		ServerAccessLogsBucket: logBucket,
		ServerAccessLogsPrefix: jsii.String("s3/"),
	})

	headers := awscloudfront.NewResponseHeadersPolicy(stack, jsii.String("SecurityHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment: jsii.String(fmt.Sprintf("%s %s security headers", config.Project, cfg.Name)),
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{ContentSecurityPolicy: jsii.String(ContentSecurityPolicy), Override: jsii.Bool(true)},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
				AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(730)), IncludeSubdomains: jsii.Bool(true), Override: jsii.Bool(true),
			},
			ContentTypeOptions: &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			FrameOptions:       &awscloudfront.ResponseHeadersFrameOptions{FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(true)},
			ReferrerPolicy:     &awscloudfront.ResponseHeadersReferrerPolicy{ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_STRICT_ORIGIN_WHEN_CROSS_ORIGIN, Override: jsii.Bool(true)},
		},
		CustomHeadersBehavior: &awscloudfront.ResponseCustomHeadersBehavior{CustomHeaders: &[]*awscloudfront.ResponseCustomHeader{
			{Header: jsii.String("Permissions-Policy"), Value: jsii.String("camera=(), microphone=(), geolocation=()"), Override: jsii.Bool(true)},
		}},
		RemoveHeaders: jsii.Strings("Server"),
	})

	rewrite := awscloudfront.NewFunction(stack, jsii.String("SpaRewrite"), &awscloudfront.FunctionProps{
		Code:    awscloudfront.FunctionCode_FromInline(jsii.String(spaRewrite)),
		Runtime: awscloudfront.FunctionRuntime_JS_2_0(),
		Comment: jsii.String("Serve index.html for client-side routes"),
	})

	apiOrigin := awscloudfrontorigins.VpcOrigin_WithApplicationLoadBalancer(props.LoadBalancer, &awscloudfrontorigins.VpcOriginWithEndpointProps{
		ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTP_ONLY,
		HttpPort:       jsii.Number(listenerPort),
		ReadTimeout:    awscdk.Duration_Seconds(jsii.Number(30)),
	})

	distProps := &awscloudfront.DistributionProps{
		Comment:           jsii.String(fmt.Sprintf("%s %s site and API", config.Project, cfg.Name)),
		DefaultRootObject: jsii.String("index.html"),
		HttpVersion:       awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:        priceClasses[f.PriceClass],
		EnableLogging:     jsii.Bool(true),
		LogBucket:         logBucket,
		LogFilePrefix:     jsii.String("cloudfront/"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(bucket, nil),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			ResponseHeadersPolicy: headers,
			Compress:              jsii.Bool(true),
			FunctionAssociations: &[]*awscloudfront.FunctionAssociation{{
				Function: rewrite, EventType: awscloudfront.FunctionEventType_VIEWER_REQUEST,
			}},
		},
		AdditionalBehaviors: &map[string]*awscloudfront.BehaviorOptions{
			APIPathPattern: {
				Origin:                apiOrigin,
				ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
				AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_ALL(),
				CachePolicy:           awscloudfront.CachePolicy_CACHING_DISABLED(),
				OriginRequestPolicy:   awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
				ResponseHeadersPolicy: headers,
				Compress:              jsii.Bool(true),
			},
		},
	}
	if f.DomainName != "" {
		distProps.DomainNames = jsii.Strings(f.DomainName)
		distProps.Certificate = awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(f.CertificateArn))
		distProps.MinimumProtocolVersion = ViewerSecurityPolicy
	}
	if props.Edge != nil {
		// AWS WAF (v2) web ACLs are attached by ARN in the distribution's
		// configuration ("Resources that you can protect with AWS WAF").
		distProps.WebAclId = props.Edge.WebACLArnFor(stack)
	}
	dist := awscloudfront.NewDistribution(stack, jsii.String("Distribution"), distProps)
	if f.DomainName == "" && prod {
		// On the default certificate CloudFront sets the security policy to
		// TLSv1 whatever the template says (CloudFront API,
		// ViewerCertificate.MinimumProtocolVersion); config validation
		// admits it in production only with a reason, printed here.
		awscdk.Annotations_Of(dist).AddWarningV2(jsii.String(DefaultCertificateWarning), jsii.String(fmt.Sprintf(
			"%s serves production on the default *.cloudfront.net certificate, on which CloudFront accepts TLS 1.0 and 1.1 (set frontend.domainName and certificateArn for TLS 1.2 and later). Reason given in frontend.allowDefaultCertificate: %s",
			*stack.StackName(), strings.TrimSpace(f.AllowDefaultCertificate))), nil)
	}

	siteURL := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), dist.DistributionDomainName()})
	if f.DomainName != "" {
		siteURL = jsii.String("https://" + f.DomainName)
	}
	if f.HostedZoneID != "" {
		zone := awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
			HostedZoneId: jsii.String(f.HostedZoneID),
			ZoneName:     jsii.String(f.HostedZoneName),
		})
		target := awsroute53.RecordTarget_FromAlias(awsroute53targets.NewCloudFrontTarget(dist))
		awsroute53.NewARecord(stack, jsii.String("AliasA"), &awsroute53.ARecordProps{Zone: zone, RecordName: jsii.String(f.DomainName), Target: target})
		awsroute53.NewAaaaRecord(stack, jsii.String("AliasAAAA"), &awsroute53.AaaaRecordProps{Zone: zone, RecordName: jsii.String(f.DomainName), Target: target})
	}

	// Fingerprint-free sample assets get a short cache life; the shell and its
	// config are never cached by browsers and are invalidated on every deploy.
	// Both deployments share one handler, whose role reads only their
	// sources, writes only the site bucket and invalidates only this
	// distribution (constructs/sitedeployment.go).
	site := cfg.Path(f.SourceDir)
	fresh := []string{"index.html", "config.json"}
	deployer := tsaconstructs.NewSiteDeploymentRole(stack, "SiteDeployment", &tsaconstructs.SiteDeploymentRoleProps{Bucket: bucket, Distribution: dist})
	siteFiles := deployer.Source(awss3deployment.Source_Asset(jsii.String(site), nil))
	assets := awss3deployment.NewBucketDeployment(stack, jsii.String("DeployAssets"), &awss3deployment.BucketDeploymentProps{
		Sources:           &[]awss3deployment.ISource{siteFiles},
		DestinationBucket: bucket,
		Exclude:           jsii.Strings(fresh...),
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_FromString(jsii.String("public, max-age=300"))},
		MemoryLimit:       jsii.Number(512),
		Role:              deployer.Handler,
	})
	shell := awss3deployment.NewBucketDeployment(stack, jsii.String("DeployShell"), &awss3deployment.BucketDeploymentProps{
		Sources: &[]awss3deployment.ISource{
			siteFiles,
			deployer.Source(awss3deployment.Source_JsonData(jsii.String("config.json"), map[string]any{
				"apiBaseUrl":  "/api",
				"environment": cfg.Name,
			}, nil)),
		},
		DestinationBucket: bucket,
		Exclude:           jsii.Strings("*"),
		Include:           jsii.Strings(fresh...),
		Prune:             jsii.Bool(false),
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_FromString(jsii.String("no-cache"))},
		Distribution:      dist,
		DistributionPaths: jsii.Strings("/index.html", "/config.json"),
		MemoryLimit:       jsii.Number(512),
		Role:              deployer.Handler,
	})
	deployer.Attach(assets)
	deployer.Attach(shell)

	output(stack, "SiteUrl", siteURL, "URL of the web app")
	output(stack, "ApiUrl", awscdk.Fn_Join(jsii.String(""), &[]*string{siteURL, jsii.String("/api")}), "Base URL of the API (same origin as the site)")
	output(stack, "DistributionId", dist.DistributionId(), "CloudFront distribution ID (for invalidations)")
	output(stack, "DistributionDomainName", dist.DistributionDomainName(), "CloudFront domain name (CNAME target for a custom domain)")
	output(stack, "SiteBucketName", bucket.BucketName(), "S3 bucket holding the site files")

	// CloudFront 5xx alarm and the environment's dashboard (monitoring.go).
	cdnAlarms, dashboard := newFrontendMonitoring(stack, cfg, props.AlarmTopic, dist, props.ServiceAlarms, props.DatabaseAlarms)
	if dashboard != nil {
		output(stack, "DashboardName", dashboard.Dashboard.DashboardName(), "CloudWatch dashboard of the environment")
	}

	return &FrontendStack{Stack: stack, Bucket: bucket, LogBucket: logBucket, Distribution: dist, SiteURL: siteURL, Alarms: cdnAlarms, Dashboard: dashboard, Deployment: deployer}
}
