package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ServiceAlarmsProps configures the alarms of an ALB-fronted ECS service.
type ServiceAlarmsProps struct {
	AlarmOptions
	LoadBalancer elbv2.ApplicationLoadBalancer
	TargetGroup  elbv2.ApplicationTargetGroup
	Service      awsecs.BaseService
	// Alb5xxPercent alarms on 5xx responses the load balancer itself generated
	// (no healthy target, target reset or timed out), in percent of requests.
	Alb5xxPercent float64
	// Target5xxPercent alarms on 5xx responses the tasks returned, in percent.
	Target5xxPercent float64
	// LatencyP99Seconds alarms on the targets' 99th percentile response time.
	LatencyP99Seconds float64
	CpuPercent        float64
	MemoryPercent     float64
	// MinHealthyTasks is the fewest tasks that must pass the load balancer
	// health check: the service's minimum task count.
	MinHealthyTasks int
	// TaskStartMinutes is how long healthy tasks may stay below
	// MinHealthyTasks before it is an incident (task replacement takes
	// that long); default 5.
	TaskStartMinutes int
}

// ServiceAlarms are the request, latency, health and capacity alarms of one
// service, and the metrics behind them for dashboards.
type ServiceAlarms struct {
	cdkconstructs.Construct

	Alb5xxRate     awscloudwatch.Alarm
	Target5xxRate  awscloudwatch.Alarm
	LatencyP99     awscloudwatch.Alarm
	UnhealthyHosts awscloudwatch.Alarm
	Cpu            awscloudwatch.Alarm
	Memory         awscloudwatch.Alarm
	HealthyTasks   awscloudwatch.Alarm

	Metrics ServiceMetrics
}

// ServiceMetrics are the one-minute metrics of the service, for graphs.
type ServiceMetrics struct {
	Requests       awscloudwatch.IMetric
	Alb5xxRate     awscloudwatch.IMetric
	Target5xxRate  awscloudwatch.IMetric
	Target4xx      awscloudwatch.IMetric
	LatencyP50     awscloudwatch.IMetric
	LatencyP90     awscloudwatch.IMetric
	LatencyP99     awscloudwatch.IMetric
	HealthyHosts   awscloudwatch.IMetric
	UnhealthyHosts awscloudwatch.IMetric
	// RunningTasks and DesiredTasks come from Container Insights: graphed on
	// the dashboard, empty when the cluster does not run it.
	RunningTasks awscloudwatch.IMetric
	DesiredTasks awscloudwatch.IMetric
	Cpu          awscloudwatch.IMetric
	Memory       awscloudwatch.IMetric
}

// NewServiceAlarms creates the alarms. It does not touch the service: wire
// DeploymentAlarmNames into the service's deployment alarms where the
// service is configured.
func NewServiceAlarms(scope cdkconstructs.Construct, id string, props *ServiceAlarmsProps) *ServiceAlarms {
	props.check("ServiceAlarms")
	if props.MinHealthyTasks < 1 {
		panic(fmt.Sprintf("ServiceAlarms: MinHealthyTasks must be at least 1, got %d", props.MinHealthyTasks))
	}
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	opts := &awscloudwatch.MetricOptions{Period: minute()}
	lb := props.LoadBalancer.Metrics()
	svc := props.Service
	// Target group metrics are built from the two full names rather than with
	// TargetGroup.Metrics(), which derives the load balancer's name by
	// splitting the listener ARN: in another stack (the dashboard) that
	// becomes Fn::Split over an imported value, which cfn-lint rejects.
	lbName, tgName := props.LoadBalancer.LoadBalancerFullName(), props.TargetGroup.TargetGroupFullName()
	tgMetric := func(name, statistic string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/ApplicationELB"),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"LoadBalancer": lbName, "TargetGroup": tgName},
			Statistic:     jsii.String(statistic),
			Period:        minute(),
		})
	}

	albRequests := lb.RequestCount(perMinute("Sum"))
	elb5xx := lb.HttpCodeElb(elbv2.HttpCodeElb_ELB_5XX_COUNT, perMinute("Sum"))
	tgRequests := tgMetric("RequestCount", "Sum")
	target5xx := tgMetric("HTTPCode_Target_5XX_Count", "Sum")

	// RequestCount only counts requests the load balancer could hand to a
	// target, so when no target is healthy the 503s it answers with are not in
	// it: divide by whichever is larger, or every request failing would read
	// as "no data". FILL turns a minute without errors into 0 %, and an idle
	// minute evaluates to 0 % instead of a division by zero.
	alb5xxRate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("IF(FILL(albRequests, 0) + FILL(elb5xx, 0) > 0, 100 * FILL(elb5xx, 0) / MAX([FILL(albRequests, 0), FILL(elb5xx, 0)]), 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"albRequests": albRequests,
			"elb5xx":      elb5xx,
		},
		Label:  jsii.String("Load balancer 5xx (%)"),
		Period: minute(),
	})
	target5xxRate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("IF(FILL(tgRequests, 0) > 0, 100 * FILL(target5xx, 0) / FILL(tgRequests, 0), 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"tgRequests": tgRequests,
			"target5xx":  target5xx,
		},
		Label:  jsii.String("API 5xx (%)"),
		Period: minute(),
	})

	cluster := svc.Cluster().ClusterName()
	insights := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("ECS/ContainerInsights"),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"ClusterName": cluster, "ServiceName": svc.ServiceName()},
			Statistic:     jsii.String("Average"),
			Period:        minute(),
		})
	}
	running := insights("RunningTaskCount")
	desired := insights("DesiredTaskCount")

	a := &ServiceAlarms{Construct: this}
	a.Metrics = ServiceMetrics{
		Requests:       albRequests,
		Alb5xxRate:     alb5xxRate,
		Target5xxRate:  target5xxRate,
		Target4xx:      tgMetric("HTTPCode_Target_4XX_Count", "Sum"),
		LatencyP50:     tgMetric("TargetResponseTime", "p50"),
		LatencyP90:     tgMetric("TargetResponseTime", "p90"),
		LatencyP99:     tgMetric("TargetResponseTime", "p99"),
		HealthyHosts:   tgMetric("HealthyHostCount", "Minimum"),
		UnhealthyHosts: tgMetric("UnHealthyHostCount", "Maximum"),
		RunningTasks:   running,
		DesiredTasks:   desired,
		Cpu:            svc.MetricCpuUtilization(opts),
		Memory:         svc.MetricMemoryUtilization(opts),
	}

	taskMinutes := props.TaskStartMinutes
	if taskMinutes <= 0 {
		taskMinutes = 5
	}
	if taskMinutes < props.EvaluationPeriods {
		taskMinutes = props.EvaluationPeriods
	}

	// Missing data, per alarm:
	//  - error rates and latency: NOT_BREACHING. No requests is not an error;
	//    an API that is down shows up as load balancer 5xx and unhealthy hosts.
	//  - unhealthy hosts and healthy tasks: BREACHING. The load balancer
	//    reports HealthyHostCount and UnHealthyHostCount every minute while
	//    health checks are enabled, whatever the traffic (their reporting
	//    criterion in "CloudWatch metrics for your Application Load
	//    Balancer"), so their absence means the target group is gone.
	//  - CPU and memory: NOT_BREACHING. They stop when no task runs, which the
	//    healthy-tasks alarm already reports; two pages for one cause help no one.
	a.Alb5xxRate = props.newAlarm(this, alarmSpec{
		id: "Alb5xxRate", name: "alb-5xx-rate", anchor: "alb-5xx-rate",
		summary:   "The load balancer answered with 5xx (no healthy task, or tasks resetting or timing out).",
		metric:    alb5xxRate,
		threshold: props.Alb5xxPercent,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.Target5xxRate = props.newAlarm(this, alarmSpec{
		id: "Target5xxRate", name: "api-5xx-rate", anchor: "api-5xx-rate",
		summary:   "API tasks answered with 5xx. Rolls back a deployment in progress.",
		metric:    target5xxRate,
		threshold: props.Target5xxPercent,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.LatencyP99 = props.newAlarm(this, alarmSpec{
		id: "LatencyP99", name: "api-latency-p99", anchor: "api-latency-p99",
		summary:   "99th percentile API response time is above the threshold. Rolls back a deployment in progress.",
		metric:    a.Metrics.LatencyP99,
		threshold: props.LatencyP99Seconds,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		// A p99 of a handful of requests is one slow request: keep the state
		// until there are enough samples to mean something.
		lowSampleCount: "ignore",
	})
	a.UnhealthyHosts = props.newAlarm(this, alarmSpec{
		id: "UnhealthyHosts", name: "api-unhealthy-hosts", anchor: "api-unhealthy-hosts",
		summary:   "At least one API task fails the load balancer health check.",
		metric:    a.Metrics.UnhealthyHosts,
		threshold: 0,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_BREACHING,
	})
	a.Cpu = props.newAlarm(this, alarmSpec{
		id: "Cpu", name: "api-cpu", anchor: "api-cpu",
		summary:   "Average CPU of the API tasks is high although auto scaling should add tasks.",
		metric:    a.Metrics.Cpu,
		threshold: props.CpuPercent,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.Memory = props.newAlarm(this, alarmSpec{
		id: "Memory", name: "api-memory", anchor: "api-memory",
		summary:   "Average memory of the API tasks is high; tasks are killed when they reach their limit.",
		metric:    a.Metrics.Memory,
		threshold: props.MemoryPercent,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	// Healthy targets, not Container Insights' running count: the load
	// balancer's metric is free, and a task that runs but fails its health
	// check serves nothing either.
	a.HealthyTasks = props.newAlarm(this, alarmSpec{
		id: "HealthyTasks", name: "api-tasks-below-minimum", anchor: "api-tasks-below-minimum",
		summary:   fmt.Sprintf("Fewer than %d API task(s) pass the load balancer health check (tasks crash, fail health checks or cannot be placed).", props.MinHealthyTasks),
		metric:    a.Metrics.HealthyHosts,
		threshold: float64(props.MinHealthyTasks),
		op:        awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_BREACHING,
		// A replaced or scaled-out task needs a minute or two to pull its image
		// and start: only a gap that lasts longer is an incident.
		periods: taskMinutes,
	})
	return a
}

// Alarms lists every alarm, for alarm status widgets.
func (a *ServiceAlarms) Alarms() []awscloudwatch.IAlarm {
	return []awscloudwatch.IAlarm{a.Alb5xxRate, a.Target5xxRate, a.LatencyP99, a.UnhealthyHosts, a.Cpu, a.Memory, a.HealthyTasks}
}

// DeploymentAlarmNames are the alarms that should fail (and roll back) a
// deployment: the errors and the latency of what the new tasks answer.
// Load balancer 5xx, unhealthy hosts and capacity stay out: they also fire
// for causes a rollback cannot fix (capacity, network, the database), and new
// tasks that never turn healthy are the circuit breaker's job.
func (a *ServiceAlarms) DeploymentAlarmNames() *[]*string {
	return &[]*string{a.Target5xxRate.AlarmName(), a.LatencyP99.AlarmName()}
}
