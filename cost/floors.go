package cost

// Idle floors: what monitoring and idle traffic cost with no users at all.
// Each floor is computed from the template (intervals, task counts, health
// check settings, retention) and the assumptions in prices.json, which the
// note of every floor line repeats.

import (
	"fmt"
	"sort"
	"strings"
)

// other returns an estimator bound to another resource, whose problems go to
// a scratch report (the caller decides what to report).
func (e *est) other(s *Stack, id string) *est {
	return &est{w: e.w, s: s, id: id, r: s.Template.Resources[id], p: e.p, out: &StackReport{}}
}

func (r resRef) is(s *Stack, id string) bool { return r.stack == s && r.id == id }

// logIngestion adds the ingestion floor of gbMonth GB a month and the
// storage floor of what its retention keeps (retentionDays 0: never expires).
func (e *est) logIngestion(what string, gbMonth float64, ingestKey string, retentionDays float64, retentionNote, note string) {
	e.floor(what+" log ingestion", gbMonth, ingestKey, note)
	days := e.hours() / 24
	held, how := gbMonth*retentionDays/days, fmt.Sprintf("kept %s day(s) (%s)", fmtNum(retentionDays), retentionNote)
	if retentionDays <= 0 {
		held, how = gbMonth*12, "never expires ("+retentionNote+"): a year of it counted, it keeps growing"
	}
	e.floor(what+" log storage", held, "cloudwatch.logs.storage_gb_month",
		how+"; priced uncompressed, CloudWatch bills the compressed size")
}

// ---------------------------------------------------------- Container Insights

// Standard Container Insights metrics for Amazon ECS (CloudWatch User Guide,
// "Amazon ECS Container Insights metrics"): eight task resource metrics
// (CpuUtilized, CpuReserved, MemoryUtilized, MemoryReserved, NetworkRxBytes,
// NetworkTxBytes, StorageReadBytes, StorageWriteBytes) by ClusterName, by
// ServiceName+ClusterName and by TaskDefinitionFamily+ClusterName; Fargate
// tasks add EphemeralStorageReserved and EphemeralStorageUtilized to each of
// those sets. The cluster adds TaskCount, ContainerInstanceCount and
// ServiceCount, each service DesiredTaskCount, RunningTaskCount,
// PendingTaskCount, DeploymentCount and TaskSetCount.
const (
	ciResourceMetrics  = 8
	ciEphemeralMetrics = 2
	ciClusterCounts    = 3
	ciServiceCounts    = 5
)

type ciService struct {
	id         string
	tasks      float64
	family     string
	containers int
	fargate    bool
}

// containerInsights prices the standard Container Insights of a cluster: its
// metrics as custom metrics, counted per cluster, service and task family of
// what runs in it, and the performance log events they are extracted from.
func (e *est) containerInsights() {
	svcs, err := e.clusterServices()
	if err != nil {
		e.notPriced("Container Insights: " + err.Error())
		return
	}
	if len(svcs) == 0 {
		e.usage("Container Insights: no service of this cluster runs a task while idle, and metrics are published only for running tasks")
		return
	}
	eph := func(fargate bool) int {
		if fargate {
			return ciEphemeralMetrics
		}
		return 0
	}
	anyFargate := false
	families := map[string]bool{}
	service, family := 0, 0
	for _, s := range svcs {
		anyFargate = anyFargate || s.fargate
		service += ciServiceCounts + ciResourceMetrics + eph(s.fargate)
		if !families[s.family] {
			families[s.family] = true
			family += ciResourceMetrics + eph(s.fargate)
		}
	}
	clusterMetrics := ciClusterCounts + ciResourceMetrics + eph(anyFargate)
	total := clusterMetrics + service + family
	e.line(fmt.Sprintf("Container Insights metrics: %d (cluster %d + %d service(s) %d + %d task famil(ies) %d)",
		total, clusterMetrics, len(svcs), service, len(families), family),
		float64(total), "cloudwatch.custom_metric.month",
		"standard mode: custom metrics published every minute while a task runs (CloudWatch User Guide, 'Amazon ECS Container Insights metrics')")

	// One performance log event per minute for the cluster, each service,
	// each running task and each of its containers ("Container Insights
	// performance log events for Amazon ECS").
	cb, cluster, ok1 := e.assume("containerinsights.ecs.cluster_event_bytes")
	sb, service1, ok2 := e.assume("containerinsights.ecs.service_event_bytes")
	tb, task1, ok3 := e.assume("containerinsights.ecs.task_event_bytes")
	kb, container1, ok4 := e.assume("containerinsights.ecs.container_event_bytes")
	days, daysNote, ok5 := e.assume("containerinsights.ecs.log_retention_days")
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return
	}
	perMinute, tasks := cb, 0.0
	for _, s := range svcs {
		perMinute += sb + s.tasks*(tb+float64(s.containers)*kb)
		tasks += s.tasks
	}
	gb := perMinute * 60 * e.hours() / 1e9
	e.logIngestion("Container Insights performance", gb, "cloudwatch.logs.ingest_gb", days, "group created by ECS, "+daysNote+" assumed",
		fmt.Sprintf("per minute: 1 cluster event (%s), %d service event(s) (%s), %s task event(s) (%s) and one per container (%s)",
			cluster, len(svcs), service1, fmtNum(tasks), task1, container1))
}

// services calls f with an estimator bound to each ECS service of the loaded
// stacks and its properties; an error from f stops the walk.
func (e *est) services(f func(id string, svc *est, sp props) error) error {
	for _, st := range e.w.stacks {
		for id, r := range st.Template.Resources {
			if r.Type != "AWS::ECS::Service" {
				continue
			}
			svc := e.other(st, id)
			if err := f(id, svc, svc.props()); err != nil {
				return err
			}
		}
	}
	return nil
}

// clusterServices lists the services of this cluster that run tasks while
// idle, in any loaded stack.
func (e *est) clusterServices() ([]ciService, error) {
	var out []ciService
	err := e.services(func(id string, svc *est, sp props) error {
		c, ok, err := sp.resource("Cluster")
		if err != nil || !ok || !c.is(e.s, e.id) {
			return nil
		}
		tasks, _, err := svc.runningTasks(sp)
		if err != nil {
			return fmt.Errorf("service %s: %w", id, err)
		}
		if tasks == 0 {
			return nil
		}
		s := ciService{id: id, tasks: tasks, family: id, containers: 1}
		if td, ok, err := sp.resource("TaskDefinition"); err == nil && ok {
			if tdRes, ok := td.resource(); ok {
				tdp := props{w: e.w, s: td.stack, m: tdRes.Properties, path: td.id}
				s.family = td.id
				if f, ok, _ := tdp.str("Family"); ok && f != "" {
					s.family = f
				}
				if defs, ok, _ := tdp.list("ContainerDefinitions"); ok && len(defs) > 0 {
					s.containers = len(defs)
				}
			}
		}
		if strategy, err := svc.capacityStrategy(sp); err == nil {
			for _, it := range strategy {
				s.fargate = s.fargate || strings.HasPrefix(it.provider, "FARGATE")
			}
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// ------------------------------------------------------------- VPC flow logs

// flowLog prices the records a VPC flow log writes with no users: load
// balancer health checks reach every target every interval from every load
// balancer node, traffic, idle or not.
func flowLog(e *est) {
	p := e.props()
	dest, _, err := p.str("LogDestinationType")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	if dest == "" {
		dest = "cloud-watch-logs" // the CloudFormation default
	}
	if dest != "cloud-watch-logs" {
		e.notPriced(fmt.Sprintf("flow log delivery to %s: its price is not in the price table", dest))
		return
	}
	traffic, _, err := p.str("TrafficType")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	if traffic == "REJECT" {
		e.usage("records rejected traffic only: the health checks that run while idle are accepted")
		return
	}
	if typ, _, _ := p.str("ResourceType"); typ != "VPC" {
		e.notPriced(fmt.Sprintf("flow log on a %s: the idle floor is modelled for a whole VPC only", typ))
		return
	}
	vpc, ok, err := p.resource("ResourceId")
	if err != nil || !ok {
		e.notPriced(fmt.Sprintf("flow log: cannot tell which VPC it records: %v", err))
		return
	}
	checks, how, err := e.healthChecksPerMinute(vpc)
	if err != nil {
		e.notPriced("flow log idle floor: " + err.Error())
		return
	}
	records, recordsNote, ok1 := e.assume("vpcflowlogs.records_per_health_check")
	size, sizeNote, ok2 := e.assume("vpcflowlogs.bytes_per_record")
	if !ok1 || !ok2 {
		return
	}
	gb := checks * records * size * 60 * e.hours() / 1e9
	days, retention, err := e.logGroupRetention(p)
	if err != nil {
		e.notPriced("flow log storage: " + err.Error())
		return
	}
	e.logIngestion("VPC flow", gb, "cloudwatch.logs.vended_ingest_gb", days, retention,
		fmt.Sprintf("load balancer health checks only: %s = %s checks/min x %s x %s; other idle traffic (DNS, AWS API calls) adds to it",
			how, fmtNum(checks), recordsNote, sizeNote))
}

// healthChecksPerMinute counts the health checks load balancers send to
// targets in the VPC: each load balancer node (one per enabled subnet/AZ)
// checks each registered target every HealthCheckIntervalSeconds
// (Elastic Load Balancing guide, "Health checks for Application Load Balancer
// target groups").
func (e *est) healthChecksPerMinute(vpc resRef) (float64, string, error) {
	total := 0.0
	var parts []string
	for _, st := range e.w.stacks {
		ids := make([]string, 0)
		for id, r := range st.Template.Resources {
			if r.Type == "AWS::ElasticLoadBalancingV2::TargetGroup" {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			tp := props{w: e.w, s: st, m: st.Template.Resources[id].Properties, path: id}
			v, ok, err := tp.resource("VpcId")
			if !ok {
				continue // Lambda targets: no VPC, no flow
			}
			if err != nil {
				return 0, "", err
			}
			if !v.is(vpc.stack, vpc.id) {
				continue
			}
			if enabled, set, _ := tp.boolean("HealthCheckEnabled"); set && !enabled {
				continue
			}
			interval, ok, err := tp.num("HealthCheckIntervalSeconds")
			if err != nil {
				return 0, "", err
			}
			if !ok {
				interval = 30 // the default for HTTP, HTTPS and TCP target groups
			}
			targets, err := e.targetsOf(st, id, tp)
			if err != nil {
				return 0, "", err
			}
			nodes, err := e.nodesForwardingTo(st, id)
			if err != nil {
				return 0, "", err
			}
			if targets == 0 || nodes == 0 {
				continue
			}
			total += nodes * targets * 60 / interval
			parts = append(parts, fmt.Sprintf("%s: %s node(s) x %s target(s) every %s s", id, fmtNum(nodes), fmtNum(targets), fmtNum(interval)))
		}
	}
	if len(parts) == 0 {
		return 0, "no load balancer health checks in the VPC", nil
	}
	return total, strings.Join(parts, ", "), nil
}

// targetsOf counts the targets registered while idle: running tasks of the
// ECS services attached to the target group, plus its static Targets.
func (e *est) targetsOf(tgStack *Stack, tgID string, tp props) (float64, error) {
	n := 0.0
	if static, ok, err := tp.list("Targets"); err != nil {
		return 0, err
	} else if ok {
		n += float64(len(static))
	}
	err := e.services(func(id string, svc *est, sp props) error {
		lbs, ok, err := sp.list("LoadBalancers")
		if err != nil || !ok {
			return nil
		}
		for i, raw := range lbs {
			lp, _, err := sp.asObj(fmt.Sprintf("LoadBalancers[%d]", i), raw)
			if err != nil {
				continue
			}
			if tg, ok, err := lp.resource("TargetGroupArn"); err != nil || !ok || !tg.is(tgStack, tgID) {
				continue
			}
			tasks, _, err := svc.runningTasks(sp)
			if err != nil {
				return fmt.Errorf("service %s: %w", id, err)
			}
			n += tasks
		}
		return nil
	})
	return n, err
}

// nodesForwardingTo counts the load balancer nodes (one per subnet) of the
// load balancers whose listeners forward to the target group.
func (e *est) nodesForwardingTo(tgStack *Stack, tgID string) (float64, error) {
	lbs := map[resRef]bool{}
	forwards := func(p props, key string) bool {
		actions, ok, err := p.list(key)
		if err != nil || !ok {
			return false
		}
		for i, raw := range actions {
			ap, _, err := p.asObj(fmt.Sprintf("%s[%d]", key, i), raw)
			if err != nil {
				continue
			}
			if tg, ok, err := ap.resource("TargetGroupArn"); err == nil && ok && tg.is(tgStack, tgID) {
				return true
			}
			if fc, ok, err := ap.obj("ForwardConfig"); err == nil && ok {
				groups, _, _ := fc.list("TargetGroups")
				for j, g := range groups {
					gp, _, err := fc.asObj(fmt.Sprintf("TargetGroups[%d]", j), g)
					if err != nil {
						continue
					}
					if tg, ok, err := gp.resource("TargetGroupArn"); err == nil && ok && tg.is(tgStack, tgID) {
						return true
					}
				}
			}
		}
		return false
	}
	for _, st := range e.w.stacks {
		for id, r := range st.Template.Resources {
			p := props{w: e.w, s: st, m: r.Properties, path: id}
			var listener props
			switch r.Type {
			case "AWS::ElasticLoadBalancingV2::Listener":
				if !forwards(p, "DefaultActions") {
					continue
				}
				listener = p
			case "AWS::ElasticLoadBalancingV2::ListenerRule":
				if !forwards(p, "Actions") {
					continue
				}
				l, ok, err := p.resource("ListenerArn")
				if err != nil || !ok {
					continue
				}
				lr, _ := l.resource()
				listener = props{w: e.w, s: l.stack, m: lr.Properties, path: l.id}
			default:
				continue
			}
			lb, ok, err := listener.resource("LoadBalancerArn")
			if err != nil || !ok {
				return 0, fmt.Errorf("%s: cannot find its load balancer: %v", listener.path, err)
			}
			lbs[lb] = true
		}
	}
	n := 0.0
	for lb := range lbs {
		r, _ := lb.resource()
		p := props{w: e.w, s: lb.stack, m: r.Properties, path: lb.id}
		subnets, ok, err := p.list("Subnets")
		if err != nil {
			return 0, err
		}
		if !ok || len(subnets) == 0 {
			subnets, _, err = p.list("SubnetMappings")
			if err != nil {
				return 0, err
			}
		}
		n += float64(len(subnets))
	}
	return n, nil
}

// logGroupRetention reads RetentionInDays of the log group a writer names in
// LogGroupName (a Ref, or the name of a log group in the templates).
func (e *est) logGroupRetention(p props) (float64, string, error) {
	v, ok, err := p.get("LogGroupName")
	if err != nil {
		return 0, "", err
	}
	if !ok {
		return 0, "", fmt.Errorf("LogGroupName is not set")
	}
	var ref resRef
	switch x := v.(type) {
	case resRef:
		ref = x
	case string:
		found := false
		for _, st := range e.w.stacks {
			for id, r := range st.Template.Resources {
				if r.Type != "AWS::Logs::LogGroup" {
					continue
				}
				lp := props{w: e.w, s: st, m: r.Properties, path: id}
				if name, _, _ := lp.str("LogGroupName"); name == x {
					ref, found = resRef{stack: st, id: id}, true
				}
			}
		}
		if !found {
			return 0, "log group " + x + " is not in the templates", nil
		}
	default:
		return 0, "", fmt.Errorf("LogGroupName %s is not a log group of the templates", compact(v))
	}
	r, _ := ref.resource()
	days, ok, err := props{w: e.w, s: ref.stack, m: r.Properties, path: ref.id}.num("RetentionInDays")
	if err != nil {
		return 0, "", err
	}
	if !ok {
		return 0, ref.id + " has no RetentionInDays", nil
	}
	return days, ref.id + " RetentionInDays", nil
}

func scheduledQuery(e *est) {
	e.notPriced("scheduled query: runs (and bills) on its schedule even while idle; its price is not in the price table")
}
