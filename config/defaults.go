package config

// defaults returns the built-in settings of a profile. An environment in
// cdk.json starts from these and overrides what it names.
func defaults(profile string) Config {
	c := Config{
		Profile: profile,
		Tags:    map[string]string{},
		Network: Network{
			VpcCidr: "10.10.0.0/16",
			MaxAzs:  2,
			// No NAT in dev: tasks reach AWS APIs through a public IP (ingress
			// stays ALB-only). A NAT gateway alone would cost ~$36/month idle.
			NatGateways:          0,
			SubnetCidrMask:       24,
			FlowLogRetentionDays: 14,
		},
		Database: Database{
			Engine:                 EngineRDSPostgres,
			InstanceClass:          "db.t4g.micro",
			EngineVersion:          "17.9",
			AllocatedStorageGiB:    20,
			MaxAllocatedStorageGiB: 50,
			DatabaseName:           "tsa",
			MultiAz:                false,
			BackupRetentionDays:    1,
			DeletionProtection:     false,
			// Off on the dev class: Database Insights does not cover every
			// micro/small class, and the dev database is not tuned.
			PerformanceInsights:       false,
			MonitoringIntervalSeconds: 0,
			LogRetentionDays:          14,
			Timescale: Timescale{
				InstanceType:     "t4g.small",
				VolumeSizeGiB:    20,
				PostgresMajor:    17,
				PostgresMinor:    9,
				TimescaleVersion: "2.30.0",
				// Dev restores from the pgBackRest archive only: no vault of
				// recovery points stands in the way of `cdk destroy`.
				BackupRetentionDays: 0,
				Pitr:                TimescalePitr{RetentionDays: 7, FullBackupWeekday: "Sun", BackupHourUtc: 2},
			},
			External: External{Port: 5432, CACertificate: ExternalCASystem},
		},
		Backend: Backend{
			Cpu:               256,
			MemoryMiB:         512,
			DesiredCount:      1,
			MinCount:          1,
			MaxCount:          2,
			Port:              8080,
			HealthCheckPath:   "/api/health",
			CpuArchitecture:   "ARM64",
			Spot:              true,
			AssignPublicIp:    true,
			TargetCpuPercent:  70,
			RequestsPerTarget: 1000,
			LogRetentionDays:  14,
			// Break-glass only: ECS Exec needs a writable root filesystem.
			EnableExec: false,
			Image:      Image{Directory: "apps/backend"},
		},
		Frontend: Frontend{
			SourceDir:  "apps/frontend",
			PriceClass: "PriceClass_100",
			// Off in dev: the web ACL and its four rules are $9/month.
			Waf: Waf{Enabled: false, APIRateLimit: 2000, RateWindowSeconds: 300},
		},
		Monitoring: Monitoring{
			Dashboard:            false,
			EvaluationPeriods:    3,
			Alb5xxPercent:        5,
			Target5xxPercent:     5,
			LatencyP99Seconds:    2,
			ServiceCpuPercent:    85,
			ServiceMemoryPercent: 85,
			DbCpuPercent:         85,
			DbFreeStorageGiB:     2,
			DbFreeableMemoryMiB:  64,
			DbConnections:        70,
			CloudFront5xxPercent: 5,
			ExecSessionLogDays:   30,
		},
	}
	if profile == ProfileProd {
		c.Network.VpcCidr = "10.20.0.0/16"
		c.Network.NatGateways = 2
		c.Backend.AssignPublicIp = false
		c.Backend.Spot = false
		c.Monitoring.Dashboard = true
		c.Monitoring.ContainerInsights = true
		c.Monitoring.OperationsKeyRotation = true
		c.Network.FlowLogRetentionDays = 90
		c.Database.InstanceClass = "db.m7g.large"
		c.Database.AllocatedStorageGiB = 100
		c.Database.MaxAllocatedStorageGiB = 500
		c.Database.MultiAz = true
		c.Database.BackupRetentionDays = 14
		c.Database.DeletionProtection = true
		c.Database.MonitoringIntervalSeconds = 15
		c.Database.PerformanceInsights = true
		c.Database.LogRetentionDays = 90
		c.Database.Timescale.InstanceType = "m7g.large"
		c.Database.Timescale.VolumeSizeGiB = 100
		c.Database.Timescale.BackupRetentionDays = 35
		c.Database.Timescale.Pitr.RetentionDays = 14
		c.Backend.Cpu = 1024
		c.Backend.MemoryMiB = 2048
		c.Backend.DesiredCount = 2
		c.Backend.MinCount = 2
		c.Backend.MaxCount = 10
		c.Backend.LogRetentionDays = 90
		c.Frontend.PriceClass = "PriceClass_All"
		c.Frontend.Waf.Enabled = true
		c.Monitoring.EvaluationPeriods = 2
		c.Monitoring.DbFreeStorageGiB = 10
		c.Monitoring.DbFreeableMemoryMiB = 256
		c.Monitoring.DbConnections = 400
		c.Monitoring.ExecSessionLogDays = 365
		c.Encryption.CustomerManagedKeys = true
	}
	return c
}
