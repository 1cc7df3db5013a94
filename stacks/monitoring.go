package stacks

// Monitoring (issue 4): this file maps the configuration onto the monitoring
// constructs; each stack calls one of these functions from a short hook.
// The alarm topic lives in the network stack, the first one deployed, so
// every stack that owns alarms comes after it and no stack references a
// later one. The dashboard lives in the frontend stack, the last one.

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"

	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/config"
	tsaconstructs "github.com/tsa-platform/infra/constructs"
)

// alarmPrefix starts every alarm name of the environment: tsa-<env>.
func alarmPrefix(cfg *config.Config) string { return fmt.Sprintf("%s-%s", config.Project, cfg.Name) }

func alarmOptions(cfg *config.Config, topic awssns.ITopic) tsaconstructs.AlarmOptions {
	return tsaconstructs.AlarmOptions{
		NamePrefix:        alarmPrefix(cfg),
		Topic:             topic,
		EvaluationPeriods: cfg.Monitoring.EvaluationPeriods,
	}
}

// newAlarmTopic creates the environment's operations key and its alarm topic
// (network stack). The key also encrypts the ECS Exec session logs, which a
// production environment keeps, so it follows the environment's removal policy.
func newAlarmTopic(stack awscdk.Stack, cfg *config.Config) *tsaconstructs.AlarmTopic {
	key := tsaconstructs.NewOperationsKey(stack, "OperationsKey", &tsaconstructs.OperationsKeyProps{
		Alias:           alarmPrefix(cfg) + "-operations",
		RemovalPolicy:   removal(cfg),
		DisableRotation: !cfg.Monitoring.OperationsKeyRotation,
	})
	// Before the ECS Exec audit had a key of its own (issue #12) this key
	// encrypted the exec session log group. CloudWatch Logs keeps events in
	// the key they were written with and returns them only while it may use
	// that key, so this grant stays until those events have expired
	// (monitoring.execSessionLogDays after the upgrade). Limited to this
	// account's log groups in this region.
	region, account := *stack.Region(), *stack.Account()
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+region+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": "arn:" + *stack.Partition() + ":logs:" + region + ":" + account + ":*"},
		},
	}), nil)
	return tsaconstructs.NewAlarmTopic(stack, "AlarmTopic", &tsaconstructs.AlarmTopicProps{
		Key:         key,
		TopicName:   alarmPrefix(cfg) + "-alarms",
		DisplayName: fmt.Sprintf("%s %s alarms", config.Project, cfg.Name),
		Email:       cfg.Monitoring.AlarmEmail,
	})
}

// newDatabaseAlarms creates the RDS alarms (data stack, engine rds-postgres).
func newDatabaseAlarms(stack awscdk.Stack, cfg *config.Config, topic awssns.ITopic, instance awsrds.IDatabaseInstance) *tsaconstructs.DatabaseAlarms {
	m := cfg.Monitoring
	return tsaconstructs.NewDatabaseAlarms(stack, "DatabaseAlarms", &tsaconstructs.DatabaseAlarmsProps{
		AlarmOptions:      alarmOptions(cfg, topic),
		Instance:          instance,
		CpuPercent:        m.DbCpuPercent,
		FreeStorageGiB:    m.DbFreeStorageGiB,
		FreeableMemoryMiB: m.DbFreeableMemoryMiB,
		Connections:       m.DbConnections,
	})
}

// newServiceAlarms creates the load balancer and service alarms (compute stack).
func newServiceAlarms(stack awscdk.Stack, cfg *config.Config, topic awssns.ITopic, alb elbv2.ApplicationLoadBalancer, svc awsecspatterns.ApplicationLoadBalancedFargateService) *tsaconstructs.ServiceAlarms {
	m := cfg.Monitoring
	return tsaconstructs.NewServiceAlarms(stack, "ServiceAlarms", &tsaconstructs.ServiceAlarmsProps{
		AlarmOptions:      alarmOptions(cfg, topic),
		LoadBalancer:      alb,
		TargetGroup:       svc.TargetGroup(),
		Service:           svc.Service(),
		Alb5xxPercent:     m.Alb5xxPercent,
		Target5xxPercent:  m.Target5xxPercent,
		LatencyP99Seconds: m.LatencyP99Seconds,
		CpuPercent:        m.ServiceCpuPercent,
		MemoryPercent:     m.ServiceMemoryPercent,
		MinHealthyTasks:   cfg.Backend.MinCount,
	})
}

// newExecSessionLogs creates the ECS Exec audit (compute stack): the session
// log group, and with customer-managed keys the audit's own key, separate
// from the alarm topic's. It exists whether or not backend.enableExec is on,
// so turning ECS Exec on and off never touches the audit record.
func newExecSessionLogs(stack awscdk.Stack, cfg *config.Config) *tsaconstructs.ExecSessionLogs {
	var key awskms.IKey
	if cfg.Encryption.CustomerManagedKeys {
		props := &awskms.KeyProps{
			Alias:             jsii.String("alias/" + alarmPrefix(cfg) + "-exec-audit"),
			Description:       jsii.String("Encrypts the " + cfg.Name + " ECS Exec sessions and their audit log"),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     removal(cfg),
		}
		if !cfg.Production() {
			props.PendingWindow = awscdk.Duration_Days(jsii.Number(7))
		}
		key = awskms.NewKey(stack, jsii.String("ExecAuditKey"), props)
	}
	return tsaconstructs.NewExecSessionLogs(stack, "ExecSessions", &tsaconstructs.ExecSessionLogsProps{
		Key:           key,
		Retention:     Retention(cfg.Monitoring.ExecSessionLogDays),
		RemovalPolicy: removal(cfg),
	})
}

// newFrontendMonitoring creates the CloudFront alarm and, when configured,
// the environment's dashboard (frontend stack, which may reference every
// earlier stack). The dashboard's cache hit rate needs CloudFront's
// additional metrics, so they are subscribed to together with it.
func newFrontendMonitoring(stack awscdk.Stack, cfg *config.Config, topic awssns.ITopic, dist awscloudfront.IDistribution,
	service *tsaconstructs.ServiceAlarms, database *tsaconstructs.DatabaseAlarms) (*tsaconstructs.DistributionAlarms, *tsaconstructs.Dashboard) {
	m := cfg.Monitoring
	cdn := tsaconstructs.NewDistributionAlarms(stack, "DistributionAlarms", &tsaconstructs.DistributionAlarmsProps{
		AlarmOptions:      alarmOptions(cfg, topic),
		Distribution:      dist,
		ErrorRatePercent:  m.CloudFront5xxPercent,
		AdditionalMetrics: m.Dashboard,
	})
	if !m.Dashboard || service == nil {
		return cdn, nil
	}
	dashboard := tsaconstructs.NewDashboard(stack, "Dashboard", &tsaconstructs.DashboardProps{
		DashboardName: alarmPrefix(cfg),
		Heading:       fmt.Sprintf("# %s %s\nStacks: %s, %s, %s, %s. Alarms notify the SNS topic %s-alarms.", config.Project, cfg.Name, cfg.StackName("network"), cfg.StackName("data"), cfg.StackName("compute"), cfg.StackName("frontend"), alarmPrefix(cfg)),
		Service:       service,
		Database:      database,
		Distribution:  cdn,
	})
	return cdn, dashboard
}

// containerInsights is the cluster's Container Insights mode: standard
// (about 38 custom metrics a month for one service) or off.
func containerInsights(cfg *config.Config) awsecs.ContainerInsights {
	if cfg.Monitoring.ContainerInsights {
		return awsecs.ContainerInsights_ENABLED
	}
	return awsecs.ContainerInsights_DISABLED
}
