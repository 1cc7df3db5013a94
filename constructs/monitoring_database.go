package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

const (
	bytesPerGiB = 1024 * 1024 * 1024
	bytesPerMiB = 1024 * 1024
)

// DatabaseAlarmsProps configures the alarms of an RDS instance.
type DatabaseAlarmsProps struct {
	AlarmOptions
	Instance          awsrds.IDatabaseInstance
	CpuPercent        float64
	FreeStorageGiB    float64
	FreeableMemoryMiB float64
	Connections       float64
}

// DatabaseAlarms are the CPU, storage, memory and connection alarms of an RDS
// instance, and the metrics behind them for dashboards.
type DatabaseAlarms struct {
	cdkconstructs.Construct

	Cpu            awscloudwatch.Alarm
	FreeStorage    awscloudwatch.Alarm
	FreeableMemory awscloudwatch.Alarm
	Connections    awscloudwatch.Alarm

	Metrics DatabaseMetrics
}

// DatabaseMetrics are the one-minute metrics of the instance, for graphs.
type DatabaseMetrics struct {
	Cpu            awscloudwatch.IMetric
	FreeStorage    awscloudwatch.IMetric
	FreeableMemory awscloudwatch.IMetric
	Connections    awscloudwatch.IMetric
	// FreeStorageGiB and FreeableMemoryMiB are the same in the units the
	// thresholds are configured in.
	FreeStorageGiB    awscloudwatch.IMetric
	FreeableMemoryMiB awscloudwatch.IMetric
}

// NewDatabaseAlarms creates the alarms.
func NewDatabaseAlarms(scope cdkconstructs.Construct, id string, props *DatabaseAlarmsProps) *DatabaseAlarms {
	props.check("DatabaseAlarms")
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	db := props.Instance
	a := &DatabaseAlarms{Construct: this}
	a.Metrics = DatabaseMetrics{
		Cpu:            db.MetricCPUUtilization(perMinute("Average")),
		FreeStorage:    db.MetricFreeStorageSpace(perMinute("Minimum")),
		FreeableMemory: db.MetricFreeableMemory(perMinute("Minimum")),
		Connections:    db.MetricDatabaseConnections(perMinute("Maximum")),
	}
	a.Metrics.FreeStorageGiB = awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("storage / 1073741824"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{"storage": a.Metrics.FreeStorage},
		Label:        jsii.String("Free storage (GiB)"),
		Period:       minute(),
	})
	a.Metrics.FreeableMemoryMiB = awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("memory / 1048576"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{"memory": a.Metrics.FreeableMemory},
		Label:        jsii.String("Freeable memory (MiB)"),
		Period:       minute(),
	})

	// Missing data: RDS reports every minute while the instance is available,
	// so gaps are reboots, Multi-AZ failovers and maintenance, none of which is
	// load. CPU and connections treat them as NOT_BREACHING (an unreachable
	// database pages through the API's 5xx and health alarms instead). Free
	// storage and freeable memory change slowly and must not clear themselves
	// because the metric paused: IGNORE keeps their current state.
	a.Cpu = props.newAlarm(this, alarmSpec{
		id: "Cpu", name: "db-cpu", anchor: "db-cpu",
		summary:   "Database CPU is high: slow queries, missing indexes or an undersized instance.",
		metric:    a.Metrics.Cpu,
		threshold: props.CpuPercent,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.FreeStorage = props.newAlarm(this, alarmSpec{
		id: "FreeStorage", name: "db-free-storage", anchor: "db-free-storage",
		summary:   "Database free storage is low; at zero the instance stops accepting writes.",
		metric:    a.Metrics.FreeStorage,
		threshold: props.FreeStorageGiB * bytesPerGiB,
		op:        awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_IGNORE,
	})
	a.FreeableMemory = props.newAlarm(this, alarmSpec{
		id: "FreeableMemory", name: "db-freeable-memory", anchor: "db-freeable-memory",
		summary:   "Database freeable memory is low: the instance swaps or kills backends.",
		metric:    a.Metrics.FreeableMemory,
		threshold: props.FreeableMemoryMiB * bytesPerMiB,
		op:        awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_IGNORE,
	})
	a.Connections = props.newAlarm(this, alarmSpec{
		id: "Connections", name: "db-connections", anchor: "db-connections",
		summary:   "Database connections are close to what the instance allows (connection leak or too many tasks).",
		metric:    a.Metrics.Connections,
		threshold: props.Connections,
		op:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		missing:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	return a
}

// Alarms lists every alarm, for alarm status widgets.
func (a *DatabaseAlarms) Alarms() []awscloudwatch.IAlarm {
	return []awscloudwatch.IAlarm{a.Cpu, a.FreeStorage, a.FreeableMemory, a.Connections}
}
