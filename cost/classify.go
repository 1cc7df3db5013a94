package cost

// handlers price the resource types with an idle cost (or that need a look
// at their properties to know).
var handlers = map[string]func(*est){
	"AWS::EC2::NatGateway":                      natGateway,
	"AWS::EC2::EIP":                             elasticIP,
	"AWS::ElasticLoadBalancingV2::LoadBalancer": loadBalancer,
	"AWS::EC2::VPCEndpoint":                     vpcEndpoint,
	"AWS::ECS::Service":                         ecsService,
	"AWS::ECS::TaskDefinition":                  ecsTaskDefinition,
	"AWS::ECS::Cluster":                         ecsCluster,
	"AWS::EC2::Instance":                        ec2Instance,
	"AWS::EC2::Volume":                          ec2Volume,
	"AWS::RDS::DBInstance":                      rdsInstance,
	"AWS::SecretsManager::Secret":               secret,
	"AWS::CloudWatch::Alarm":                    alarm,
	"AWS::CloudWatch::CompositeAlarm":           compositeAlarm,
	"AWS::CloudWatch::Dashboard":                dashboard,
	"AWS::CloudFront::MonitoringSubscription":   cloudFrontMetrics,
	"AWS::KMS::Key":                             kmsKey,
	"AWS::KMS::ReplicaKey":                      kmsKey,
	"AWS::Route53::HostedZone":                  hostedZone,
	"AWS::DynamoDB::Table":                      dynamoTable,
	"AWS::SSM::Parameter":                       ssmParameter,
	"AWS::Lambda::Alias":                        lambdaVersionOrAlias,
	"AWS::Lambda::Version":                      lambdaVersionOrAlias,
	"AWS::EC2::FlowLog":                         flowLog,
	"AWS::Timestream::ScheduledQuery":           scheduledQuery,
	"AWS::WAFv2::WebACL":                        webACL,
}

// freeTypes cost nothing by themselves. The value says why, for readers.
var freeTypes = map[string]string{
	"AWS::CDK::Metadata":                       "CDK version reporting",
	"AWS::CloudFormation::Stack":               "nested stack: its own template is estimated from its .template.json",
	"AWS::CloudFormation::WaitCondition":       "CloudFormation bookkeeping",
	"AWS::CloudFormation::WaitConditionHandle": "CloudFormation bookkeeping",

	"AWS::EC2::VPC":                          "VPCs are free",
	"AWS::EC2::VPCCidrBlock":                 "free",
	"AWS::EC2::Subnet":                       "subnets are free",
	"AWS::EC2::SubnetCidrBlock":              "free",
	"AWS::EC2::RouteTable":                   "free",
	"AWS::EC2::Route":                        "free",
	"AWS::EC2::SubnetRouteTableAssociation":  "free",
	"AWS::EC2::GatewayRouteTableAssociation": "free",
	"AWS::EC2::InternetGateway":              "free (data transfer is usage-based)",
	"AWS::EC2::EgressOnlyInternetGateway":    "free (data transfer is usage-based)",
	"AWS::EC2::VPCGatewayAttachment":         "free",
	"AWS::EC2::SecurityGroup":                "free",
	"AWS::EC2::SecurityGroupIngress":         "free",
	"AWS::EC2::SecurityGroupEgress":          "free",
	"AWS::EC2::NetworkAcl":                   "free",
	"AWS::EC2::NetworkAclEntry":              "free",
	"AWS::EC2::SubnetNetworkAclAssociation":  "free",
	"AWS::EC2::DHCPOptions":                  "free",
	"AWS::EC2::VPCDHCPOptionsAssociation":    "free",
	"AWS::EC2::EIPAssociation":               "free (the address is priced on its AWS::EC2::EIP)",
	"AWS::EC2::LaunchTemplate":               "free (instances using it are priced)",
	"AWS::EC2::KeyPair":                      "free",
	"AWS::EC2::PlacementGroup":               "free",
	"AWS::EC2::PrefixList":                   "free",
	"AWS::EC2::VolumeAttachment":             "free (the volume is priced)",

	"AWS::IAM::Role":                "IAM is free",
	"AWS::IAM::Policy":              "IAM is free",
	"AWS::IAM::ManagedPolicy":       "IAM is free",
	"AWS::IAM::InstanceProfile":     "IAM is free",
	"AWS::IAM::User":                "IAM is free",
	"AWS::IAM::Group":               "IAM is free",
	"AWS::IAM::UserToGroupAddition": "IAM is free",
	"AWS::IAM::AccessKey":           "IAM is free",
	"AWS::IAM::ServiceLinkedRole":   "IAM is free",
	"AWS::IAM::OIDCProvider":        "IAM is free",
	"AWS::IAM::RolePolicy":          "IAM is free",

	"AWS::ECS::ClusterCapacityProviderAssociations": "free",
	"AWS::ECS::CapacityProvider":                    "free (the capacity behind it is priced where it is defined)",
	"AWS::ApplicationAutoScaling::ScalableTarget":   "free (its MinCapacity is used when pricing the service)",
	"AWS::ApplicationAutoScaling::ScalingPolicy":    "free",
	"AWS::AutoScaling::ScalingPolicy":               "free",
	"AWS::AutoScaling::LifecycleHook":               "free",
	"AWS::AutoScaling::ScheduledAction":             "free",

	"AWS::ElasticLoadBalancingV2::Listener":            "free (the load balancer is priced)",
	"AWS::ElasticLoadBalancingV2::ListenerRule":        "free",
	"AWS::ElasticLoadBalancingV2::ListenerCertificate": "free",
	"AWS::ElasticLoadBalancingV2::TargetGroup":         "free",

	"AWS::RDS::DBSubnetGroup":           "free",
	"AWS::RDS::DBParameterGroup":        "free",
	"AWS::RDS::DBClusterParameterGroup": "free",
	"AWS::RDS::OptionGroup":             "free",

	"AWS::SecretsManager::SecretTargetAttachment": "free",
	"AWS::SecretsManager::ResourcePolicy":         "free",
	"AWS::KMS::Alias":                             "free",

	"AWS::Lambda::Permission":             "free",
	"AWS::Lambda::LayerVersion":           "Lambda does not bill for stored function or layer code (it counts toward a 75 GB quota)",
	"AWS::Lambda::LayerVersionPermission": "free",
	"AWS::Lambda::EventSourceMapping":     "free (the function's invocations are usage-based)",
	"AWS::Lambda::Url":                    "free",

	"AWS::Logs::ResourcePolicy":     "free",
	"AWS::Logs::LogStream":          "free",
	"AWS::Logs::SubscriptionFilter": "free (delivery is billed on the destination)",
	"AWS::Logs::QueryDefinition":    "free",

	"AWS::SNS::Subscription":               "free",
	"AWS::SNS::TopicPolicy":                "free",
	"AWS::SNS::TopicInlinePolicy":          "free",
	"AWS::SQS::QueuePolicy":                "free",
	"AWS::SQS::QueueInlinePolicy":          "free",
	"AWS::S3::BucketPolicy":                "free",
	"AWS::ECR::RepositoryCreationTemplate": "free",

	"AWS::CloudFront::OriginAccessControl":            "free",
	"AWS::CloudFront::CloudFrontOriginAccessIdentity": "free",
	"AWS::CloudFront::CachePolicy":                    "free",
	"AWS::CloudFront::OriginRequestPolicy":            "free",
	"AWS::CloudFront::ResponseHeadersPolicy":          "free",
	"AWS::CertificateManager::Certificate":            "public ACM certificates are free",
	"AWS::CloudFront::VpcOrigin":                      "VPC origins carry no charge of their own (the distribution is usage-based)",

	"AWS::Backup::BackupSelection": "free (the plan's backups are usage-based)",

	"AWS::ApiGateway::Account":    "free",
	"AWS::ApiGateway::Deployment": "free",
	"AWS::ApiGateway::Stage":      "free (requests are usage-based)",
	"AWS::ApiGateway::Method":     "free",
	"AWS::ApiGateway::Resource":   "free",
}

// usageTypes cost nothing while nobody uses them: each reason says what is
// billed, and why none of it accrues at idle. A type that costs money while
// idle belongs in handlers (priced, possibly as an idle floor) or in
// storedTypes, never here.
var usageTypes = map[string]string{
	"AWS::Lambda::Function":                 "billed per request and GB-second: nothing runs while idle",
	"AWS::Logs::MetricFilter":               "its metric is billed only for hours in which matching events arrive",
	"AWS::SNS::Topic":                       "billed per publish and delivery: alarms publish only when their state changes",
	"AWS::SQS::Queue":                       "billed per request",
	"AWS::CloudFront::Distribution":         "billed per request and GB transferred; no hourly charge",
	"AWS::CloudFront::Function":             "billed per invocation (per viewer request)",
	"AWS::Events::Rule":                     "free for AWS service and scheduled events; what its targets do is billed on them",
	"AWS::Events::EventBus":                 "billed per custom event put on the bus",
	"AWS::Scheduler::Schedule":              "billed per invocation",
	"AWS::StepFunctions::StateMachine":      "billed per state transition",
	"AWS::ApiGateway::RestApi":              "billed per request",
	"AWS::ApiGatewayV2::Api":                "billed per request or connection-minute",
	"AWS::Route53::RecordSet":               "billed per DNS query (the hosted zone is priced)",
	"AWS::Route53::RecordSetGroup":          "billed per DNS query (the hosted zone is priced)",
	"AWS::SecretsManager::RotationSchedule": "its rotation function runs once per rotation period (a few invocations a month)",
	"AWS::KinesisFirehose::DeliveryStream":  "billed per GB ingested",
	"AWS::Athena::WorkGroup":                "billed per TB scanned by queries",
}

// storedTypes are billed per GB-month for what is put in them. Nothing grows
// while idle, but what a deployment stored (site files, images, log events,
// backups) keeps costing; the template does not say how much it is, so it is
// listed apart from the total rather than counted as zero.
var storedTypes = map[string]string{
	"AWS::S3::Bucket":           "objects stored, per GB-month (plus requests)",
	"AWS::ECR::Repository":      "images pushed to it, per GB-month (cdk deploy builds into the CDK bootstrap repository instead)",
	"AWS::Logs::LogGroup":       "events kept until their retention ends, per GB-month; ingestion is priced on the writer where the template shows an idle one (flow logs, RDS, Container Insights)",
	"AWS::Backup::BackupPlan":   "recovery points it creates, per GB-month",
	"AWS::Backup::BackupVault":  "recovery points kept, per GB-month",
	"AWS::Timestream::Database": "data written, per GB-month (writes and queries per use)",
	"AWS::Timestream::Table":    "data written, per GB-month (writes and queries per use)",
	"AWS::Glue::Database":       "catalog objects stored (first million free)",
	"AWS::Glue::Table":          "catalog objects stored (first million free)",
}
