package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	cdkconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Dashboard widget titles; tests and the runbook refer to them.
const (
	WidgetAlarms             = "Alarms"
	WidgetRequests           = "Requests (per minute)"
	WidgetLatency            = "API latency p50 / p90 / p99 (seconds)"
	WidgetErrorRates         = "Error rates (%)"
	WidgetTasks              = "Tasks and targets"
	WidgetServiceUtilization = "API CPU and memory (%)"
	WidgetDatabaseCpu        = "Database CPU (%)"
	WidgetDatabaseStorage    = "Database free storage (GiB)"
	WidgetDatabaseConns      = "Database connections"
	WidgetDatabaseMemory     = "Database freeable memory (MiB)"
	WidgetCdnRequests        = "CloudFront requests (per minute)"
	WidgetCdnCacheHitRate    = "CloudFront cache hit rate (%)"
	WidgetCdnErrorRates      = "CloudFront error rates (%)"
)

// DashboardProps says what one environment's dashboard shows.
type DashboardProps struct {
	// DashboardName is the CloudWatch dashboard's name (unique per account).
	DashboardName string
	// Heading is the markdown shown at the top.
	Heading string
	// Service is required; Database and Distribution are optional.
	Service      *ServiceAlarms
	Database     *DatabaseAlarms
	Distribution *DistributionAlarms
}

// Dashboard is one environment's CloudWatch dashboard: alarm states, traffic,
// latency, errors, capacity, the database and CloudFront.
type Dashboard struct {
	cdkconstructs.Construct
	Dashboard awscloudwatch.Dashboard
}

// NewDashboard lays the dashboard out in rows of 24 grid units.
func NewDashboard(scope cdkconstructs.Construct, id string, props *DashboardProps) *Dashboard {
	if props.Service == nil {
		panic("Dashboard: Service is required")
	}
	this := cdkconstructs.NewConstruct(scope, jsii.String(id))
	graph := func(title string, width float64, left []awscloudwatch.IMetric, annotations ...awscloudwatch.Alarm) awscloudwatch.GraphWidget {
		p := &awscloudwatch.GraphWidgetProps{
			Title:  jsii.String(title),
			Width:  jsii.Number(width),
			Height: jsii.Number(6),
			Left:   &left,
			Period: minute(),
		}
		if len(annotations) > 0 {
			anns := make([]*awscloudwatch.HorizontalAnnotation, 0, len(annotations))
			for _, a := range annotations {
				anns = append(anns, a.ToAnnotation())
			}
			p.LeftAnnotations = &anns
		}
		return awscloudwatch.NewGraphWidget(p)
	}
	label := func(m awscloudwatch.IMetric, l string) awscloudwatch.IMetric {
		switch t := m.(type) {
		case awscloudwatch.Metric:
			return t.With(&awscloudwatch.MetricOptions{Label: jsii.String(l)})
		case awscloudwatch.MathExpression:
			return t.With(&awscloudwatch.MathExpressionOptions{Label: jsii.String(l)})
		}
		return m
	}

	s := props.Service
	var alarms []interfacesawscloudwatch.IAlarmRef
	addAlarms := func(list []awscloudwatch.IAlarm) {
		for _, a := range list {
			alarms = append(alarms, a)
		}
	}
	addAlarms(s.Alarms())
	if props.Database != nil {
		addAlarms(props.Database.Alarms())
	}
	if props.Distribution != nil {
		addAlarms(props.Distribution.Alarms())
	}

	heading := props.Heading
	if heading == "" {
		heading = "# " + props.DashboardName
	}
	rows := [][]awscloudwatch.IWidget{
		{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
			Markdown: jsii.String(fmt.Sprintf("%s\n\nWhat each alarm means and what to do: `%s` in the infrastructure repository.", heading, RunbookPath)),
			Width:    jsii.Number(24),
			Height:   jsii.Number(2),
		})},
		{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title:  jsii.String(WidgetAlarms),
			Alarms: &alarms,
			Width:  jsii.Number(24),
			Height: jsii.Number(3),
			SortBy: awscloudwatch.AlarmStatusWidgetSortBy_STATE_UPDATED_TIMESTAMP,
		})},
	}

	requests := []awscloudwatch.IMetric{label(s.Metrics.Requests, "Load balancer")}
	errorRates := []awscloudwatch.IMetric{s.Metrics.Alb5xxRate, s.Metrics.Target5xxRate}
	if d := props.Distribution; d != nil {
		requests = append(requests, label(d.Metrics.Requests, "CloudFront"))
		errorRates = append(errorRates, label(d.Metrics.ErrorRate5xx, "CloudFront 5xx (%)"))
	}
	rows = append(rows,
		[]awscloudwatch.IWidget{
			graph(WidgetRequests, 8, requests),
			graph(WidgetLatency, 8, []awscloudwatch.IMetric{
				label(s.Metrics.LatencyP50, "p50"), label(s.Metrics.LatencyP90, "p90"), label(s.Metrics.LatencyP99, "p99"),
			}, s.LatencyP99),
			graph(WidgetErrorRates, 8, errorRates, s.Target5xxRate),
		},
		[]awscloudwatch.IWidget{
			graph(WidgetTasks, 12, []awscloudwatch.IMetric{
				label(s.Metrics.RunningTasks, "Running tasks"), label(s.Metrics.DesiredTasks, "Desired tasks"),
				label(s.Metrics.HealthyHosts, "Healthy targets"), label(s.Metrics.UnhealthyHosts, "Unhealthy targets"),
			}),
			graph(WidgetServiceUtilization, 12, []awscloudwatch.IMetric{
				label(s.Metrics.Cpu, "CPU"), label(s.Metrics.Memory, "Memory"),
			}, s.Cpu, s.Memory),
		},
	)

	if db := props.Database; db != nil {
		rows = append(rows, []awscloudwatch.IWidget{
			graph(WidgetDatabaseCpu, 6, []awscloudwatch.IMetric{label(db.Metrics.Cpu, "CPU")}, db.Cpu),
			graph(WidgetDatabaseStorage, 6, []awscloudwatch.IMetric{db.Metrics.FreeStorageGiB}),
			graph(WidgetDatabaseConns, 6, []awscloudwatch.IMetric{label(db.Metrics.Connections, "Connections")}, db.Connections),
			graph(WidgetDatabaseMemory, 6, []awscloudwatch.IMetric{db.Metrics.FreeableMemoryMiB}),
		})
	}

	if d := props.Distribution; d != nil {
		rows = append(rows, []awscloudwatch.IWidget{
			graph(WidgetCdnRequests, 8, []awscloudwatch.IMetric{label(d.Metrics.Requests, "Requests")}),
			graph(WidgetCdnCacheHitRate, 8, []awscloudwatch.IMetric{label(d.Metrics.CacheHitRate, "Cache hit rate")}),
			graph(WidgetCdnErrorRates, 8, []awscloudwatch.IMetric{
				label(d.Metrics.ErrorRate4xx, "4xx"), label(d.Metrics.ErrorRate5xx, "5xx"),
			}),
		})
	}

	widgets := make([]*[]awscloudwatch.IWidget, 0, len(rows))
	for i := range rows {
		widgets = append(widgets, &rows[i])
	}
	dashboard := awscloudwatch.NewDashboard(this, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(props.DashboardName),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         &widgets,
	})
	return &Dashboard{Construct: this, Dashboard: dashboard}
}
