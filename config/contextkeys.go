package config

import (
	"fmt"
	"slices"
	"strings"
)

// The context keys that belong to CDK rather than to this app. Everything in
// the context is one of these or one of appKeys; anything else is refused, so
// a misspelt -c key never synthesizes something other than what was typed.

// cdkFeatureFlags are the keys of aws-cdk-lib 2.276.0's feature-flag table
// (cx-api/lib/features.js, FLAGS). test/sources_test.go fails when the pinned
// aws-cdk-lib has others.
var cdkFeatureFlags = []string{
	"@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver",
	"@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId",
	"@aws-cdk/aws-apigateway:disableCloudWatchRole",
	"@aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard",
	"@aws-cdk/aws-apigateway:requestValidatorUniqueId",
	"@aws-cdk/aws-apigateway:usagePlanKeyOrderInsensitiveId",
	"@aws-cdk/aws-appsync:appSyncGraphQLAPIScopeLambdaPermission",
	"@aws-cdk/aws-appsync:useArnForSourceApiAssociationIdentifier",
	"@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig",
	"@aws-cdk/aws-batch:defaultToAL2023",
	"@aws-cdk/aws-cloudfront:defaultFunctionRuntimeV2_0",
	"@aws-cdk/aws-cloudfront:defaultSecurityPolicyTLSv1.2_2021",
	"@aws-cdk/aws-cloudfront:defaultViewerProtocolPolicyRedirectToHttps",
	"@aws-cdk/aws-cloudwatch-actions:changeLambdaPermissionLogicalIdForLambdaAction",
	"@aws-cdk/aws-codedeploy:removeAlarmsFromDeploymentGroup",
	"@aws-cdk/aws-codepipeline-actions:useNewDefaultBranchForCodeCommitSource",
	"@aws-cdk/aws-codepipeline:crossAccountKeyAliasStackSafeResourceName",
	"@aws-cdk/aws-codepipeline:crossAccountKeysDefaultValueToFalse",
	"@aws-cdk/aws-codepipeline:defaultPipelineTypeToV2",
	"@aws-cdk/aws-dynamodb:resourcePolicyPerReplica",
	"@aws-cdk/aws-dynamodb:retainTableReplica",
	"@aws-cdk/aws-ec2-alpha:useResourceIdForVpcV2Migration",
	"@aws-cdk/aws-ec2:bastionHostUseAmazonLinux2023ByDefault",
	"@aws-cdk/aws-ec2:ebsDefaultGp3Volume",
	"@aws-cdk/aws-ec2:ec2SumTImeoutEnabled",
	"@aws-cdk/aws-ec2:launchTemplateDefaultUserData",
	"@aws-cdk/aws-ec2:requirePrivateSubnetsForEgressOnlyInternetGateway",
	"@aws-cdk/aws-ec2:restrictDefaultSecurityGroup",
	"@aws-cdk/aws-ec2:uniqueImdsv2TemplateName",
	"@aws-cdk/aws-ecr-assets:dockerIgnoreSupport",
	"@aws-cdk/aws-ecs-patterns:removeDefaultDesiredCount",
	"@aws-cdk/aws-ecs-patterns:secGroupsDisablesImplicitOpenListener",
	"@aws-cdk/aws-ecs-patterns:uniqueTargetGroupId",
	"@aws-cdk/aws-ecs:arnFormatIncludesClusterName",
	"@aws-cdk/aws-ecs:disableExplicitDeploymentControllerForCircuitBreaker",
	"@aws-cdk/aws-ecs:reduceEc2FargateCloudWatchPermissions",
	"@aws-cdk/aws-ecs:removeDefaultDeploymentAlarm",
	"@aws-cdk/aws-ecs:removeEmptyLoadBalancers",
	"@aws-cdk/aws-efs:defaultEncryptionAtRest",
	"@aws-cdk/aws-efs:denyAnonymousAccess",
	"@aws-cdk/aws-efs:mountTargetOrderInsensitiveLogicalId",
	"@aws-cdk/aws-eks:defaultToAL2023",
	"@aws-cdk/aws-eks:nodegroupNameAttribute",
	"@aws-cdk/aws-eks:useNativeOidcProvider",
	"@aws-cdk/aws-elasticloadbalancingV2:albDualstackWithoutPublicIpv4SecurityGroupRulesDefault",
	"@aws-cdk/aws-elasticloadbalancingv2:networkLoadBalancerWithSecurityGroupByDefault",
	"@aws-cdk/aws-elasticloadbalancingv2:usePostQuantumTlsPolicy",
	"@aws-cdk/aws-events:eventsTargetQueueSameAccount",
	"@aws-cdk/aws-events:requireEventBusPolicySid",
	"@aws-cdk/aws-iam:importedRoleStackSafeDefaultPolicyName",
	"@aws-cdk/aws-iam:minimizePolicies",
	"@aws-cdk/aws-iam:oidcRejectUnauthorizedConnections",
	"@aws-cdk/aws-kms:aliasNameRef",
	"@aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal",
	"@aws-cdk/aws-kms:defaultKeyPolicies",
	"@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope",
	"@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages",
	"@aws-cdk/aws-lambda-nodejs:useLatestRuntimeVersion",
	"@aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy",
	"@aws-cdk/aws-lambda:recognizeLayerVersion",
	"@aws-cdk/aws-lambda:recognizeVersionProps",
	"@aws-cdk/aws-lambda:useCdkManagedLogGroup",
	"@aws-cdk/aws-opensearchservice:enableOpensearchMultiAzWithStandby",
	"@aws-cdk/aws-rds:auroraClusterChangeScopeOfInstanceParameterGroupWithEachParameters",
	"@aws-cdk/aws-rds:databaseProxyUniqueResourceName",
	"@aws-cdk/aws-rds:lowercaseDbIdentifier",
	"@aws-cdk/aws-rds:preventRenderingDeprecatedCredentials",
	"@aws-cdk/aws-rds:setCorrectValueForDatabaseInstanceReadReplicaInstanceResourceId",
	"@aws-cdk/aws-redshift:columnId",
	"@aws-cdk/aws-route53-patterns:useDistribution",
	"@aws-cdk/aws-route53-patters:useCertificate",
	"@aws-cdk/aws-route53-targets:userPoolDomainNameMethodWithoutCustomResource",
	"@aws-cdk/aws-s3:createDefaultLoggingPolicy",
	"@aws-cdk/aws-s3:grantWriteWithoutAcl",
	"@aws-cdk/aws-s3:keepNotificationInImportedBucket",
	"@aws-cdk/aws-s3:publicAccessBlockedByDefault",
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",
	"@aws-cdk/aws-s3:setUniqueReplicationRoleName",
	"@aws-cdk/aws-secretsmanager:parseOwnedSecretName",
	"@aws-cdk/aws-secretsmanager:useAttachedSecretResourcePolicyForSecretTargetAttachments",
	"@aws-cdk/aws-signer:signingProfileNamePassedToCfn",
	"@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption",
	"@aws-cdk/aws-stepfunctions-tasks:enableEmrServicePolicyV2",
	"@aws-cdk/aws-stepfunctions-tasks:evaluateExpressionDedicatedFunction",
	"@aws-cdk/aws-stepfunctions-tasks:fixRunEcsTaskPolicy",
	"@aws-cdk/aws-stepfunctions-tasks:httpInvokeDynamicJsonPathEndpoint",
	"@aws-cdk/aws-stepfunctions-tasks:useNewS3UriParametersForBedrockInvokeModelTask",
	"@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2",
	"@aws-cdk/cognito:logUserPoolClientSecretValue",
	"@aws-cdk/core:annotationsInValidationReport",
	"@aws-cdk/core:aspectPrioritiesMutating",
	"@aws-cdk/core:aspectStabilization",
	"@aws-cdk/core:automaticL1Traits",
	"@aws-cdk/core:cfnIncludeRejectComplexResourceUpdateCreatePolicyIntrinsics",
	"@aws-cdk/core:checkSecretUsage",
	"@aws-cdk/core:defaultCrossStackReferences",
	"@aws-cdk/core:enableAdditionalMetadataCollection",
	"@aws-cdk/core:enablePartitionLiterals",
	"@aws-cdk/core:enableStackNameDuplicates",
	"@aws-cdk/core:explicitStackTags",
	"@aws-cdk/core:includePrefixInUniqueNameGeneration",
	"@aws-cdk/core:newStyleStackSynthesis",
	"@aws-cdk/core:stackRelativeExports",
	"@aws-cdk/core:target-partitions",
	"@aws-cdk/core:validateAgainstDefaultRules",
	"@aws-cdk/core:validateSnapshotRemovalPolicy",
	"@aws-cdk/custom-resources:logApiResponseDataPropertyTrueDefault",
	"@aws-cdk/customresources:installLatestAwsSdkDefault",
	"@aws-cdk/pipelines:reduceAssetRoleTrustScope",
	"@aws-cdk/pipelines:reduceCrossAccountActionRoleTrustScope",
	"@aws-cdk/pipelines:reduceStageRoleTrustScope",
	"@aws-cdk/s3-notifications:addS3TrustKeyPolicyForSnsSubscriptions",
	"aws-cdk:enableDiffNoFail",
}

// cdkSettingKeys are the other context keys aws-cdk-lib 2.276.0 reads
// (node.tryGetContext in its sources; each must appear there, which
// test/sources_test.go checks): synthesizer, validation and reporting
// settings, and the keys the CDK CLI (aws-cdk 2.1148.1, contextFromSettings)
// passes from cdk.json's top-level settings.
var cdkSettingKeys = []string{
	"@aws-cdk/aws-ec2.securityGroupDisableInlineRules",
	"@aws-cdk/aws-iam.arnSizeEstimate",
	"@aws-cdk/core.TreeMetadata:maxNodes",
	"@aws-cdk/core.slowSynthThreshold",
	"@aws-cdk/core:appMode",
	"@aws-cdk/core:assetHashSalt",
	"@aws-cdk/core:bootstrapQualifier",
	"@aws-cdk/core:failSynthOnValidationErrors",
	"@aws-cdk/core:inlineCustomResourceIfPossible",
	"@aws-cdk/core:permissionsBoundary",
	"@aws-cdk/core:stackResourceLimit",
	"@aws-cdk/core:strictCfnValidateErrors",
	"@aws-cdk/core:suppressTemplateIndentation",
	"@aws-cdk/core:validationReportJson",
	"@aws-cdk/iam:customizeRoles",
	"assets-ecr-repository-name",
	"aws:cdk:bundling-stacks",
	"aws:cdk:disable-asset-staging",
	"aws:cdk:disable-creation-stack-traces",
	"aws:cdk:disable-logicalId-metadata",
	"aws:cdk:disable-stack-trace",
	"aws:cdk:disable-version-reporting",
	"aws:cdk:enable-asset-metadata",
	"aws:cdk:enable-path-metadata",
	"aws:cdk:performance-reporting",
	"aws:cdk:version-reporting",
}

// cliStoredKeys are kept by the CDK CLI in cdk.context.json: the notices a
// user acknowledged (cdk acknowledge).
var cliStoredKeys = []string{"acknowledged-issue-numbers"}

// lookupProviders prefix the keys under which the CLI caches context lookups
// in cdk.context.json ("availability-zones:account=...:region=..."): the
// wire names of cloud-assembly-schema's ContextProvider enum.
var lookupProviders = []string{
	"ami", "availability-zones", "cc-api-provider", "endpoint-service-availability-zones",
	"hosted-zone", "key-provider", "load-balancer", "load-balancer-listener", "plugin",
	"security-group", "ssm", "vpc-provider",
}

// cdkPrivatePrefix marks keys aws-cdk-lib sets for itself (a random suffix).
const cdkPrivatePrefix = "aws-cdk-private:"

// refusedCDKKeys are CDK keys this project does not let the context set,
// with the reason.
var refusedCDKKeys = map[string]string{
	// aws-cdk-lib's Stack.availabilityZones returns this list for
	// environment-agnostic stacks instead of the first two zones of
	// Fn::GetAZs: it would silently change every subnet.
	"aws:cdk:availability-zones:fallback": "this project takes zones from environments.<env>.availabilityZones (pinned) or gives an environment-agnostic synth CDK's two Fn::GetAZs zones; remove the key",
}

var knownCDKKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, list := range [][]string{cdkFeatureFlags, cdkSettingKeys, cliStoredKeys} {
		for _, k := range list {
			m[k] = true
		}
	}
	return m
}()

// FeatureFlags returns the checked-in list of aws-cdk-lib's feature flags.
func FeatureFlags() []string { return append([]string(nil), cdkFeatureFlags...) }

// CDKSettingKeys returns the checked-in non-flag context keys of aws-cdk-lib
// and the CLI.
func CDKSettingKeys() []string { return append([]string(nil), cdkSettingKeys...) }

// checkContextKeys reports every context key that is neither this app's nor
// CDK's, suggesting the key that was probably meant.
func checkContextKeys(p *problems, ctx map[string]any) {
	for _, key := range sortedKeys(ctx) {
		if _, ok := appKeys[key]; ok || knownCDKKeys[key] || strings.HasPrefix(key, cdkPrivatePrefix) {
			continue
		}
		if reason, ok := refusedCDKKeys[key]; ok {
			p.add(key, "%s", reason)
			continue
		}
		if provider, _, ok := strings.Cut(key, ":"); ok && slices.Contains(lookupProviders, provider) {
			continue
		}
		p.add(key, "%s", unknownContextKey(key))
	}
}

func unknownContextKey(key string) string {
	accepted := "this app reads " + strings.Join(appKeyList(), ", ") + "; CDK's feature flags and settings pass"
	if strings.HasPrefix(key, "@aws-cdk") || strings.HasPrefix(key, "aws:") || strings.HasPrefix(key, "aws-cdk") {
		cdk := append(append([]string(nil), cdkFeatureFlags...), cdkSettingKeys...)
		if m := nearest(key, cdk); m != "" {
			return fmt.Sprintf("not a context key of aws-cdk-lib 2.276; did you mean %s?", m)
		}
		return "not a feature flag or setting of aws-cdk-lib 2.276 (an expired or misspelt flag has no effect)"
	}
	if m := nearest(key, appKeyList()); m != "" {
		return fmt.Sprintf("unknown context key; did you mean %s? (%s)", m, accepted)
	}
	if strings.Contains(key, ".") {
		setting := key
		if rest, ok := strings.CutPrefix(key, KeyEnvironments+"."); ok {
			if _, s, ok := strings.Cut(rest, "."); ok {
				setting = s
			}
		}
		if settingPaths[setting] {
			return fmt.Sprintf("settings cannot be set with -c; edit environments.<env>.%s in %s (%s)", setting, ProjectFile, accepted)
		}
		return fmt.Sprintf("unknown context key; a dotted path does not reach into environments, which are read from %s only (%s)", ProjectFile, accepted)
	}
	return "unknown context key; " + accepted
}

func appKeyList() []string { return sortedKeys(appKeys) }

// nearest returns the candidate equal to key ignoring case, or within two
// edits of it, or "".
func nearest(key string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if strings.EqualFold(c, key) {
			return c
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(c), bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(rb)], limit)
}
