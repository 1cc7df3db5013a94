package config

import (
	"fmt"
	"regexp"
	"strings"
)

// A stage (-c env=dev -c stage=NAME) is an isolated, disposable copy of an
// environment: its own four stacks tsa-NAME-*, tagged stage=NAME, from the
// environment's settings with the overrides of stageSafe. Only a
// non-production environment can be staged: a stage gives up deletion
// protection, the final snapshot and every retained resource, which the
// production rule never lets a prod-profile environment do (README,
// Configuration), so staging one is refused rather than weakened.

// StagesGitHubEnvironment is the GitHub environment whose jobs may deploy and
// destroy stages (the CI stack trusts it when an account has "stages").
const StagesGitHubEnvironment = "pr-stages"

// stagePattern: lower-case letters, digits and single hyphens, starting with
// a letter and not ending with a hyphen. The RDS instance identifier the name
// reaches allows no two hyphens in a row and no trailing hyphen
// (CreateDBInstance, DBInstanceIdentifier).
var stagePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// StageName is one physical name built from a stage's name, with the limit
// AWS sets on it. A stage name is as long as the tightest one allows;
// test/stage_test.go checks every name in a stage's templates.
type StageName struct {
	What   string
	Format string // %s is the stage's name
	Limit  int
}

// StageNames are the names a stage's name reaches whose limit can bind.
// Other names (alarm names of 255 characters, the SNS topic's 256, the KMS
// alias's 256, log group names of 512) leave more room than these.
var StageNames = []StageName{
	{"RDS DB instance identifier (CreateDBInstance: 1-63 letters, digits, hyphens)", Project + "-%s-postgres", 63},
	{"TimescaleDB private zone tsa-NAME.internal (a DNS label: at most 63 characters, RFC 1035)", Project + "-%s", 63},
	{"CloudFormation stack name (at most 128 characters)", Project + "-%s-frontend", 128},
}

// MaxStageLength is the longest stage name every name in StageNames holds.
var MaxStageLength = func() int {
	limit := 1 << 30
	for _, n := range StageNames {
		limit = min(limit, n.Limit-len(strings.Replace(n.Format, "%s", "", 1)))
	}
	return limit
}()

func tightestStageName() StageName {
	for _, n := range StageNames {
		if n.Limit-len(strings.Replace(n.Format, "%s", "", 1)) == MaxStageLength {
			return n
		}
	}
	return StageNames[0]
}

// IsStageName reports whether name is one -c stage accepts (it may still be
// refused for naming an environment).
func IsStageName(name string) bool {
	return stagePattern.MatchString(name) && len(name) <= MaxStageLength && !IsProductionName(name)
}

// applyStage turns cfg (environment cfg.Env) into its stage named by v.
func applyStage(v any, cfg *Config, envs map[string]any) error {
	name, _ := v.(string)
	env := cfg.Env
	tight := tightestStageName()
	switch {
	case name == "":
		return single(env, KeyStage, "must be a stage name, got %s; leave the key out to synthesize environment %q itself", describe(v), env)
	case !stagePattern.MatchString(name) || len(name) > MaxStageLength:
		return single(env, KeyStage, "%q is not a stage name; accepted: lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen, at most %d characters (the longest name it reaches, %s, holds %d: %s)", name, MaxStageLength, fmt.Sprintf(tight.Format, "<stage>"), tight.Limit, tight.What)
	case IsProductionName(name):
		return single(env, KeyStage, "%q starts with %q, which names production environments (they always use the prod profile); a stage is disposable: choose another name, e.g. pr-42", name, ProfileProd)
	case envs[name] != nil:
		return single(env, KeyStage, "%q is an environment of %s; its stacks %s-%s-* would be that environment's: choose a name that no environment has, e.g. pr-42", name, ProjectFile, Project, name)
	case cfg.Production():
		return single(env, KeyStage, "environment %q uses the prod profile; a stage is a disposable copy without deletion protection, final snapshot or retained data, which a prod-profile environment never gives up: stage a non-production environment (e.g. -c env=dev)", env)
	case cfg.Database.Engine == EngineExternal:
		return single(env, KeyStage, "environment %q uses an external database, which its stages would share (a stage's data must be its own and go with it): stage an environment whose database.engine is %s or %s", env, EngineRDSPostgres, EngineTimescaleDB)
	}
	cfg.Stage = name
	cfg.Name = name
	stageSafe(cfg)
	return nil
}

// stageSafe makes a stage disposable and as cheap as it can run: the dev
// profile's protections (none: removal DESTROY, no termination or deletion
// protection) whatever the environment says, the smallest sizes, no custom
// domain (its name and certificate belong to the environment's distribution),
// no paging e-mail, short log retention. Account, region, zones and the VPC
// block stay the environment's: a stage's VPC is never peered or routed to,
// the only use that needs blocks to differ, so it can repeat its
// environment's.
func stageSafe(c *Config) {
	short := func(days int) int { return min(days, 7) } // 1, 3, 5 and 7 are all retentions

	n := &c.Network
	n.NatGateways = 0
	if c.Database.Engine == EngineTimescaleDB {
		n.NatGateways = 1 // the host installs its packages through it
	}
	n.FlowLogRetentionDays = short(n.FlowLogRetentionDays)

	d := &c.Database
	d.InstanceClass = "db.t4g.micro"
	d.MultiAz = false
	d.AllocatedStorageGiB = 20
	d.MaxAllocatedStorageGiB = 0
	d.BackupRetentionDays = 1
	d.DeletionProtection = false
	d.PerformanceInsights = false
	d.MonitoringIntervalSeconds = 0
	d.LogRetentionDays = short(d.LogRetentionDays)
	t := &d.Timescale
	t.InstanceType = "t4g.small"
	t.VolumeSizeGiB = min(t.VolumeSizeGiB, 20)
	t.BackupRetentionDays = 0
	t.Pitr.RetentionDays = 1
	t.Restore = TimescaleRestore{} // a new stage has no archive to restore from

	b := &c.Backend
	b.Cpu, b.MemoryMiB = 256, 512
	b.DesiredCount, b.MinCount, b.MaxCount = 1, 1, 2
	b.Spot = true
	b.AssignPublicIp = n.NatGateways == 0
	b.LogRetentionDays = short(b.LogRetentionDays)

	f := &c.Frontend
	f.PriceClass = "PriceClass_100"
	f.DomainName, f.CertificateArn, f.HostedZoneID, f.HostedZoneName = "", "", "", ""
	// No web ACL: $9 a month idle and a us-east-1 edge stack for a copy
	// nobody outside the team uses.
	f.Waf.Enabled = false

	m := &c.Monitoring
	m.AlarmEmail = ""
	m.Dashboard = false
	m.ContainerInsights = false
	m.OperationsKeyRotation = false
	m.ExecSessionLogDays = short(m.ExecSessionLogDays)
	// Thresholds the micro class can reach (the environment's may be for a
	// larger class): the dev profile's.
	dev := defaults(ProfileDev).Monitoring
	m.DbFreeStorageGiB, m.DbFreeableMemoryMiB, m.DbConnections = dev.DbFreeStorageGiB, dev.DbFreeableMemoryMiB, dev.DbConnections
}
