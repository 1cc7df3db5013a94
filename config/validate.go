package config

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Grammars (not value sets): the shapes of identifiers AWS documents.
var (
	accountPattern      = regexp.MustCompile(`^\d{12}$`)
	semverPattern       = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	identPattern        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	imageTagPattern     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	healthPathPattern   = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$`)
	dnsLabelPattern     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	uuidPattern         = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	secretNamePattern   = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`)
	hostedZoneIDPattern = regexp.MustCompile(`^Z[A-Z0-9]{4,31}$`)
	sgIDPattern         = regexp.MustCompile(`^sg-[0-9a-f]{8}([0-9a-f]{9})?$`)
	amiPattern          = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
	// Tag characters AWS generally allows: letters, numbers, spaces and
	// _ . : / = + - @ ("Tag naming limits and requirements").
	tagTextPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

var engines = []string{EngineRDSPostgres, EngineTimescaleDB, EngineExternal}

// Log retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var monitoringIntervals = []int{0, 1, 5, 10, 15, 30, 60}

var priceClasses = []string{"PriceClass_100", "PriceClass_200", "PriceClass_All"}

var cpuArchitectures = []string{"ARM64", "X86_64"}

var fargateCPUs = []int{256, 512, 1024, 2048, 4096, 8192, 16384}

// appTags are set on every resource by the app (stacks.NewPlatform): project
// and environment always, stage on a stage's resources.
var appTags = []string{"project", "environment", "stage"}

// maxUserTags: AWS allows 50 user tags per resource; the app sets two on an
// environment (a stage's resources carry a third, so a stage allows one less).
const maxUserTags = 50 - 2

// fargateMemory lists the memory sizes (MiB) Fargate accepts for each CPU value.
func fargateMemory(cpu int) []int {
	span := func(from, to, step int) []int {
		var out []int
		for m := from; m <= to; m += step {
			out = append(out, m)
		}
		return out
	}
	switch cpu {
	case 256:
		return []int{512, 1024, 2048}
	case 512:
		return span(1024, 4096, 1024)
	case 1024:
		return span(2048, 8192, 1024)
	case 2048:
		return span(4096, 16384, 1024)
	case 4096:
		return span(8192, 30720, 1024)
	case 8192:
		return span(16384, 61440, 4096)
	case 16384:
		return span(32768, 122880, 8192)
	}
	return nil
}

// Validate checks a resolved configuration and reports every invalid setting.
func Validate(c *Config) error {
	var p problems
	pre := KeyEnvironments + "." + c.Environment() + "."
	validateEnvironment(&p, pre, c)
	validateNetwork(&p, pre+"network.", c)
	validateDatabase(&p, pre+"database.", c)
	validateBackend(&p, pre+"backend.", c)
	validateFrontend(&p, pre+"frontend.", c)
	validateMonitoring(&p, pre+"monitoring.", c)
	if c.Production() && !c.Encryption.CustomerManagedKeys {
		p.add(pre+"encryption.customerManagedKeys", "must be true in a prod-profile environment: production data is encrypted with keys whose policy this project controls")
	}
	return p.err(c.Environment())
}

func validateEnvironment(p *problems, pre string, c *Config) {
	if IsProductionName(c.Environment()) && !c.Production() {
		p.add(pre+"profile", "%q is a production environment (its name starts with prod) and always uses the prod profile", c.Environment())
	}
	if c.Account != "" && !accountPattern.MatchString(c.Account) {
		p.add(pre+"account", "%q is not an AWS account ID; accepted: 12 digits, or empty for an environment-agnostic synth", c.Account)
	}
	if c.Region != "" && !knownRegion(c.Region) {
		hint := ""
		if m := nearest(c.Region, awsRegions); m != "" {
			hint = fmt.Sprintf("did you mean %s? ", m)
		}
		p.add(pre+"region", "%q is not a region aws-cdk-lib 2.276 knows; %saccepted: %s, or empty", c.Region, hint, strings.Join(awsRegions, ", "))
	}
	if (c.Account == "") != (c.Region == "") {
		p.add(pre+"account", "account and region must be set together (both, or neither for an environment-agnostic synth)")
	}
	azs := c.AvailabilityZones
	switch {
	case c.Region != "" && len(azs) == 0:
		p.add(pre+"availabilityZones", "required when a region is pinned, so synthesis never looks zones up in AWS; accepted: 2 or 3 zones of %s, e.g. [\"%sa\", \"%sb\"]", c.Region, c.Region, c.Region)
	case c.Region == "" && len(azs) > 0:
		p.add(pre+"availabilityZones", "only allowed with a pinned account and region; an environment-agnostic synth uses network.maxAzs")
	case len(azs) > 0:
		if len(azs) < 2 || len(azs) > 3 {
			p.add(pre+"availabilityZones", "%d zones given; accepted: 2 or 3 (the load balancer and the database subnet group need two)", len(azs))
		}
		seen := map[string]bool{}
		for _, az := range azs {
			if seen[az] {
				p.add(pre+"availabilityZones", "zone %q is listed twice", az)
			}
			seen[az] = true
			if knownRegion(c.Region) {
				if msg := checkZone(az, c.Region); msg != "" {
					p.add(pre+"availabilityZones", "%s", msg)
				}
			}
		}
	}
	validateTags(p, pre+"tags", c.Tags, c.IsStage())
}

// validateTags applies AWS's tag limits ("Tag naming limits and
// requirements", Tagging AWS Resources: keys of 1-128 and values of up to
// 256 Unicode characters, 50 user tags, no aws: prefix) and keeps the app's
// own tags.
func validateTags(p *problems, pre string, tags map[string]string, stage bool) {
	limit, set := maxUserTags, "project and environment"
	if stage {
		limit, set = maxUserTags-1, "project, environment and, on a stage, stage"
	}
	if len(tags) > limit {
		p.add(pre, "%d tags; accepted: at most %d (AWS allows 50 per resource and the app sets %s)", len(tags), limit, set)
	}
	for _, k := range sortedKeys(tags) {
		v := tags[k]
		switch {
		case slices.ContainsFunc(appTags, func(t string) bool { return strings.EqualFold(t, k) }):
			p.add(pre+"."+k, "the app tags every resource with project=%s and environment=<env> (and a stage's with stage=<stage>); a user tag %q would override or shadow it, and cost reports and IAM conditions that read it would be wrong; choose another key", Project, k)
		case k == "" || utf8.RuneCountInString(k) > 128 || !tagTextPattern.MatchString(k):
			p.add(pre+"."+k, "not a valid tag key; accepted: 1-128 letters, digits, spaces and _ . : / = + - @")
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			p.add(pre+"."+k, "tag keys starting with aws: are reserved for AWS")
		}
		switch {
		case utf8.RuneCountInString(v) > 256:
			p.add(pre+"."+k, "tag value is %d characters long; accepted: at most 256", utf8.RuneCountInString(v))
		case !tagTextPattern.MatchString(v):
			p.add(pre+"."+k, "tag value %q has characters AWS does not accept in tags; accepted: letters, digits, spaces and _ . : / = + - @", v)
		case strings.HasPrefix(strings.ToLower(v), "aws:"):
			p.add(pre+"."+k, "tag values starting with aws: are reserved for AWS")
		}
	}
}

func validateNetwork(p *problems, pre string, c *Config) {
	n := c.Network
	if len(c.AvailabilityZones) == 0 {
		switch {
		case n.MaxAzs > 2 && n.MaxAzs <= 6:
			p.add(pre+"maxAzs", "%d zones cannot be had in an environment-agnostic synth: CDK gives a stack without a pinned account and region the first two zones of Fn::GetAZs (aws-cdk-lib Stack.availabilityZones); pin account, region and availabilityZones for more; accepted: 2", n.MaxAzs)
		case n.MaxAzs != 2:
			p.add(pre+"maxAzs", "%d is out of range; accepted: 2 (an environment-agnostic synth gets two zones)", n.MaxAzs)
		}
	}
	azs := c.AzCount()
	prefix, err := netip.ParsePrefix(n.VpcCidr)
	switch {
	case err != nil || !prefix.Addr().Is4():
		p.add(pre+"vpcCidr", "%q is not an IPv4 CIDR block; accepted: e.g. 10.10.0.0/16", n.VpcCidr)
	case prefix.Masked() != prefix:
		p.add(pre+"vpcCidr", "%q has host bits set; did you mean %s?", n.VpcCidr, prefix.Masked())
	case prefix.Bits() < 16 || prefix.Bits() > 24:
		p.add(pre+"vpcCidr", "/%d is out of range; accepted: a prefix length from /16 to /24 (what a VPC allows, with room for subnets)", prefix.Bits())
	case !privateRange(prefix):
		p.add(pre+"vpcCidr", "%s is not inside a private range; accepted: within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", n.VpcCidr)
	default:
		// ELB User Guide, "Subnets for your load balancer": each subnet of an
		// Application Load Balancer needs at least a /27 and 8 free addresses.
		if n.SubnetCidrMask < 16 || n.SubnetCidrMask > 27 {
			p.add(pre+"subnetCidrMask", "/%d is out of range; accepted: /16 to /27 (an Application Load Balancer's subnets need at least a /27 with 8 free addresses)", n.SubnetCidrMask)
			break
		}
		if azs < 2 || azs > 3 {
			break // reported with the zones
		}
		groups := 2
		if n.NatGateways > 0 {
			groups = 3
		}
		subnets := groups * azs
		need := subnets << (32 - n.SubnetCidrMask)
		if n.SubnetCidrMask <= prefix.Bits() || need > 1<<(32-prefix.Bits()) {
			p.add(pre+"subnetCidrMask", "%d subnets of /%d (%d subnet groups x %d zones) do not fit in %s; use a larger vpcCidr or a longer subnetCidrMask", subnets, n.SubnetCidrMask, groups, azs, n.VpcCidr)
		}
	}
	if n.NatGateways < 0 || n.NatGateways > azs {
		p.add(pre+"natGateways", "%d is out of range; accepted: 0 to %d (one per availability zone at most)", n.NatGateways, azs)
	} else if c.Production() && n.NatGateways < azs {
		// VpcProps.natGateways: with fewer gateways than zones, the private
		// subnets of a zone without one route through another zone's.
		p.add(pre+"natGateways", "a prod-profile environment needs one NAT gateway per zone (%d zones, %d gateways): the private subnets of a zone without its own gateway reach the internet through another zone's and are cut off when that zone fails", azs, n.NatGateways)
	}
	if !slices.Contains(logRetentionDays, n.FlowLogRetentionDays) {
		p.add(pre+"flowLogRetentionDays", "%d is not a CloudWatch Logs retention; accepted: %s", n.FlowLogRetentionDays, ints(logRetentionDays))
	}
}

func privateRange(p netip.Prefix) bool {
	for _, r := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} {
		parent := netip.MustParsePrefix(r)
		if parent.Contains(p.Addr()) && p.Bits() >= parent.Bits() {
			return true
		}
	}
	return false
}

func validateDatabase(p *problems, pre string, c *Config) {
	d := c.Database
	switch d.Engine {
	case EngineRDSPostgres:
		validateRDS(p, pre, c)
	case EngineTimescaleDB:
		if c.Network.NatGateways == 0 {
			p.add(pre+"engine", "timescaledb needs network.natGateways of at least 1: the instance installs its packages at boot from private subnets")
		}
		validateTimescale(p, pre+"timescale.", c)
	case EngineExternal:
		validateExternal(p, pre+"external.", c)
	default:
		p.add(pre+"engine", "unknown engine %q; accepted: %s", d.Engine, strings.Join(engines, ", "))
	}
	validateDatabaseName(p, pre+"databaseName", d.DatabaseName)
	if d.Engine != EngineExternal {
		if !slices.Contains(logRetentionDays, d.LogRetentionDays) {
			p.add(pre+"logRetentionDays", "%d is not a CloudWatch Logs retention; accepted: %s", d.LogRetentionDays, ints(logRetentionDays))
		}
	}
}

// validateDatabaseName: RDS's DBName for PostgreSQL is 1-63 letters, digits
// and underscores starting with a letter, and cannot be a word the engine
// reserves (CreateDBInstance, DBName).
func validateDatabaseName(p *problems, setting, name string) {
	switch {
	case !identPattern.MatchString(name):
		p.add(setting, "%q is not a database name; accepted: lower-case letters, digits and _, starting with a letter, at most 63 characters", name)
	case slices.Contains(postgresReservedWords, name):
		p.add(setting, "%q is a reserved key word of PostgreSQL (SQL Key Words appendix), which RDS refuses as a database name; choose another name", name)
	case slices.Contains(rdsReservedDatabaseNames, name):
		p.add(setting, "%q is reserved by PostgreSQL or RDS; choose another name", name)
	}
}

func validateRDS(p *problems, pre string, c *Config) {
	d := c.Database
	if _, ok := rdsClassMemoryGiB[d.InstanceClass]; !ok {
		hint := ""
		if m := nearest(d.InstanceClass, RDSInstanceClasses()); m != "" {
			hint = fmt.Sprintf("did you mean %s? ", m)
		}
		p.add(pre+"instanceClass", "%q is not an RDS for PostgreSQL instance class; %saccepted: db.<family>.<size> of %s (e.g. db.t4g.micro, db.m7g.large)", d.InstanceClass, hint, strings.Join(rdsClassFamilies(), ", "))
	} else if c.Production() && burstableClass(d.InstanceClass) {
		p.add(pre+"instanceClass", "%q is a burstable class; a prod-profile environment needs a fixed-performance class such as db.m7g.large", d.InstanceClass)
	}
	switch {
	case slices.Contains(postgresVersions, d.EngineVersion):
	case slices.Contains(rdsDeprecatedPostgres, d.EngineVersion):
		p.add(pre+"engineVersion", "PostgreSQL %s is deprecated on RDS, which no longer creates instances with it; accepted: %s", d.EngineVersion, strings.Join(postgresVersions, ", "))
	default:
		p.add(pre+"engineVersion", "%q is not a pinned PostgreSQL minor version aws-cdk-lib 2.276 and RDS offer; accepted: %s", d.EngineVersion, strings.Join(postgresVersions, ", "))
	}
	if d.AllocatedStorageGiB < 20 || d.AllocatedStorageGiB > 65536 {
		p.add(pre+"allocatedStorageGiB", "%d is out of range; accepted: 20 to 65536 GiB (gp3)", d.AllocatedStorageGiB)
	}
	if d.MaxAllocatedStorageGiB != 0 && d.MaxAllocatedStorageGiB < d.AllocatedStorageGiB+d.AllocatedStorageGiB/10 {
		p.add(pre+"maxAllocatedStorageGiB", "%d must be 0 (no storage autoscaling) or at least 10%% above allocatedStorageGiB (%d)", d.MaxAllocatedStorageGiB, d.AllocatedStorageGiB)
	}
	if d.MaxAllocatedStorageGiB > 65536 {
		p.add(pre+"maxAllocatedStorageGiB", "%d is out of range; accepted: at most 65536 GiB", d.MaxAllocatedStorageGiB)
	}
	if d.BackupRetentionDays < 1 || d.BackupRetentionDays > 35 {
		p.add(pre+"backupRetentionDays", "%d is out of range; accepted: 1 to 35 days", d.BackupRetentionDays)
	} else if c.Production() && d.BackupRetentionDays < 7 {
		p.add(pre+"backupRetentionDays", "%d is too short for a prod-profile environment; accepted: 7 to 35 days", d.BackupRetentionDays)
	}
	if !slices.Contains(monitoringIntervals, d.MonitoringIntervalSeconds) {
		p.add(pre+"monitoringIntervalSeconds", "%d is not an enhanced monitoring interval; accepted: %s (0 turns it off)", d.MonitoringIntervalSeconds, ints(monitoringIntervals))
	}
	if c.Production() && !d.DeletionProtection {
		p.add(pre+"deletionProtection", "must be true in a prod-profile environment")
	}
	if c.Production() && !d.MultiAz {
		p.add(pre+"multiAz", "must be true in a prod-profile environment")
	}
}

func validateTimescale(p *problems, pre string, c *Config) {
	t := c.Database.Timescale
	if !slices.Contains(gravitonTypes, t.InstanceType) {
		p.add(pre+"instanceType", "%q is not a Graviton (arm64) EC2 instance type; accepted: e.g. t4g.small, m7g.large, r7g.large (families %s)", t.InstanceType, gravitonFamilies())
	}
	if t.VolumeSizeGiB < 10 || t.VolumeSizeGiB > 16384 {
		p.add(pre+"volumeSizeGiB", "%d is out of range; accepted: 10 to 16384 GiB", t.VolumeSizeGiB)
	}
	if t.PostgresMajor < 15 || t.PostgresMajor > 17 {
		p.add(pre+"postgresMajor", "%d is not supported; accepted: 15, 16 or 17", t.PostgresMajor)
	}
	if t.PostgresMinor < 0 || t.PostgresMinor > 99 {
		p.add(pre+"postgresMinor", "%d is not a PostgreSQL minor release; accepted: 0 to 99 (e.g. 9 for %d.9)", t.PostgresMinor, t.PostgresMajor)
	}
	if !semverPattern.MatchString(t.TimescaleVersion) || !strings.HasPrefix(t.TimescaleVersion, "2.") {
		p.add(pre+"timescaleVersion", "%q is not a pinned TimescaleDB 2.x version; accepted: e.g. 2.30.0", t.TimescaleVersion)
	}
	switch {
	case t.BackupRetentionDays < 0 || t.BackupRetentionDays > 35:
		p.add(pre+"backupRetentionDays", "%d is out of range; accepted: 0 (no volume snapshots) to 35 days", t.BackupRetentionDays)
	case c.Production() && t.BackupRetentionDays < 7:
		p.add(pre+"backupRetentionDays", "%d is too short for a prod-profile environment; accepted: 7 to 35 days", t.BackupRetentionDays)
	}
	switch {
	case t.AmiID != "" && !amiPattern.MatchString(t.AmiID):
		p.add(pre+"amiId", "%q is not an AMI ID; accepted: ami- followed by 8 or 17 hex digits", t.AmiID)
	case t.AmiID != "" && c.Region == "":
		p.add(pre+"amiId", "an AMI ID belongs to one region: set account, region and availabilityZones too")
	case t.AmiID == "" && c.Production():
		p.add(pre+"amiId", "required in a prod-profile environment: without it every deploy reads Canonical's current image and a new image replaces the database host; accepted: the Ubuntu 24.04 arm64 AMI (ami-...) of %s to run", orAny(c.Region))
	}
	if c.Production() && strings.HasPrefix(t.InstanceType, "t") {
		p.add(pre+"instanceType", "%q is a burstable type; a prod-profile environment needs a fixed-performance type such as m7g.large", t.InstanceType)
	}
	// The data volume lives in one zone. A zone derived at deploy time
	// (Fn::GetAZs) can change, and a changed zone replaces the volume, so
	// the zone is a literal from the pinned availabilityZones.
	switch {
	case len(c.AvailabilityZones) == 0:
		p.add(pre+"availabilityZone", "engine timescaledb keeps its data on a volume in one zone that must never move: pin account, region and availabilityZones, and name one of them here")
	case t.AvailabilityZone == "":
		p.add(pre+"availabilityZone", "required for engine timescaledb: the zone of the data volume and the host; accepted: %s (never change it once deployed)", strings.Join(c.AvailabilityZones, ", "))
	case !slices.Contains(c.AvailabilityZones, t.AvailabilityZone):
		p.add(pre+"availabilityZone", "%q is not one of availabilityZones; accepted: %s", t.AvailabilityZone, strings.Join(c.AvailabilityZones, ", "))
	}
	if t.EbsKmsKeyArn != "" {
		m := kmsKeyArnPattern.FindStringSubmatch(t.EbsKmsKeyArn)
		switch {
		case m == nil:
			p.add(pre+"ebsKmsKeyArn", "%q is not a KMS key ARN; accepted: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (the account's default EBS key: aws ec2 get-ebs-default-kms-key-id)", t.EbsKmsKeyArn)
		case m[1] != c.Region:
			p.add(pre+"ebsKmsKeyArn", "the key is in region %s; EBS volumes in %s can only use a key of their own region; accepted: a key ARN of region %s", m[1], orAny(c.Region), orAny(c.Region))
		}
	}
	pitr := t.Pitr
	pitrPre := pre + "pitr."
	switch {
	case pitr.RetentionDays < 1 || pitr.RetentionDays > 365:
		p.add(pitrPre+"retentionDays", "%d is out of range; accepted: 1 to 365 days", pitr.RetentionDays)
	case c.Production() && pitr.RetentionDays < 7:
		p.add(pitrPre+"retentionDays", "%d is too short for a prod-profile environment; accepted: 7 to 365 days", pitr.RetentionDays)
	}
	if !slices.Contains(weekdays, pitr.FullBackupWeekday) {
		p.add(pitrPre+"fullBackupWeekday", "%q is not a weekday; accepted: %s", pitr.FullBackupWeekday, strings.Join(weekdays, ", "))
	}
	if pitr.BackupHourUtc < 0 || pitr.BackupHourUtc > 23 {
		p.add(pitrPre+"backupHourUtc", "%d is not an hour; accepted: 0 to 23", pitr.BackupHourUtc)
	}
	if target := t.Restore.TargetTime; target != "" {
		at, err := time.Parse(time.RFC3339, target)
		switch {
		case err != nil:
			p.add(pre+"restore.targetTime", "%q is not an RFC 3339 time; accepted: e.g. 2026-11-28T09:30:00Z", target)
		case at.After(time.Now()):
			p.add(pre+"restore.targetTime", "%s is in the future; accepted: a past time inside the pitr.retentionDays window", target)
		}
	}
}

// weekdays are the day names systemd calendar events accept.
var weekdays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

var kmsKeyArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)

func orAny(s string) string {
	if s == "" {
		return "(not pinned)"
	}
	return s
}

func gravitonFamilies() string {
	var fams []string
	for _, t := range gravitonTypes {
		if f, _, _ := strings.Cut(t, "."); !slices.Contains(fams, f) {
			fams = append(fams, f)
		}
	}
	return strings.Join(fams, ", ")
}

func validateExternal(p *problems, pre string, c *Config) {
	e := c.Database.External
	if e.SecretArn == "" {
		p.add(pre+"secretArn", "required for engine external: the ARN of a Secrets Manager secret with host, port, dbname, username and password of an administrator (a role that may create roles and owns the database)")
	} else if msg := checkSecretArn(e.SecretArn); msg != "" {
		p.add(pre+"secretArn", "%s", msg)
	}
	switch {
	case e.SecurityGroupID == "" && e.Cidr == "":
		p.add(pre+"securityGroupId", "engine external needs securityGroupId or cidr: what the service is allowed to connect to")
	case e.SecurityGroupID != "" && e.Cidr != "":
		p.add(pre+"securityGroupId", "give securityGroupId or cidr, not both")
	case e.SecurityGroupID != "" && !sgIDPattern.MatchString(e.SecurityGroupID):
		p.add(pre+"securityGroupId", "%q is not a security group ID; accepted: sg- followed by 8 or 17 hex digits", e.SecurityGroupID)
	case e.Cidr != "":
		if pr, err := netip.ParsePrefix(e.Cidr); err != nil || !pr.Addr().Is4() || pr.Masked() != pr {
			p.add(pre+"cidr", "%q is not an IPv4 CIDR block; accepted: e.g. 10.50.0.0/24", e.Cidr)
		} else if pr.Bits() == 0 {
			p.add(pre+"cidr", "0.0.0.0/0 would let the service connect anywhere; name the database's network")
		}
	}
	if e.Port < 1 || e.Port > 65535 {
		p.add(pre+"port", "%d is out of range; accepted: 1 to 65535", e.Port)
	}
	switch {
	case e.Host == "":
		p.add(pre+"host", "required for engine external: the database's DNS name, as its certificate names it (the API connects to it without reading the admin secret)")
	case net.ParseIP(e.Host) == nil:
		if msg := checkDNSName(e.Host); msg != "" {
			p.add(pre+"host", "%s", msg)
		}
	}
	if msg := checkCACertificate(e.CACertificate); msg != "" {
		p.add(pre+"caCertificate", "%s", msg)
	}
}

// maxCAPEM bounds the PEM written into the task definition as a plain
// environment variable.
const maxCAPEM = 8192

// checkCACertificate explains why v cannot verify an external database, or
// returns "": "system", "rds", or PEM CA certificates only.
func checkCACertificate(v string) string {
	const accepted = `accepted: "system" (public CAs), "rds" (the Amazon RDS bundle) or a PEM CA certificate ("-----BEGIN CERTIFICATE-----\n...")`
	switch v {
	case ExternalCASystem, ExternalCARDS:
		return ""
	case "":
		return "must not be empty; " + accepted
	}
	if len(v) > maxCAPEM {
		return fmt.Sprintf("the PEM is %d bytes; accepted: at most %d", len(v), maxCAPEM)
	}
	rest, n := []byte(v), 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Sprintf("holds a PEM %s block; only CERTIFICATE blocks are accepted (never a key)", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Sprintf("certificate %d does not parse: %v", n+1, err)
		}
		if !cert.IsCA {
			return fmt.Sprintf("certificate %d (%s) is not a CA certificate; give the CA that signed the server's certificate", n+1, cert.Subject)
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return "is neither system, rds nor PEM certificates; " + accepted
	}
	return ""
}

// checkSecretArn explains why arn is not a complete Secrets Manager secret
// ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX), or
// returns "". CDK's Secret.fromSecretCompleteArn needs the six-character
// suffix Secrets Manager appends to the name.
func checkSecretArn(arn string) string {
	const accepted = "accepted: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf (the complete ARN: `aws secretsmanager describe-secret --secret-id NAME --query ARN`)"
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "secretsmanager" || parts[5] != "secret" {
		return fmt.Sprintf("%q is not a Secrets Manager secret ARN; %s", arn, accepted)
	}
	partition, region, account, name := parts[1], parts[3], parts[4], parts[6]
	switch {
	case !knownRegion(region):
		return fmt.Sprintf("%q names region %q, which aws-cdk-lib 2.276 does not know; %s", arn, region, accepted)
	case partition != Partition(region):
		return fmt.Sprintf("%q: region %s is in partition %s, not %s", arn, region, Partition(region), partition)
	case !accountPattern.MatchString(account):
		return fmt.Sprintf("%q: %q is not an account ID (12 digits)", arn, account)
	case len(name) > 512 || !secretNamePattern.MatchString(name):
		return fmt.Sprintf("%q does not end in the six-character suffix Secrets Manager adds to a secret's name (NAME-AbCdEf), which CDK's Secret.fromSecretCompleteArn requires; %s", arn, accepted)
	}
	return ""
}

func validateBackend(p *problems, pre string, c *Config) {
	b := c.Backend
	if mem := fargateMemory(b.Cpu); mem == nil {
		p.add(pre+"cpu", "%d is not a Fargate CPU value; accepted: %s", b.Cpu, ints(fargateCPUs))
	} else if !slices.Contains(mem, b.MemoryMiB) {
		p.add(pre+"memoryMiB", "Fargate does not run %d MiB with cpu %d; accepted: %s", b.MemoryMiB, b.Cpu, ints(mem))
	}
	if b.MinCount < 1 {
		p.add(pre+"minCount", "%d is out of range; accepted: at least 1", b.MinCount)
	}
	if b.MaxCount > 100 {
		p.add(pre+"maxCount", "%d is out of range; accepted: at most 100", b.MaxCount)
	}
	if b.MinCount > b.MaxCount {
		p.add(pre+"minCount", "%d is greater than maxCount %d", b.MinCount, b.MaxCount)
	}
	if b.DesiredCount < b.MinCount || b.DesiredCount > b.MaxCount {
		p.add(pre+"desiredCount", "%d is outside minCount..maxCount (%d..%d)", b.DesiredCount, b.MinCount, b.MaxCount)
	}
	if c.Production() && b.MinCount < 2 {
		p.add(pre+"minCount", "a prod-profile environment needs at least 2 tasks so one zone or one deployment never takes the API down")
	}
	if b.Port < 1024 || b.Port > 65535 {
		p.add(pre+"port", "%d is out of range; accepted: 1024 to 65535 (the container runs as a non-root user)", b.Port)
	}
	if len(b.HealthCheckPath) > 1024 || !healthPathPattern.MatchString(b.HealthCheckPath) {
		p.add(pre+"healthCheckPath", "%q is not a URL path; accepted: a path starting with /, without spaces, at most 1024 characters, e.g. /api/health", b.HealthCheckPath)
	}
	if !slices.Contains(cpuArchitectures, b.CpuArchitecture) {
		p.add(pre+"cpuArchitecture", "%q is unknown; accepted: %s", b.CpuArchitecture, strings.Join(cpuArchitectures, ", "))
	}
	if c.Production() && b.Spot {
		p.add(pre+"spot", "a prod-profile environment runs on-demand tasks; Spot tasks can be stopped at two minutes' notice")
	}
	if c.Network.NatGateways == 0 && !b.AssignPublicIp {
		p.add(pre+"assignPublicIp", "must be true when network.natGateways is 0: without a NAT gateway, tasks reach ECR, CloudWatch Logs and Secrets Manager only through a public IP")
	}
	if c.Network.NatGateways > 0 && b.AssignPublicIp {
		p.add(pre+"assignPublicIp", "must be false when the VPC has NAT gateways: tasks stay in private subnets")
	}
	if b.TargetCpuPercent < 10 || b.TargetCpuPercent > 90 {
		p.add(pre+"targetCpuPercent", "%d is out of range; accepted: 10 to 90", b.TargetCpuPercent)
	}
	if b.RequestsPerTarget < 1 || b.RequestsPerTarget > 100000 {
		p.add(pre+"requestsPerTarget", "%d is out of range; accepted: 1 to 100000 requests per target per minute", b.RequestsPerTarget)
	}
	if !slices.Contains(logRetentionDays, b.LogRetentionDays) {
		p.add(pre+"logRetentionDays", "%d is not a CloudWatch Logs retention; accepted: %s", b.LogRetentionDays, ints(logRetentionDays))
	}
	img := b.Image
	switch {
	case img.Directory != "" && img.Tag != "":
		p.add(pre+"image", "give image.directory (build locally) or image.tag (pull from ECR), not both")
	case img.Directory == "" && img.Tag == "":
		p.add(pre+"image", "give image.directory (a Docker build context) or image.tag (a tag in the ECR repository), or -c %s=TAG", KeyImageTag)
	case img.Tag != "":
		if !imageTagPattern.MatchString(img.Tag) || img.Tag == "latest" {
			p.add(pre+"image.tag", "%q is not an image tag this project deploys; accepted: 1-128 letters, digits, _ . -, not starting with . or -, and not \"latest\" (tags are immutable)", img.Tag)
		}
	default:
		if !isFile(c.Path(filepath.Join(img.Directory, "Dockerfile"))) {
			p.add(pre+"image.directory", "%q has no Dockerfile (resolved to %s)", img.Directory, c.Path(img.Directory))
		}
	}
}

func validateFrontend(p *problems, pre string, c *Config) {
	f := c.Frontend
	if f.SourceDir == "" || !isFile(c.Path(filepath.Join(f.SourceDir, "index.html"))) {
		p.add(pre+"sourceDir", "%q has no index.html (resolved to %s); accepted: a directory of built static files, or -c %s=DIR", f.SourceDir, c.Path(f.SourceDir), KeyFrontendDir)
	}
	if !slices.Contains(priceClasses, f.PriceClass) {
		p.add(pre+"priceClass", "%q is unknown; accepted: %s", f.PriceClass, strings.Join(priceClasses, ", "))
	}
	switch {
	case f.DomainName == "" && f.CertificateArn != "":
		p.add(pre+"certificateArn", "set without frontend.domainName; a certificate is only used with a custom domain")
	case f.DomainName != "" && f.CertificateArn == "":
		p.add(pre+"certificateArn", "required with frontend.domainName %q: the ARN of an ACM certificate in us-east-1 that covers it", f.DomainName)
	case f.DomainName != "":
		if msg := checkDNSName(f.DomainName); msg != "" {
			p.add(pre+"domainName", "%s", msg)
		}
		if msg := checkCertificateArn(f.CertificateArn, c.Account); msg != "" {
			p.add(pre+"certificateArn", "%s", msg)
		}
	}
	validateViewerTLS(p, pre, c)
	validateWaf(p, pre+"waf.", c)
	switch {
	case (f.HostedZoneID == "") != (f.HostedZoneName == ""):
		p.add(pre+"hostedZoneId", "hostedZoneId and hostedZoneName must be set together")
	case f.HostedZoneID != "":
		if f.DomainName == "" {
			p.add(pre+"hostedZoneId", "a hosted zone is only used with frontend.domainName")
		}
		if !hostedZoneIDPattern.MatchString(f.HostedZoneID) {
			p.add(pre+"hostedZoneId", "%q is not a Route 53 hosted zone ID; accepted: Z followed by upper-case letters and digits", f.HostedZoneID)
		}
		zone := strings.ToLower(strings.TrimSuffix(f.HostedZoneName, "."))
		domain := strings.ToLower(f.DomainName)
		if msg := checkDNSName(zone); msg != "" {
			p.add(pre+"hostedZoneName", "%s", msg)
		} else if domain != "" && domain != zone && !strings.HasSuffix(domain, "."+zone) {
			p.add(pre+"domainName", "%q is not inside hosted zone %q", f.DomainName, zone)
		}
	}
}

// minDefaultCertificateReason is the shortest reason accepted for serving
// production on the default certificate: a sentence, not "yes".
const minDefaultCertificateReason = 20

// validateViewerTLS holds production to a custom domain: on CloudFront's
// default *.cloudfront.net certificate CloudFront sets the security policy
// to TLSv1 whatever the template says (CloudFront API, ViewerCertificate.
// MinimumProtocolVersion), so viewers could connect with TLS 1.0. A
// prod-profile environment without a domain must say why in
// allowDefaultCertificate, and synth prints it.
func validateViewerTLS(p *problems, pre string, c *Config) {
	f := c.Frontend
	reason := strings.TrimSpace(f.AllowDefaultCertificate)
	switch {
	case f.AllowDefaultCertificate == "" && f.DomainName == "" && c.Production():
		p.add(pre+"domainName", "required in a prod-profile environment: with a custom domain (and certificateArn) the distribution only accepts TLS 1.2 and later (security policy TLSv1.2_2025); on the default *.cloudfront.net certificate CloudFront allows TLS 1.0. To serve production on the default certificate anyway, set frontend.allowDefaultCertificate to the reason (a sentence; synth prints it as a warning)")
	case f.AllowDefaultCertificate == "":
	case f.DomainName != "":
		p.add(pre+"allowDefaultCertificate", "has no effect with frontend.domainName %q: the distribution uses its certificate; remove it", f.DomainName)
	case !c.Production():
		p.add(pre+"allowDefaultCertificate", "only a prod-profile environment needs a reason to use the default certificate; this environment uses it without one: remove it")
	case utf8.RuneCountInString(reason) < minDefaultCertificateReason || utf8.RuneCountInString(reason) > 500:
		p.add(pre+"allowDefaultCertificate", "%q is not a reason; accepted: a sentence of %d to 500 characters saying why production serves on the default certificate (with its TLS 1.0 floor) and until when", f.AllowDefaultCertificate, minDefaultCertificateReason)
	}
}

// rateWindows are the evaluation windows of a rate-based rule, in seconds
// (AWS WAF Developer Guide, "Rate-based rule high-level settings").
var rateWindows = []int{60, 120, 300, 600}

// WAF's rate limit bounds: the lowest limit AWS WAF allows is 10 requests
// per window (same page); the highest is CloudFormation's (RateBasedStatement
// Limit).
const (
	minRateLimit = 10
	maxRateLimit = 2_000_000_000
)

func validateWaf(p *problems, pre string, c *Config) {
	w := c.Frontend.Waf
	if c.Production() && !w.Enabled {
		p.add(pre+"enabled", "must be true in a prod-profile environment")
	}
	if w.APIRateLimit < minRateLimit || w.APIRateLimit > maxRateLimit {
		p.add(pre+"apiRateLimit", "%d is out of range; accepted: %d to %d requests per client IP in rateWindowSeconds", w.APIRateLimit, minRateLimit, maxRateLimit)
	}
	if !slices.Contains(rateWindows, w.RateWindowSeconds) {
		p.add(pre+"rateWindowSeconds", "%d is not an AWS WAF evaluation window; accepted: %s", w.RateWindowSeconds, ints(rateWindows))
	}
}

// checkDNSName explains why name is not a DNS host name, or returns "": at
// most 253 characters, labels of 1-63 letters, digits and hyphens not at
// either end (RFC 1035 section 2.3.4, RFC 1123 section 2.1), at least two
// labels. Names are compared lower-cased (RFC 4343).
func checkDNSName(name string) string {
	name = strings.ToLower(name)
	if len(name) > 253 {
		return fmt.Sprintf("%q is %d characters long; DNS allows at most 253", name, len(name))
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Sprintf("%q is not a DNS name; accepted: e.g. app.example.com", name)
	}
	for _, l := range labels {
		if len(l) > 63 {
			return fmt.Sprintf("label %q of %q is %d characters long; DNS allows at most 63", l, name, len(l))
		}
		if !dnsLabelPattern.MatchString(l) {
			return fmt.Sprintf("%q is not a DNS name: label %q must be 1-63 letters, digits and hyphens, not starting or ending with a hyphen; accepted: e.g. app.example.com", name, l)
		}
	}
	return ""
}

// checkCertificateArn explains why arn cannot serve the distribution, or
// returns "". CloudFront only uses ACM certificates in us-east-1 (CloudFront
// API, ViewerCertificate.ACMCertificateArn), and ACM certificates are used
// only in their own account.
func checkCertificateArn(arn, account string) string {
	parts := strings.SplitN(arn, ":", 6)
	resource := ""
	if len(parts) == 6 {
		resource, _ = strings.CutPrefix(parts[5], "certificate/")
	}
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "acm" ||
		!accountPattern.MatchString(parts[4]) || !uuidPattern.MatchString(resource) {
		return fmt.Sprintf("%q is not an ACM certificate ARN; accepted: arn:aws:acm:us-east-1:ACCOUNT:certificate/ID", arn)
	}
	if parts[3] != "us-east-1" {
		return fmt.Sprintf("certificate is in %s; CloudFront only uses ACM certificates from us-east-1", parts[3])
	}
	if account != "" && parts[4] != account {
		return fmt.Sprintf("certificate belongs to account %s, but the environment deploys to account %s: an ACM certificate can only be used by resources of its own account; request or import it in %s", parts[4], account, account)
	}
	return ""
}

func validateMonitoring(p *problems, pre string, c *Config) {
	m := c.Monitoring
	if m.AlarmEmail != "" {
		if a, err := mail.ParseAddress(m.AlarmEmail); err != nil || a.Address != m.AlarmEmail {
			p.add(pre+"alarmEmail", "%q is not an e-mail address; accepted: e.g. oncall@example.com, or empty for no subscription", m.AlarmEmail)
		}
	}
	if m.EvaluationPeriods < 1 || m.EvaluationPeriods > 10 {
		p.add(pre+"evaluationPeriods", "%d is out of range; accepted: 1 to 10 one-minute periods", m.EvaluationPeriods)
	}
	percents := map[string]float64{
		"alb5xxPercent": m.Alb5xxPercent, "target5xxPercent": m.Target5xxPercent,
		"serviceCpuPercent": m.ServiceCpuPercent, "serviceMemoryPercent": m.ServiceMemoryPercent,
		"dbCpuPercent": m.DbCpuPercent, "cloudFront5xxPercent": m.CloudFront5xxPercent,
	}
	for _, k := range sortedKeys(percents) {
		if v := percents[k]; !(v > 0 && v <= 100) {
			p.add(pre+k, "%v is out of range; accepted: more than 0 and at most 100 (percent)", v)
		}
	}
	if !(m.LatencyP99Seconds > 0 && m.LatencyP99Seconds <= 60) {
		p.add(pre+"latencyP99Seconds", "%v is out of range; accepted: more than 0 and at most 60 (the load balancer's idle timeout)", m.LatencyP99Seconds)
	}
	if c.Database.Engine == EngineRDSPostgres {
		validateDatabaseAlarms(p, pre, c)
	}
	if c.Production() && !m.OperationsKeyRotation {
		p.add(pre+"operationsKeyRotation", "must be true in a prod-profile environment")
	}
	if !slices.Contains(logRetentionDays, m.ExecSessionLogDays) {
		p.add(pre+"execSessionLogDays", "%d is not a CloudWatch Logs retention; accepted: %s", m.ExecSessionLogDays, ints(logRetentionDays))
	}
}

// validateDatabaseAlarms refuses thresholds of the RDS alarms that could
// never be met, judged against the instance class and its storage.
func validateDatabaseAlarms(p *problems, pre string, c *Config) {
	m, d := c.Monitoring, c.Database
	if !(m.DbFreeStorageGiB > 0) {
		p.add(pre+"dbFreeStorageGiB", "%v is out of range; accepted: a number greater than 0", m.DbFreeStorageGiB)
	} else if m.DbFreeStorageGiB >= float64(d.AllocatedStorageGiB) {
		p.add(pre+"dbFreeStorageGiB", "%v GiB would alarm at once: it is not below database.allocatedStorageGiB (%d)", m.DbFreeStorageGiB, d.AllocatedStorageGiB)
	}
	gib, known := rdsClassMemoryGiB[d.InstanceClass]
	if !(m.DbFreeableMemoryMiB > 0) {
		p.add(pre+"dbFreeableMemoryMiB", "%v is out of range; accepted: a number greater than 0", m.DbFreeableMemoryMiB)
	} else if mib := gib * 1024; known && m.DbFreeableMemoryMiB >= mib {
		p.add(pre+"dbFreeableMemoryMiB", "%v MiB can never be healthy: %s has %v MiB of memory, so its freeable memory is always below the threshold and the alarm never leaves ALARM; accepted: less than %v", m.DbFreeableMemoryMiB, d.InstanceClass, mib, mib)
	}
	if !(m.DbConnections > 0) {
		p.add(pre+"dbConnections", "%v is out of range; accepted: a number greater than 0", m.DbConnections)
	} else if limit := rdsMaxConnections(d.InstanceClass); known && m.DbConnections > float64(limit) {
		p.add(pre+"dbConnections", "%v can never be reached: RDS for PostgreSQL gives %s at most %d connections (max_connections = LEAST(DBInstanceClassMemory/9531392, 5000)), so the alarm would never fire; accepted: at most %d", m.DbConnections, d.InstanceClass, limit, limit)
	}
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
