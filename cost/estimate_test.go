package cost

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// All figures below use the checked-in price table and 730 hours/month.
// Each expected total is worked out by hand in the comments so that a change
// to the arithmetic (or to a price) shows up as a failing test.

func estimateFiles(t *testing.T, files ...string) Report {
	t.Helper()
	prices, err := DefaultPrices()
	require.NoError(t, err)
	var stacks []*Stack
	for _, f := range files {
		s, err := LoadStack(filepath.Join("testdata", f))
		require.NoError(t, err)
		stacks = append(stacks, s)
	}
	return Estimate("test", stacks, prices)
}

// byResource sums the monthly USD of the priced lines of each logical ID.
func byResource(r Report) map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.Stacks {
		for _, l := range s.Lines {
			out[l.LogicalID] += l.MonthlyUSD
		}
	}
	return out
}

func reasons(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.LogicalID+": "+e.Reason)
	}
	return out
}

func allEntries(r Report, notPriced bool) []Entry {
	var out []Entry
	for _, s := range r.Stacks {
		if notPriced {
			out = append(out, s.NotPriced...)
		} else {
			out = append(out, s.UsageBased...)
		}
	}
	return out
}

func storedEntries(r Report) []Entry {
	var out []Entry
	for _, s := range r.Stacks {
		out = append(out, s.Stored...)
	}
	return out
}

func TestEstimate(t *testing.T) {
	tests := []struct {
		name           string
		file           string
		wantTotal      float64
		wantByResource map[string]float64
		wantLow        float64 // total at best-case prices, when it differs
		wantFloors     float64
		wantNotPriced  []string // substrings, one per not-priced entry, in order
		wantUsage      int
		wantStored     int
		wantFree       int
	}{
		{
			// NAT gateway: 0.045 $/h x 730 h = 32.85 (data processed: 0 GB idle)
			// EIP:         0.005 $/h x 730 h =  3.65
			// total                           = 36.50
			// free: VPC, subnet, internet gateway, CDK metadata.
			name:      "NAT gateway and its Elastic IP",
			file:      "nat_eip.template.json",
			wantTotal: 36.50,
			wantByResource: map[string]float64{
				"VpcPublicSubnet1NATGateway4D7517AA": 32.85,
				"VpcPublicSubnet1EIPD7E02669":        3.65,
			},
			wantFree: 4,
		},
		{
			// internet-facing ALB: 0.0225 x 730 = 16.425
			//   + 2 subnets x 0.005 x 730       =  7.30   -> 23.725
			// internal ALB: 0.0225 x 730        = 16.425 (no public IPv4)
			// LCUs are usage-based: 0 idle.
			// total = 23.725 + 16.425            = 40.15
			name:      "internet-facing vs internal ALB",
			file:      "alb.template.json",
			wantTotal: 40.15,
			wantByResource: map[string]float64{
				"PublicAlb":   23.725,
				"InternalAlb": 16.425,
			},
			wantFree: 5,
		},
		{
			// ApiService, ARM64 on-demand, 2 tasks of 0.5 vCPU / 1 GB:
			//   vCPU 0.5 x 2 x 730 = 730 vCPU-h x 0.03238  = 23.6374
			//   mem  1   x 2 x 730 = 1460 GB-h  x 0.00356  =  5.1976  -> 28.835
			// WorkerService, x86, 1 vCPU / 2 GB, tasks = max(DesiredCount 1,
			// MinCapacity 4) = 4; strategy FARGATE base 1 weight 1 +
			// FARGATE_SPOT weight 2: 1 base + 3 x 1/3 = 2 on-demand, 3 x 2/3 = 2 Spot:
			//   on-demand vCPU 1 x 2 x 730 = 1460 x 0.04048    = 59.1008
			//   on-demand mem  2 x 2 x 730 = 2920 x 0.004445   = 12.9794
			//   Spot vCPU      1 x 2 x 730 = 1460 x 0.01334053 = 19.477174 (typical)
			//   Spot mem       2 x 2 x 730 = 2920 x 0.00146489 =  4.277479 (typical)
			//   public IPv4 (ENABLED) 4 tasks x 730 x 0.005    = 14.60    -> 110.434853
			//   best case, Spot at 30%: 1460 x 0.012144 = 17.73024 and
			//   2920 x 0.0013335 = 3.89382 -> 108.30426
			// CronService, x86 on-demand, no DesiredCount/target: 1 task of
			// 0.25 vCPU / 0.5 GB:
			//   vCPU 0.25 x 730 = 182.5 x 0.04048  = 7.3876
			//   mem  0.5  x 730 = 365   x 0.004445 = 1.622425               -> 9.010025
			// total = 28.835 + 110.434853 + 9.010025 = 148.279878
			// best case = 28.835 + 108.30426 + 9.010025 = 146.149285
			name:      "Fargate ARM on-demand vs x86 Spot with a mixed strategy",
			file:      "fargate.template.json",
			wantTotal: 148.279878,
			wantLow:   146.149285,
			wantByResource: map[string]float64{
				"ApiService":    28.835,
				"WorkerService": 110.434853,
				"CronService":   9.010025,
			},
			wantFree: 5, // cluster (no Container Insights), 3 task definitions run by services, scalable target
			// A task definition no service runs (a one-off RunTask, like the
			// deploy-time migration) bills per run.
			wantUsage: 1,
		},
		{
			// Priced as before: Fargate ARM on-demand 3 x 0.25 vCPU x 730 = 547.5
			// x 0.03238 = 17.72805, 3 x 0.5 GB x 730 = 1095 x 0.00356 = 3.8982
			// -> 21.62625; internal ALB 16.425; KMS key 1; RDS db.t4g.micro
			// 11.68 + gp3 20 GB 2.30 = 13.98.
			// Container Insights: cluster 3 + 8 + 2 (Fargate) = 13, service
			// 5 + 8 + 2 = 15, task family "api" 8 + 2 = 10: 38 x 0.30 = 11.40.
			// Idle floors:
			//   flow log: 2 ALB nodes (subnets) x 3 targets x 60/30 s (default
			//     interval) = 12 checks/min x 4 records x 150 bytes = 7,200 B/min
			//     x 43,800 min = 0.31536 GB x 0.50 = 0.15768; kept 30 days:
			//     0.31536 x 30 / 30.416667 = 0.31104 GB x 0.03 = 0.009331
			//   Container Insights logs/min: cluster 500 + service 700 + 3 tasks x
			//     (1,600 + 2 containers x 800) = 10,800 B x 43,800 = 0.47304 GB
			//     x 0.50 = 0.23652; kept 1 day: 0.015552 GB x 0.03 = 0.000467
			//   KMS rotation: 2 x 1.00 = 2.00
			//   Enhanced Monitoring every 30 s: 87,600 x 8,000 B = 0.7008 GB
			//     x 0.50 = 0.3504; kept 30 days: 0.6912 GB x 0.03 = 0.020736
			//   PostgreSQL log: 20,000 B x 730 = 0.0146 GB x 0.50 = 0.0073; kept
			//     7 days (DbLogs): 0.00336 GB x 0.03 = 0.000101
			//   floors = 2.782535
			// total = 21.62625 + 16.425 + 11.40 + 1 + 13.98 + 2.782535 = 67.213785
			name:       "idle floors: flow log, Container Insights, KMS rotation, RDS logs",
			file:       "floors.template.json",
			wantTotal:  67.213785,
			wantFloors: 2.782535,
			wantByResource: map[string]float64{
				"FlowLog": 0.167011,
				"Cluster": 11.636987,
				"Key":     3,
				"Db":      14.358537,
			},
			wantStored: 2, // the two log groups
			wantFree:   6, // VPC, 2 subnets, listener, target group, task definition
		},
		{
			// Rejected-only flow log: health checks are accepted traffic, so
			// nothing while idle (usage). Flow log to S3 and enhanced Container
			// Insights: not priced. Clusters without (or with disabled)
			// Container Insights are free. A key without rotation: 1.00.
			name:      "floors that do not apply, or that the table cannot price",
			file:      "floors_off.template.json",
			wantTotal: 1,
			wantNotPriced: []string{
				"Enhanced: Container Insights with enhanced observability",
				"ToS3: flow log delivery to s3",
			},
			wantUsage: 1,
			wantFree:  3, // VPC, 2 clusters
		},
		{
			// SiteAcl: web ACL 5.00 + 3 rules (a rate rule and two managed
			//   groups, each one rule) x 1.00                 = 8.00
			// BotAcl: 5.00 + 1 rule                           = 6.00, and
			//   Bot Control's own fees are not priced
			// EmptyAcl: the web ACL alone                     = 5.00
			// requests inspected: usage-based, 0 idle.
			// total = 8 + 6 + 5                               = 19.00
			name:      "AWS WAF web ACLs: the ACL, a rule per rule or rule group, paid groups not priced",
			file:      "waf.template.json",
			wantTotal: 19,
			wantByResource: map[string]float64{
				"SiteAcl":  8,
				"BotAcl":   6,
				"EmptyAcl": 5,
			},
			wantNotPriced: []string{"BotAcl: paid AWS managed rule group AWSManagedRulesBotControlRuleSet"},
		},
		{
			// DevDb, Single-AZ db.t4g.micro: 0.016 x 730      = 11.68
			//   gp3 20 GB x 0.115                              =  2.30 -> 13.98
			//   Performance Insights 7 days: free tier          =  0
			// ProdDb, Multi-AZ db.t4g.small: 0.032 x 730 x 2  = 46.72
			//   gp3 100 GB x 2 copies x 0.115                  = 23.00 -> 69.72
			// backups up to the DB size: 0 idle.
			// total = 13.98 + 69.72                             = 83.70
			name:      "RDS single vs Multi-AZ with gp3 storage",
			file:      "rds.template.json",
			wantTotal: 83.70,
			wantByResource: map[string]float64{
				"DevDb":  13.98,
				"ProdDb": 69.72,
			},
			wantFree: 1,
		},
		{
			// interface endpoint in 2 subnets: 2 x 730 x 0.01 = 14.60
			// gateway endpoint (S3): free
			name:           "interface endpoint across 2 subnets, gateway endpoint free",
			file:           "endpoints.template.json",
			wantTotal:      14.60,
			wantByResource: map[string]float64{"EcrApiEndpoint": 14.60},
			wantFree:       5, // S3 gateway endpoint, VPC, 2 subnets, route table
		},
		{
			// CpuAlarm, Period 300: 1 standard metric x 0.10           = 0.10
			// LatencyAlarmHighRes, Period "10": 1 high-res metric x 0.30 = 0.30
			// ErrorRateAlarm, metric math over 2 metrics (60 s): 2 x 0.10 = 0.20
			// total                                                     = 0.60
			// the SNS topic is usage-based.
			name:      "alarms standard vs high resolution vs metric math",
			file:      "alarms.template.json",
			wantTotal: 0.60,
			wantByResource: map[string]float64{
				"CpuAlarm":            0.10,
				"LatencyAlarmHighRes": 0.30,
				"ErrorRateAlarm":      0.20,
			},
			wantUsage: 1,
		},
		{
			// AWS::Foo::Bar is neither priced, usage-based nor free: it must be
			// listed as not priced. The bucket is stored data, the security
			// group free. Total 0.
			name:          "unknown type listed as not priced",
			file:          "unknown.template.json",
			wantTotal:     0,
			wantNotPriced: []string{"Mystery: resource type not in the price table"},
			wantStored:    1,
			wantFree:      1,
		},
		{
			// ParamDb resolves DBInstanceClass and AllocatedStorage ("20") from
			// parameter defaults: 0.016 x 730 = 11.68 + gp2 20 x 0.115 = 2.30
			// -> 13.98. ParamVolume's Size is a parameter without a default and
			// ScratchVolume's Size an Fn::GetAtt: both not priced. The custom
			// resource is usage-based.
			name:           "intrinsic values resolved when possible, listed otherwise",
			file:           "intrinsics.template.json",
			wantTotal:      13.98,
			wantByResource: map[string]float64{"ParamDb": 13.98},
			wantNotPriced: []string{
				"ParamVolume: EBS volume: Size: parameter VolumeSize has no Default",
				`ScratchVolume: EBS volume: Size: {"Fn::GetAtt":["SizingCustomResource","SizeGiB"]} is only known after deployment`,
			},
			wantUsage: 1,
		},
		{
			// FastVolume gp3 100 GB x 0.08                 = 8.00
			//   IOPS 4000 - 3000 free = 1000 x 0.005        = 5.00
			//   throughput 200 - 125 free = 75 MB/s x 0.04  = 3.00 -> 16.00
			// OldVolume, no VolumeType: gp2 50 GB x 0.10    = 5.00
			// total                                          = 21.00
			name:      "EBS volumes gp3 above baseline and default gp2",
			file:      "ebs.template.json",
			wantTotal: 21.00,
			wantByResource: map[string]float64{
				"FastVolume": 16.00,
				"OldVolume":  5.00,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := estimateFiles(t, tc.file)
			assert.InDelta(t, tc.wantTotal, rep.MonthlyUSD, 1e-6, "total")
			if tc.wantLow == 0 {
				tc.wantLow = tc.wantTotal
			}
			assert.InDelta(t, tc.wantLow, rep.MonthlyLowUSD, 1e-6, "total at best-case prices")
			assert.InDelta(t, tc.wantFloors, rep.FloorUSD, 1e-6, "idle floors")
			got := byResource(rep)
			for id, want := range tc.wantByResource {
				assert.InDelta(t, want, got[id], 1e-6, id)
			}
			np := reasons(allEntries(rep, true))
			require.Len(t, np, len(tc.wantNotPriced), "not priced: %v", np)
			for i, want := range tc.wantNotPriced {
				assert.Contains(t, np[i], want)
			}
			assert.Equal(t, len(tc.wantNotPriced), rep.NotPriced)
			assert.Len(t, allEntries(rep, false), tc.wantUsage, "usage-based: %v", reasons(allEntries(rep, false)))
			assert.Len(t, storedEntries(rep), tc.wantStored, "stored data: %v", reasons(storedEntries(rep)))
			assert.Equal(t, tc.wantFree, rep.Stacks[0].Free, "free resources")
		})
	}
}

func TestFargateLines(t *testing.T) {
	rep := estimateFiles(t, "fargate.template.json")
	type key struct{ id, key string }
	got := map[key]float64{}
	for _, l := range rep.Stacks[0].Lines {
		got[key{l.LogicalID, l.PriceKey}] += l.Quantity
	}
	// Quantities in billed units per month (see TestEstimate for the sums).
	assert.InDelta(t, 730, got[key{"ApiService", "fargate.linux_arm64.vcpu_hour"}], 1e-9)
	assert.InDelta(t, 1460, got[key{"ApiService", "fargate.linux_arm64.gb_hour"}], 1e-9)
	assert.InDelta(t, 1460, got[key{"WorkerService", "fargate.linux_x86.vcpu_hour"}], 1e-9)
	assert.InDelta(t, 1460, got[key{"WorkerService", "fargate_spot.linux_x86.vcpu_hour"}], 1e-9)
	assert.InDelta(t, 2920, got[key{"WorkerService", "fargate_spot.linux_x86.gb_hour"}], 1e-9)
	assert.InDelta(t, 2920, got[key{"WorkerService", "vpc.public_ipv4.hour"}], 1e-9)
	_, apiHasIP := got[key{"ApiService", "vpc.public_ipv4.hour"}]
	assert.False(t, apiHasIP, "AssignPublicIp DISABLED must not add public IPv4")
}

func TestSplitTasks(t *testing.T) {
	od, spot := "FARGATE", "FARGATE_SPOT"
	tests := []struct {
		name     string
		n        float64
		items    []capacityItem
		wantOD   float64
		wantSpot float64
		wantErr  bool
	}{
		{"all on-demand", 3, []capacityItem{{od, 0, 1}}, 3, 0, false},
		{"all spot", 3, []capacityItem{{spot, 0, 1}}, 0, 3, false},
		// base 1 on-demand, the other 3 split 1:2
		{"base then weights", 4, []capacityItem{{od, 1, 1}, {spot, 0, 2}}, 2, 2, false},
		// base covers everything
		{"base only", 2, []capacityItem{{od, 2, 0}, {spot, 0, 1}}, 2, 0, false},
		// 1 base on-demand, 4 remaining go all to spot (weight 0 on-demand)
		{"base plus spot", 5, []capacityItem{{od, 1, 0}, {spot, 0, 1}}, 1, 4, false},
		{"no weight beyond base", 3, []capacityItem{{od, 1, 0}}, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitTasks(tc.n, tc.items)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.InDelta(t, tc.wantOD, got[od], 1e-9)
			assert.InDelta(t, tc.wantSpot, got[spot], 1e-9)
		})
	}
}

func TestParseSizes(t *testing.T) {
	for in, want := range map[any]float64{"256": 0.25, 1024.0: 1, "2 vCPU": 2, "0.5 vcpu": 0.5} {
		got, err := parseCPU(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-9, in)
	}
	for in, want := range map[any]float64{"512": 0.5, 2048.0: 2, "4 GB": 4, "0.5GB": 0.5} {
		got, err := parseMemoryGB(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-9, in)
	}
	_, err := parseCPU("lots")
	assert.Error(t, err)
}

func TestCrossStackImportAndOrder(t *testing.T) {
	prices, err := DefaultPrices()
	require.NoError(t, err)
	stacks, err := LoadEnv(filepath.Join("testdata", "cdkout"), "test")
	require.NoError(t, err)
	var names []string
	for _, s := range stacks {
		names = append(names, s.Name)
	}
	// deployment order, and tsa-other-* is not read
	assert.Equal(t, []string{"tsa-test-network", "tsa-test-compute"}, names)

	rep := Estimate("test", stacks, prices)
	// network: NAT 32.85 + EIP 3.65 = 36.50
	// compute: t4g.micro 0.0084 x 730 = 6.132, root gp3 8 GB x 0.08 = 0.64,
	//   public IPv4 (the imported subnet has MapPublicIpOnLaunch) 3.65 -> 10.422
	// total 46.922
	assert.InDelta(t, 36.50, rep.Stacks[0].MonthlyUSD, 1e-6)
	assert.InDelta(t, 10.422, rep.Stacks[1].MonthlyUSD, 1e-6)
	assert.InDelta(t, 46.922, rep.MonthlyUSD, 1e-6)
	assert.Zero(t, rep.NotPriced, reasons(allEntries(rep, true)))
}

func TestBudget(t *testing.T) {
	r := Report{MonthlyUSD: 46.922, Currency: "USD"}
	assert.NoError(t, r.CheckBudget(50))
	assert.NoError(t, r.CheckBudget(46.922))
	err := r.CheckBudget(40)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "46.92 USD/month exceeds the budget of 40.00")

	r.NotPriced = 2
	assert.Contains(t, r.CheckBudget(40).Error(), "2 item(s) are not priced")
}

func TestTextReport(t *testing.T) {
	rep := estimateFiles(t, "nat_eip.template.json", "unknown.template.json")
	var b strings.Builder
	require.NoError(t, rep.WriteText(&b))
	out := b.String()
	assert.Contains(t, out, "== nat_eip  (36.50 USD/month)")
	assert.Contains(t, out, "NAT gateway")
	assert.Contains(t, out, "32.85")
	assert.Contains(t, out, "stored data, billed per GB-month for what is put there")
	assert.Contains(t, out, "NOT PRICED (missing from the total):")
	assert.Contains(t, out, "AWS::Foo::Bar")
	assert.Contains(t, out, "TOTAL idle estimate: 36.50 USD/month across 2 stack(s)")
	assert.Contains(t, out, "1 item(s) not priced: the total is a lower bound.")
}

func TestTextReportFloorsAndRanges(t *testing.T) {
	rep := estimateFiles(t, "floors.template.json", "fargate.template.json")
	var b strings.Builder
	require.NoError(t, rep.WriteText(&b))
	out := b.String()
	assert.Contains(t, out, "== floors  (67.21 USD/month, of which 2.78 idle floors)")
	assert.Contains(t, out, "idle floors (what monitoring and idle traffic cost with no users; assumptions in the notes):")
	assert.Contains(t, out, "Container Insights metrics: 38 (cluster 13 + 1 service(s) 15 + 1 task famil(ies) 10)")
	assert.Contains(t, out, "Tg: 2 node(s) x 3 target(s) every 30 s = 12 checks/min x 4 records/check x 150 bytes/record", "the floor states its assumption")
	assert.Contains(t, out, "price varies: typical 0.01334053, best case 0.012144 per vCPU-hour")
	assert.Contains(t, out, "TOTAL idle estimate: 215.49 USD/month across 2 stack(s), idle floors included (2.78)")
	assert.Contains(t, out, "with every varying price at its best case: 213.36 USD/month")
}

func TestFloorsInJSON(t *testing.T) {
	rep := estimateFiles(t, "floors.template.json")
	var floors []string
	for _, l := range rep.Stacks[0].Lines {
		if l.Floor {
			floors = append(floors, l.LogicalID+" "+l.PriceKey)
		}
	}
	assert.ElementsMatch(t, []string{
		"FlowLog cloudwatch.logs.vended_ingest_gb", "FlowLog cloudwatch.logs.storage_gb_month",
		"Cluster cloudwatch.logs.ingest_gb", "Cluster cloudwatch.logs.storage_gb_month",
		"Key kms.key_rotation.month",
		"Db cloudwatch.logs.ingest_gb", "Db cloudwatch.logs.storage_gb_month", // Enhanced Monitoring
		"Db cloudwatch.logs.ingest_gb", "Db cloudwatch.logs.storage_gb_month", // exported PostgreSQL log
	}, floors)
}
