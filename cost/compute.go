package cost

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------- ECS/Fargate

type capacityItem struct {
	provider string
	base     float64
	weight   float64
}

// ecsTaskDefinition: a task definition a service of the template runs is
// priced with that service; one that no service runs (the deploy-time
// migration task, started with RunTask) bills only while a task of it runs.
func ecsTaskDefinition(e *est) {
	for _, r := range e.s.Template.Resources {
		if r.Type != "AWS::ECS::Service" {
			continue
		}
		if ref, ok := r.Properties["TaskDefinition"].(map[string]any); ok && ref["Ref"] == e.id {
			e.free()
			return
		}
	}
	e.usage("a task definition no service runs: Fargate bills each task RunTask starts from it (here the deploy-time migration) per vCPU- and GB-second while it runs; nothing while idle")
}

func ecsService(e *est) {
	p := e.props()

	// The task definition gives the size and architecture of each task.
	td, ok, err := p.resource("TaskDefinition")
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("TaskDefinition is not set")
		}
		e.notPriced(err.Error())
		return
	}
	tdRes, _ := td.resource()
	if tdRes.Type != "AWS::ECS::TaskDefinition" {
		e.notPriced(fmt.Sprintf("TaskDefinition refers to %s, a %s", td.id, tdRes.Type))
		return
	}
	tdp := props{w: e.w, s: td.stack, m: tdRes.Properties, path: td.id}
	vcpu, gb, arch, err := fargateTaskSize(tdp)
	if err != nil {
		e.notPriced(err.Error())
		return
	}

	// How many tasks run while idle.
	tasks, taskNote, err := e.runningTasks(p)
	if err != nil {
		e.notPriced(err.Error())
		return
	}

	// Where they run: on-demand Fargate, Fargate Spot, or elsewhere.
	strategy, err := e.capacityStrategy(p)
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	split, err := splitTasks(tasks, strategy)
	if err != nil {
		e.notPriced(err.Error())
		return
	}

	archLabel := map[string]string{"linux_x86": "x86_64", "linux_arm64": "ARM64"}[arch]
	for _, prov := range []string{"FARGATE", "FARGATE_SPOT"} {
		n := split[prov]
		if n == 0 {
			continue
		}
		keyPrefix, kind := "fargate.", "on-demand"
		if prov == "FARGATE_SPOT" {
			keyPrefix, kind = "fargate_spot.", "Spot"
		}
		note := joinNotes(taskNote, fmt.Sprintf("%s task(s) on %s", fmtNum(n), prov))
		e.hourly(fmt.Sprintf("Fargate vCPU (%s, %s, %s vCPU/task)", archLabel, kind, fmtNum(vcpu)), n*vcpu, keyPrefix+arch+".vcpu_hour", note)
		e.hourly(fmt.Sprintf("Fargate memory (%s, %s, %s GB/task)", archLabel, kind, fmtNum(gb)), n*gb, keyPrefix+arch+".gb_hour", note)
	}

	if eph, ok, err := tdp.obj("EphemeralStorage"); err != nil {
		e.notPriced(err.Error())
	} else if ok {
		size, _, err := eph.num("SizeInGiB")
		if err != nil {
			e.notPriced(err.Error())
		} else if size > 20 {
			e.hourly("Fargate ephemeral storage above 20 GB", (size-20)*tasks, "fargate.ephemeral_storage.gb_hour",
				fmt.Sprintf("%s GiB per task", fmtNum(size)))
		}
	}

	// Public IPv4: one per running task when AssignPublicIp is ENABLED.
	assign, err := func() (string, error) {
		nc, ok, err := p.obj("NetworkConfiguration")
		if !ok || err != nil {
			return "", err
		}
		aw, ok, err := nc.obj("AwsvpcConfiguration")
		if !ok || err != nil {
			return "", err
		}
		s, _, err := aw.str("AssignPublicIp")
		return s, err
	}()
	if err != nil {
		e.notPriced("public IPv4 addresses: " + err.Error())
	} else if strings.EqualFold(assign, "ENABLED") {
		e.hourly("public IPv4 addresses (one per running task)", tasks, keyIPv4, "AssignPublicIp: ENABLED")
	}
}

// fargateTaskSize reads Cpu/Memory/RuntimePlatform of a task definition.
func fargateTaskSize(td props) (vcpu, gb float64, arch string, err error) {
	cpu, ok, err := td.get("Cpu")
	if err != nil {
		return 0, 0, "", err
	}
	if !ok {
		return 0, 0, "", fmt.Errorf("%s: task-level Cpu is not set", td.path)
	}
	if vcpu, err = parseCPU(cpu); err != nil {
		return 0, 0, "", td.wrap("Cpu", err)
	}
	mem, ok, err := td.get("Memory")
	if err != nil {
		return 0, 0, "", err
	}
	if !ok {
		return 0, 0, "", fmt.Errorf("%s: task-level Memory is not set", td.path)
	}
	if gb, err = parseMemoryGB(mem); err != nil {
		return 0, 0, "", td.wrap("Memory", err)
	}
	arch = "linux_x86"
	rp, ok, err := td.obj("RuntimePlatform")
	if err != nil {
		return 0, 0, "", err
	}
	if ok {
		os, _, err := rp.str("OperatingSystemFamily")
		if err != nil {
			return 0, 0, "", err
		}
		if os != "" && !strings.EqualFold(os, "LINUX") {
			return 0, 0, "", fmt.Errorf("%s: OperatingSystemFamily %s is not in the price table (Linux only)", td.path, os)
		}
		ca, _, err := rp.str("CpuArchitecture")
		if err != nil {
			return 0, 0, "", err
		}
		switch strings.ToUpper(ca) {
		case "", "X86_64":
		case "ARM64":
			arch = "linux_arm64"
		default:
			return 0, 0, "", fmt.Errorf("%s: CpuArchitecture %q unknown", td.path, ca)
		}
	}
	return vcpu, gb, arch, nil
}

// parseCPU accepts CPU units ("256", 1024) or "0.25 vCPU".
func parseCPU(v any) (float64, error) {
	if s, ok := v.(string); ok {
		t := strings.ToLower(strings.TrimSpace(s))
		if strings.HasSuffix(t, "vcpu") {
			f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "vcpu")), 64)
			if err != nil {
				return 0, unres("%q is not a CPU size", s)
			}
			return f, nil
		}
	}
	units, err := toFloat(v)
	if err != nil {
		return 0, err
	}
	return units / 1024, nil
}

// parseMemoryGB accepts MiB ("512", 2048) or "0.5 GB".
func parseMemoryGB(v any) (float64, error) {
	if s, ok := v.(string); ok {
		t := strings.ToLower(strings.TrimSpace(s))
		if strings.HasSuffix(t, "gb") {
			f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "gb")), 64)
			if err != nil {
				return 0, unres("%q is not a memory size", s)
			}
			return f, nil
		}
	}
	mib, err := toFloat(v)
	if err != nil {
		return 0, err
	}
	return mib / 1024, nil
}

// runningTasks is max(DesiredCount, MinCapacity of a scalable target of the
// service); without DesiredCount the MinCapacity, or 1.
func (e *est) runningTasks(p props) (float64, string, error) {
	desired, hasDesired, err := p.num("DesiredCount")
	if err != nil {
		return 0, "", err
	}
	min, hasMin, err := e.scalableMinCapacity(p)
	if err != nil {
		return 0, "", err
	}
	switch {
	case hasDesired && hasMin:
		return math.Max(desired, min), fmt.Sprintf("max(DesiredCount %s, autoscaling MinCapacity %s)", fmtNum(desired), fmtNum(min)), nil
	case hasDesired:
		return desired, fmt.Sprintf("DesiredCount %s", fmtNum(desired)), nil
	case hasMin:
		return min, fmt.Sprintf("autoscaling MinCapacity %s", fmtNum(min)), nil
	}
	return 1, "no DesiredCount or scalable target: 1 task assumed", nil
}

// scalableMinCapacity finds AWS::ApplicationAutoScaling::ScalableTarget
// resources whose ResourceId refers to this service.
func (e *est) scalableMinCapacity(svc props) (float64, bool, error) {
	svcName, _, _ := svc.str("ServiceName")
	found, best := false, 0.0
	for id, r := range e.s.Template.Resources {
		if r.Type != "AWS::ApplicationAutoScaling::ScalableTarget" {
			continue
		}
		tp := props{w: e.w, s: e.s, m: r.Properties, path: id}
		raw := r.Properties["ResourceId"]
		match := refersTo(raw, e.id)
		if !match && svcName != "" {
			if rid, _, err := tp.str("ResourceId"); err == nil && strings.HasSuffix(rid, "/"+svcName) {
				match = true
			}
		}
		if !match {
			continue
		}
		min, ok, err := tp.num("MinCapacity")
		if err != nil {
			return 0, false, err
		}
		if !ok {
			continue
		}
		if !found || min > best {
			best = min
		}
		found = true
	}
	return best, found, nil
}

// capacityStrategy returns the service's capacity provider strategy, its
// launch type as a one-item strategy, or the cluster's default strategy.
func (e *est) capacityStrategy(p props) ([]capacityItem, error) {
	if items, ok, err := parseStrategy(p, "CapacityProviderStrategy"); err != nil || ok {
		return items, err
	}
	lt, ok, err := p.str("LaunchType")
	if err != nil {
		return nil, err
	}
	if ok {
		if lt == "FARGATE" {
			return []capacityItem{{provider: "FARGATE", weight: 1}}, nil
		}
		return nil, fmt.Errorf("LaunchType %s: tasks run on container instances that are not priced here", lt)
	}
	// No launch type or strategy: the cluster's default strategy applies.
	cluster := p.m["Cluster"]
	for id, r := range e.s.Template.Resources {
		var key string
		switch r.Type {
		case "AWS::ECS::ClusterCapacityProviderAssociations":
			if !reflect.DeepEqual(r.Properties["Cluster"], cluster) {
				continue
			}
			key = "DefaultCapacityProviderStrategy"
		case "AWS::ECS::Cluster":
			if !refersTo(cluster, id) {
				continue
			}
			key = "DefaultCapacityProviderStrategy"
		default:
			continue
		}
		cp := props{w: e.w, s: e.s, m: r.Properties, path: id}
		if items, ok, err := parseStrategy(cp, key); err != nil || ok {
			return items, err
		}
	}
	return nil, fmt.Errorf("no LaunchType, no CapacityProviderStrategy and no cluster default strategy found: cannot tell where the tasks run")
}

func parseStrategy(p props, key string) ([]capacityItem, bool, error) {
	list, ok, err := p.list(key)
	if err != nil || !ok || len(list) == 0 {
		return nil, false, err
	}
	var items []capacityItem
	for i, el := range list {
		ip, _, err := p.asObj(fmt.Sprintf("%s[%d]", p.name(key), i), el)
		if err != nil {
			return nil, true, err
		}
		prov, _, err := ip.str("CapacityProvider")
		if err != nil {
			return nil, true, err
		}
		if prov != "FARGATE" && prov != "FARGATE_SPOT" {
			return nil, true, fmt.Errorf("capacity provider %q runs tasks on EC2 capacity that is not priced here", prov)
		}
		base, _, err := ip.num("Base")
		if err != nil {
			return nil, true, err
		}
		weight, _, err := ip.num("Weight")
		if err != nil {
			return nil, true, err
		}
		items = append(items, capacityItem{provider: prov, base: base, weight: weight})
	}
	return items, true, nil
}

// splitTasks spreads n tasks over a capacity provider strategy the way ECS
// does: Base tasks first, the rest in proportion to Weight. The split of the
// rest is the expected (possibly fractional) share.
func splitTasks(n float64, items []capacityItem) (map[string]float64, error) {
	out := map[string]float64{}
	rest := n
	for _, it := range items {
		if it.base > 0 && rest > 0 {
			b := math.Min(it.base, rest)
			out[it.provider] += b
			rest -= b
		}
	}
	if rest <= 0 {
		return out, nil
	}
	total := 0.0
	for _, it := range items {
		total += it.weight
	}
	if total <= 0 {
		return nil, fmt.Errorf("capacity provider strategy has no positive Weight for the %s task(s) beyond Base", fmtNum(rest))
	}
	for _, it := range items {
		out[it.provider] += rest * it.weight / total
	}
	return out, nil
}

func ecsCluster(e *est) {
	settings, ok, err := e.props().list("ClusterSettings")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	mode := ""
	if ok {
		for i, raw := range settings {
			sp, _, err := e.props().asObj(fmt.Sprintf("ClusterSettings[%d]", i), raw)
			if err != nil {
				e.notPriced(err.Error())
				return
			}
			if name, _, _ := sp.str("Name"); name != "containerInsights" {
				continue
			}
			if mode, _, err = sp.str("Value"); err != nil {
				e.notPriced(err.Error())
				return
			}
		}
	}
	switch mode {
	case "", "disabled":
		// Without the setting the account's containerInsights default
		// applies, which is off unless someone turned it on.
		e.free()
	case "enabled":
		e.containerInsights()
	case "enhanced":
		e.notPriced("Container Insights with enhanced observability: billed per observation, a price the table does not have")
	default:
		e.notPriced(fmt.Sprintf("containerInsights %q is not enabled, enhanced or disabled", mode))
	}
}

// ----------------------------------------------------------------------- EC2

func ec2Instance(e *est) {
	p := e.props()
	it, ok, err := p.str("InstanceType")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	if !ok {
		e.notPriced("InstanceType is not set (the CloudFormation default m1.small is not in the price table)")
		return
	}
	if ten, _, _ := p.str("Tenancy"); ten == "dedicated" || ten == "host" {
		e.notPriced(fmt.Sprintf("Tenancy %s is not in the price table", ten))
		return
	}
	note := "Linux assumed"
	if strings.HasPrefix(it, "t") {
		note += "; burstable: CPU credits above baseline (unlimited mode) are usage-based"
	}
	e.hourly("EC2 instance "+it, 1, "ec2."+it+".hour", note)

	bdms, ok, err := p.list("BlockDeviceMappings")
	if err != nil {
		e.notPriced(err.Error())
	} else if !ok || len(bdms) == 0 {
		e.notPriced("root EBS volume: its size and type come from the AMI, not the template")
	} else {
		for i, b := range bdms {
			bp, _, err := p.asObj(fmt.Sprintf("BlockDeviceMappings[%d]", i), b)
			if err != nil {
				e.notPriced(err.Error())
				continue
			}
			dev, _, _ := bp.str("DeviceName")
			if _, noDev := bp.m["NoDevice"]; noDev {
				continue
			}
			ebs, ok, err := bp.obj("Ebs")
			if err != nil {
				e.notPriced(err.Error())
				continue
			}
			if !ok {
				continue // instance store: included in the instance price
			}
			e.ebsVolume("EBS "+dev, ebs, "VolumeSize")
		}
	}
	e.instancePublicIP(p)
}

// instancePublicIP prices the public IPv4 an instance gets at launch.
func (e *est) instancePublicIP(p props) {
	// An Elastic IP attached to the instance replaces the launch-time address
	// and is priced on the EIP resource.
	for _, r := range e.s.Template.Resources {
		if (r.Type == "AWS::EC2::EIP" || r.Type == "AWS::EC2::EIPAssociation") && refersTo(r.Properties["InstanceId"], e.id) {
			return
		}
	}
	nis, ok, err := p.list("NetworkInterfaces")
	if err != nil {
		e.notPriced("public IPv4 address: " + err.Error())
		return
	}
	if ok && len(nis) > 0 {
		count := 0
		for i, ni := range nis {
			np, _, err := p.asObj(fmt.Sprintf("NetworkInterfaces[%d]", i), ni)
			if err != nil {
				e.notPriced("public IPv4 address: " + err.Error())
				return
			}
			assoc, set, err := np.boolean("AssociatePublicIpAddress")
			if err != nil {
				e.notPriced("public IPv4 address: " + err.Error())
				return
			}
			if set {
				if assoc {
					count++
				}
				continue
			}
			if idx, _, _ := np.num("DeviceIndex"); idx == 0 {
				public, err := e.subnetAssignsPublicIP(np, "SubnetId")
				if err != nil {
					e.notPriced("public IPv4 address: " + err.Error())
					return
				}
				if public {
					count++
				}
			}
		}
		if count > 0 {
			e.hourly("public IPv4 address", float64(count), keyIPv4, "")
		}
		return
	}
	if _, ok := p.m["SubnetId"]; !ok {
		e.notPriced("public IPv4 address: no SubnetId, the instance lands in the default VPC, whose subnets usually assign one")
		return
	}
	public, err := e.subnetAssignsPublicIP(p, "SubnetId")
	if err != nil {
		e.notPriced("public IPv4 address: " + err.Error())
		return
	}
	if public {
		e.hourly("public IPv4 address", 1, keyIPv4, "subnet has MapPublicIpOnLaunch")
	}
}

func (e *est) subnetAssignsPublicIP(p props, key string) (bool, error) {
	ref, ok, err := p.resource(key)
	if err != nil {
		return false, fmt.Errorf("cannot tell whether the subnet assigns public IPs: %w", err)
	}
	if !ok {
		return false, fmt.Errorf("%s is not set", p.name(key))
	}
	r, _ := ref.resource()
	if r.Type != "AWS::EC2::Subnet" {
		return false, fmt.Errorf("%s refers to a %s", p.name(key), r.Type)
	}
	sp := props{w: e.w, s: ref.stack, m: r.Properties, path: ref.id}
	public, _, err := sp.boolean("MapPublicIpOnLaunch")
	return public, err
}

func ec2Volume(e *est) {
	e.ebsVolume("EBS volume", e.props(), "Size")
}

// ebsVolume prices an EBS volume described by VolumeType/Iops/Throughput and
// a size property (Size on AWS::EC2::Volume, VolumeSize in block devices).
func (e *est) ebsVolume(label string, p props, sizeKey string) {
	size, ok, err := p.num(sizeKey)
	if err != nil {
		e.notPriced(label + ": " + err.Error())
		return
	}
	if !ok {
		e.notPriced(label + ": " + p.name(sizeKey) + " is not set (size comes from a snapshot)")
		return
	}
	vt, _, err := p.str("VolumeType")
	if err != nil {
		e.notPriced(label + ": " + err.Error())
		return
	}
	note := ""
	if vt == "" {
		vt, note = "gp2", "VolumeType not set: gp2 assumed (EC2 default)"
	}
	iops, hasIops, err := p.num("Iops")
	if err != nil {
		e.notPriced(label + ": " + err.Error())
		return
	}
	tput, hasTput, err := p.num("Throughput")
	if err != nil {
		e.notPriced(label + ": " + err.Error())
		return
	}
	switch vt {
	case "gp3":
		e.line(label+" gp3 storage", size, "ebs.gp3.gb_month", note)
		if hasIops && iops > 3000 {
			e.line(label+" gp3 IOPS above 3,000", iops-3000, "ebs.gp3.iops_month", "")
		}
		if hasTput && tput > 125 {
			e.line(label+" gp3 throughput above 125 MB/s", tput-125, "ebs.gp3.mbps_month", "")
		}
	case "gp2", "st1", "sc1", "standard":
		e.line(fmt.Sprintf("%s %s storage", label, vt), size, "ebs."+vt+".gb_month", note)
	case "io1", "io2":
		e.line(fmt.Sprintf("%s %s storage", label, vt), size, "ebs."+vt+".gb_month", note)
		if !hasIops {
			e.notPriced(label + ": provisioned IOPS not set")
			return
		}
		if vt == "io1" {
			e.line(label+" io1 provisioned IOPS", iops, "ebs.io1.iops_month", "")
			return
		}
		tiers := []struct {
			upTo float64
			key  string
		}{{32000, "ebs.io2.iops_month"}, {64000, "ebs.io2.iops_month_tier2"}, {math.Inf(1), "ebs.io2.iops_month_tier3"}}
		from := 0.0
		for _, t := range tiers {
			if iops <= from {
				break
			}
			n := math.Min(iops, t.upTo) - from
			e.line(fmt.Sprintf("%s io2 provisioned IOPS %s-%s", label, fmtNum(from+1), fmtNum(from+n)), n, t.key, "")
			from = t.upTo
		}
	default:
		e.notPriced(fmt.Sprintf("%s: volume type %q not in the price table", label, vt))
	}
}

func lambdaVersionOrAlias(e *est) {
	if _, ok := e.r.Properties["ProvisionedConcurrencyConfig"]; ok {
		e.notPriced("provisioned concurrency has an hourly cost that is not in the price table")
		return
	}
	e.free()
}

// fmtNum prints a quantity without needless decimals.
func fmtNum(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e4)/1e4, 'f', -1, 64)
}
