// Package config turns the CDK context (cdk.json plus `-c KEY=VALUE`) into one
// typed, validated Config per environment. It does not import aws-cdk-go, so its
// tests and fuzz target run without a jsii runtime.
package config

import (
	"fmt"
	"sort"
	"strings"
)

// Project prefixes every stack name: tsa-<env>-<part>.
const Project = "tsa"

// Context keys of this app. Every other key in the context must be one of
// CDK's own (contextkeys.go); anything else is refused.
const (
	KeyEnv          = "env"
	KeyEnvironments = "environments"
	KeyImageTag     = "imageTag"
	KeyFrontendDir  = "frontendDir"
	KeyStage        = "stage"
	KeyCI           = "ci"
	KeyGitHub       = "github"
)

// appKeys is the one list of context keys this app reads, with what each
// accepts (shown when a key is refused). A new key (-c stage=NAME, say) is
// added here and read in applyOverrides.
var appKeys = map[string]string{
	KeyEnv:          "the environment to synthesize, a key of environments (default dev)",
	KeyEnvironments: "read from cdk.json only; cannot be overridden",
	KeyImageTag:     "deploy this tag from the ECR repository instead of building apps/backend",
	KeyFrontendDir:  "a directory of built static files to deploy instead of frontend.sourceDir",
	KeyStage:        "synthesize a stage: an isolated, disposable copy of the environment named tsa-STAGE-* (lower-case letters, digits and single hyphens, starting with a letter)",
	KeyCI:           "synthesize the keyless CI stack tsa-ci for one account of github.accounts instead of an environment",
	KeyGitHub:       "read from cdk.json only; the GitHub repository and accounts the CI stack trusts",
}

// ProjectFile is the file environments are defined in, relative to the root.
const ProjectFile = "cdk.json"

// Profiles name the built-in defaults an environment starts from.
const (
	ProfileDev  = "dev"
	ProfileProd = "prod"
)

// Database engines (see the data stack).
const (
	EngineRDSPostgres = "rds-postgres"
	EngineTimescaleDB = "timescaledb"
	EngineExternal    = "external"
)

// Config is one environment, fully resolved and validated.
type Config struct {
	// Name is what the deployment is called: every stack (tsa-NAME-*) and
	// physical name derives from it. It is the stage's name when -c stage is
	// set, the environment's otherwise.
	Name string `json:"-"`
	// Env is the environment of cdk.json the settings come from (-c env=NAME).
	Env string `json:"-"`
	// Stage is the stage's name, or "" for the environment itself.
	Stage string `json:"-"`
	// Root is the project directory that relative paths are resolved against.
	Root string `json:"-"`

	Profile           string            `json:"profile"`
	Account           string            `json:"account"`
	Region            string            `json:"region"`
	AvailabilityZones []string          `json:"availabilityZones"`
	Tags              map[string]string `json:"tags"`

	Network    Network    `json:"network"`
	Database   Database   `json:"database"`
	Backend    Backend    `json:"backend"`
	Frontend   Frontend   `json:"frontend"`
	Monitoring Monitoring `json:"monitoring"`
	Encryption Encryption `json:"encryption"`
}

// Encryption chooses the KMS keys of data at rest.
type Encryption struct {
	// CustomerManagedKeys encrypts the database (RDS storage and Performance
	// Insights), its secrets and the API key with the data stack's
	// customer-managed KMS key, and the ECS Exec audit with a key of its own
	// ($1/month each, plus $1/month for each of the first two yearly
	// rotations). Off: AWS-managed keys (aws/rds, aws/secretsmanager) and
	// CloudWatch Logs' own encryption of the exec log group.
	CustomerManagedKeys bool `json:"customerManagedKeys"`
}

// Network describes the VPC.
type Network struct {
	VpcCidr string `json:"vpcCidr"`
	// MaxAzs is used when no availabilityZones are pinned (environment-agnostic synth).
	MaxAzs               int `json:"maxAzs"`
	NatGateways          int `json:"natGateways"`
	SubnetCidrMask       int `json:"subnetCidrMask"`
	FlowLogRetentionDays int `json:"flowLogRetentionDays"`
}

// Database describes the data tier. A field tagged engine:"..." is read by
// those engines only; naming it for another engine is refused.
type Database struct {
	Engine                    string    `json:"engine"`
	InstanceClass             string    `json:"instanceClass" engine:"rds-postgres"`
	EngineVersion             string    `json:"engineVersion" engine:"rds-postgres"`
	AllocatedStorageGiB       int       `json:"allocatedStorageGiB" engine:"rds-postgres"`
	MaxAllocatedStorageGiB    int       `json:"maxAllocatedStorageGiB" engine:"rds-postgres"`
	DatabaseName              string    `json:"databaseName"`
	MultiAz                   bool      `json:"multiAz" engine:"rds-postgres"`
	BackupRetentionDays       int       `json:"backupRetentionDays" engine:"rds-postgres"`
	DeletionProtection        bool      `json:"deletionProtection" engine:"rds-postgres"`
	PerformanceInsights       bool      `json:"performanceInsights" engine:"rds-postgres"`
	MonitoringIntervalSeconds int       `json:"monitoringIntervalSeconds" engine:"rds-postgres"`
	LogRetentionDays          int       `json:"logRetentionDays" engine:"rds-postgres,timescaledb"`
	Timescale                 Timescale `json:"timescale" engine:"timescaledb"`
	External                  External  `json:"external" engine:"external"`
}

// Timescale configures the self-managed TimescaleDB tier (engine "timescaledb").
type Timescale struct {
	InstanceType  string `json:"instanceType"`
	VolumeSizeGiB int    `json:"volumeSizeGiB"`
	PostgresMajor int    `json:"postgresMajor"`
	// PostgresMinor pins the PostgreSQL minor release the host installs
	// (PostgresMajor.PostgresMinor); moving it is a deliberate change that
	// replaces the host.
	PostgresMinor    int    `json:"postgresMinor"`
	TimescaleVersion string `json:"timescaleVersion"`
	// BackupRetentionDays keeps AWS Backup's daily snapshots of the data
	// volume; 0 takes none (point-in-time recovery comes from Pitr).
	BackupRetentionDays int `json:"backupRetentionDays"`
	// AmiID pins the host image (an Ubuntu 24.04 arm64 AMI of the pinned
	// region). Without it every deploy reads Canonical's current image, and a
	// new image replaces the host (the data volume stays).
	AmiID string `json:"amiId"`
	// AvailabilityZone holds the data volume and the host: one of
	// availabilityZones, written out so that it never moves.
	AvailabilityZone string `json:"availabilityZone"`
	// EbsKmsKeyArn is the customer-managed KMS key that encrypts the host's
	// EBS volumes when the account's default EBS key is one; the host role
	// gets the grants attaching such a volume needs.
	EbsKmsKeyArn string           `json:"ebsKmsKeyArn"`
	Pitr         TimescalePitr    `json:"pitr"`
	Restore      TimescaleRestore `json:"restore"`
}

// TimescalePitr configures continuous archiving (pgBackRest to S3): WAL
// every minute plus scheduled full and differential backups.
type TimescalePitr struct {
	// RetentionDays is the window any point of which can be restored.
	RetentionDays int `json:"retentionDays"`
	// FullBackupWeekday takes the weekly full backup (Mon ... Sun); the other
	// days take a differential backup.
	FullBackupWeekday string `json:"fullBackupWeekday"`
	// BackupHourUtc is the hour (UTC) the daily backup starts.
	BackupHourUtc int `json:"backupHourUtc"`
}

// TimescaleRestore brings the tier back at a point in time: a new data volume
// restored from the archive replaces the current one.
type TimescaleRestore struct {
	// TargetTime is the RFC 3339 time to restore to; empty for no restore.
	TargetTime string `json:"targetTime"`
}

// External configures an existing database (engine "external").
type External struct {
	// SecretArn is an administrator's secret (host, port, dbname, username,
	// password): a role that may create roles and owns the database. Only
	// the deploy-time migration task reads it.
	SecretArn string `json:"secretArn"`
	// Host is the database's DNS name (the one its certificate names), given
	// to the API as a plain value: the API does not read the admin secret.
	Host            string `json:"host"`
	SecurityGroupID string `json:"securityGroupId"`
	Cidr            string `json:"cidr"`
	Port            int    `json:"port"`
	// CACertificate verifies the server: "system" (the public CAs the image
	// trusts), "rds" (the Amazon RDS bundle the image ships) or a PEM CA
	// certificate.
	CACertificate string `json:"caCertificate"`
}

// External CA choices besides a PEM certificate.
const (
	ExternalCASystem = "system"
	ExternalCARDS    = "rds"
)

// Backend describes the API service.
type Backend struct {
	Cpu               int    `json:"cpu"`
	MemoryMiB         int    `json:"memoryMiB"`
	DesiredCount      int    `json:"desiredCount"`
	MinCount          int    `json:"minCount"`
	MaxCount          int    `json:"maxCount"`
	Port              int    `json:"port"`
	HealthCheckPath   string `json:"healthCheckPath"`
	CpuArchitecture   string `json:"cpuArchitecture"`
	Spot              bool   `json:"spot"`
	AssignPublicIp    bool   `json:"assignPublicIp"`
	TargetCpuPercent  int    `json:"targetCpuPercent"`
	RequestsPerTarget int    `json:"requestsPerTarget"`
	LogRetentionDays  int    `json:"logRetentionDays"`
	EnableExec        bool   `json:"enableExec"`
	Image             Image  `json:"image"`
}

// Image says where the backend image comes from: a local Docker build context
// (built by `cdk deploy`) or the project's ECR repository at a tag.
type Image struct {
	Directory string `json:"directory"`
	Tag       string `json:"tag"`
}

// Frontend describes the static site, its optional custom domain and the
// web application firewall in front of the distribution.
type Frontend struct {
	SourceDir      string `json:"sourceDir"`
	DomainName     string `json:"domainName"`
	CertificateArn string `json:"certificateArn"`
	HostedZoneID   string `json:"hostedZoneId"`
	HostedZoneName string `json:"hostedZoneName"`
	PriceClass     string `json:"priceClass"`
	// AllowDefaultCertificate is why a prod-profile environment serves on
	// CloudFront's default *.cloudfront.net certificate, whose minimum TLS
	// version CloudFront fixes at TLSv1, instead of a custom domain. Empty:
	// a prod-profile environment must set domainName. Synth prints it.
	AllowDefaultCertificate string `json:"allowDefaultCertificate"`
	Waf                     Waf    `json:"waf"`
}

// Waf configures the AWS WAF web ACL of the distribution (its own stack in
// us-east-1, where CloudFront web ACLs live).
type Waf struct {
	Enabled bool `json:"enabled"`
	// APIRateLimit is how many requests to /api/* one client IP may send
	// within RateWindowSeconds before WAF answers 429.
	APIRateLimit      int `json:"apiRateLimit"`
	RateWindowSeconds int `json:"rateWindowSeconds"`
}

// Monitoring holds alarm thresholds and where alarms go.
type Monitoring struct {
	AlarmEmail           string  `json:"alarmEmail"`
	Dashboard            bool    `json:"dashboard"`
	EvaluationPeriods    int     `json:"evaluationPeriods"`
	Alb5xxPercent        float64 `json:"alb5xxPercent"`
	Target5xxPercent     float64 `json:"target5xxPercent"`
	LatencyP99Seconds    float64 `json:"latencyP99Seconds"`
	ServiceCpuPercent    float64 `json:"serviceCpuPercent"`
	ServiceMemoryPercent float64 `json:"serviceMemoryPercent"`
	DbCpuPercent         float64 `json:"dbCpuPercent" engine:"rds-postgres,timescaledb"`
	DbFreeStorageGiB     float64 `json:"dbFreeStorageGiB" engine:"rds-postgres"`
	DbFreeableMemoryMiB  float64 `json:"dbFreeableMemoryMiB" engine:"rds-postgres"`
	DbConnections        float64 `json:"dbConnections" engine:"rds-postgres"`
	CloudFront5xxPercent float64 `json:"cloudFront5xxPercent"`
	ExecSessionLogDays   int     `json:"execSessionLogDays"`

	// ContainerInsights turns on the cluster's Container Insights (standard):
	// per-task metrics billed as about 38 custom metrics a month.
	ContainerInsights bool `json:"containerInsights"`
	// OperationsKeyRotation rotates the operations key yearly (the first two
	// rotations add $1/month each).
	OperationsKeyRotation bool `json:"operationsKeyRotation"`
}

// IsStage reports whether this is a stage rather than the environment itself.
func (c *Config) IsStage() bool { return c.Stage != "" }

// Environment is the environment's key in cdk.json: the settings come from
// it and are reported under it, and its resources are tagged with it.
func (c *Config) Environment() string {
	if c.Env != "" {
		return c.Env
	}
	return c.Name
}

// Production reports whether the environment uses production safeguards.
func (c *Config) Production() bool { return c.Profile == ProfileProd }

// StackName is the CloudFormation stack name of one of the stacks
// (StackParts): tsa-<environment or stage>-<part>.
func (c *Config) StackName(part string) string {
	return fmt.Sprintf("%s-%s-%s", Project, c.Name, part)
}

// PinnedEnvironment reports whether account and region are fixed in config.
func (c *Config) PinnedEnvironment() bool { return c.Account != "" && c.Region != "" }

// AzCount is how many availability zones the VPC spans.
func (c *Config) AzCount() int {
	if len(c.AvailabilityZones) > 0 {
		return len(c.AvailabilityZones)
	}
	return c.Network.MaxAzs
}

// StackParts lists the parts of the environment's stacks in deployment
// order: the edge stack (the WAF web ACL, in us-east-1) exists only with
// frontend.waf.enabled.
func (c *Config) StackParts() []string {
	if c.Frontend.Waf.Enabled {
		return []string{"network", "data", "compute", "edge", "frontend"}
	}
	return []string{"network", "data", "compute", "frontend"}
}

// UsesImageRepository reports whether the service pulls a tag from ECR rather
// than building a local Docker context.
func (c *Config) UsesImageRepository() bool { return c.Backend.Image.Tag != "" }

// Error is an invalid configuration: every problem found, each naming its setting.
type Error struct {
	Env      string
	Problems []Problem
}

// Problem is one invalid setting.
type Problem struct {
	Setting string
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Env != "" {
		fmt.Fprintf(&b, "invalid configuration for environment %q:", e.Env)
	} else {
		b.WriteString("invalid configuration:")
	}
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  - %s: %s", p.Setting, p.Message)
	}
	return b.String()
}

type problems struct{ list []Problem }

func (p *problems) add(setting, format string, args ...any) {
	p.list = append(p.list, Problem{Setting: setting, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) err(env string) error {
	if len(p.list) == 0 {
		return nil
	}
	return &Error{Env: env, Problems: p.list}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
