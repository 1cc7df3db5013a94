package cost

import (
	"fmt"
	"strings"
)

func rdsInstance(e *est) {
	p := e.props()
	engine, ok, err := p.str("Engine")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	engine = strings.ToLower(engine)
	if _, inCluster := p.m["DBClusterIdentifier"]; inCluster || strings.HasPrefix(engine, "aurora") {
		e.notPriced("Aurora cluster instance: Aurora pricing is not in the price table")
		return
	}
	if !ok {
		e.notPriced("Engine is not set")
		return
	}
	var family string
	switch {
	case engine == "postgres":
		family = "postgres"
	case engine == "mysql", engine == "mariadb":
		family = "mysql"
	default:
		e.notPriced(fmt.Sprintf("engine %q is not in the price table (PostgreSQL, MySQL, MariaDB only)", engine))
		return
	}
	class, ok, err := p.str("DBInstanceClass")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	if !ok {
		e.notPriced("DBInstanceClass is not set")
		return
	}
	multi, _, err := p.boolean("MultiAZ")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	copies, deploy, note := 1.0, "Single-AZ", ""
	if multi {
		copies, deploy, note = 2, "Multi-AZ", "Multi-AZ: primary and standby are both billed"
	}
	e.hourly(fmt.Sprintf("DB instance %s (%s, %s)", class, engine, deploy), copies, "rds."+family+"."+class+".hour", note)

	e.rdsStorage(p, copies, engine)
	e.usageLine("backup storage beyond the DB size", "rds.backup.gb_month", "automated backups up to 100% of the DB size are free")

	if pi, _, err := p.boolean("EnablePerformanceInsights"); err != nil {
		e.notPriced(err.Error())
	} else if pi {
		days, ok, err := p.num("PerformanceInsightsRetentionPeriod")
		switch {
		case err != nil:
			e.notPriced(err.Error())
		case !ok || days <= 7:
			e.line("Performance Insights, 7-day retention (free tier)", copies, "rds.performance_insights.free_tier", "")
		default:
			e.notPriced(fmt.Sprintf("Performance Insights paid retention (%s days): the us-east-1 per-vCPU-month price is not confirmed, so it is not in the price table", fmtNum(days)))
		}
	}
	if mode, _, _ := p.str("DatabaseInsightsMode"); strings.EqualFold(mode, "advanced") {
		e.notPriced("CloudWatch Database Insights advanced mode (per vCPU-hour) is not in the price table")
	}
	e.rdsLogFloors(p)
	if public, _, err := p.boolean("PubliclyAccessible"); err != nil {
		e.notPriced("public IPv4 address: " + err.Error())
	} else if public {
		e.hourly("public IPv4 address (PubliclyAccessible)", 1, keyIPv4, "")
	}
}

func (e *est) rdsStorage(p props, copies float64, engine string) {
	size, ok, err := p.num("AllocatedStorage")
	if err != nil {
		e.notPriced("storage: " + err.Error())
		return
	}
	if !ok {
		if _, snap := p.m["DBSnapshotIdentifier"]; snap {
			e.notPriced("storage: AllocatedStorage not set, the size comes from the snapshot")
		} else {
			e.notPriced("storage: AllocatedStorage is not set")
		}
		return
	}
	st, _, err := p.str("StorageType")
	if err != nil {
		e.notPriced("storage: " + err.Error())
		return
	}
	iops, hasIops, err := p.num("Iops")
	if err != nil {
		e.notPriced("storage: " + err.Error())
		return
	}
	note := ""
	if copies == 2 {
		note = "Multi-AZ: two copies"
	}
	if st == "" {
		if hasIops {
			st = "io1"
		} else {
			st = "gp2"
			note = joinNotes(note, "StorageType not set: gp2 assumed (same per-GB price as gp3)")
		}
	}
	st = strings.ToLower(st)
	e.line(fmt.Sprintf("storage %s, %s GB", st, fmtNum(size)), size*copies, "rds.storage."+st+".gb_month", note)
	switch st {
	case "gp3":
		// gp3 includes 3,000 IOPS / 125 MB/s, or 12,000 / 500 from 400 GB
		// (PostgreSQL, MySQL, MariaDB).
		baseIops, baseTput := 3000.0, 125.0
		if size >= 400 {
			baseIops, baseTput = 12000, 500
		}
		if hasIops && iops > baseIops {
			e.line(fmt.Sprintf("gp3 IOPS above %s", fmtNum(baseIops)), (iops-baseIops)*copies, "rds.storage.gp3.iops_month", note)
		}
		tput, ok, err := p.num("StorageThroughput")
		if err != nil {
			e.notPriced("storage: " + err.Error())
		} else if ok && tput > baseTput {
			e.line(fmt.Sprintf("gp3 throughput above %s MB/s", fmtNum(baseTput)), (tput-baseTput)*copies, "rds.storage.gp3.mbps_month", note)
		}
	case "io1", "io2":
		if !hasIops {
			e.notPriced("storage: provisioned IOPS not set")
			return
		}
		e.line(st+" provisioned IOPS", iops*copies, "rds.storage."+st+".iops_month", note)
	case "standard":
		e.usage("magnetic storage I/O requests are billed by use")
	}
}

// rdsLogFloors prices what the instance writes to CloudWatch Logs while
// idle: Enhanced Monitoring's OS metrics (one RDSOSMetrics event per
// MonitoringInterval) and the exported PostgreSQL log.
func (e *est) rdsLogFloors(p props) {
	iv, _, err := p.num("MonitoringInterval")
	if err != nil {
		e.notPriced(err.Error())
	} else if iv > 0 {
		size, sizeNote, ok1 := e.assume("rds.enhanced_monitoring.bytes_per_sample")
		days, _, ok2 := e.assume("rds.enhanced_monitoring.retention_days")
		if ok1 && ok2 {
			samples := e.hours() * 3600 / iv
			e.logIngestion(fmt.Sprintf("Enhanced Monitoring (every %s s)", fmtNum(iv)), samples*size/1e9, "cloudwatch.logs.ingest_gb",
				days, "RDSOSMetrics default",
				fmt.Sprintf("%s samples/month x %s; one stream per instance, Multi-AZ standby not monitored", fmtNum(samples), sizeNote))
		}
	}
	exports, _, err := p.list("EnableCloudwatchLogsExports")
	if err != nil {
		e.notPriced(err.Error())
		return
	}
	for i, raw := range exports {
		v, err := e.w.resolve(e.s, raw, 0)
		name, _ := v.(string)
		if err != nil || name != "postgresql" {
			continue // upgrade and error logs are written by events, not while idle
		}
		rate, rateNote, ok := e.assume("rds.postgresql.idle_log_bytes_per_hour")
		if !ok {
			return
		}
		days, retention := 0.0, "no log group for it in the templates"
		if id, _, _ := p.str("DBInstanceIdentifier"); id != "" {
			lp := props{w: e.w, s: e.s, m: map[string]any{"LogGroupName": "/aws/rds/instance/" + id + "/postgresql"}, path: fmt.Sprintf("EnableCloudwatchLogsExports[%d]", i)}
			if d, how, err := e.logGroupRetention(lp); err == nil {
				days, retention = d, how
			}
		}
		e.logIngestion("exported PostgreSQL", rate*e.hours()/1e9, "cloudwatch.logs.ingest_gb", days, retention,
			rateNote+" while idle (checkpoints; connections when log_connections is on)")
	}
}
