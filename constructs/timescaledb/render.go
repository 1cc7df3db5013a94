// Package timescaledb renders the boot script of the self-managed TimescaleDB
// host (constructs.NewTimescaleDatabase). It is pure Go, without aws-cdk-go,
// so the script's tests (shellcheck, no secret material) run without jsii.
package timescaledb

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"text/template"
)

//go:embed bootstrap.sh
var bootstrapTemplate string

var bootstrap = template.Must(template.New("bootstrap.sh").Option("missingkey=error").Parse(bootstrapTemplate))

// Paths and names the construct shares with the script.
const (
	// MountPoint is where the data volume is mounted; PGDATA is MountPoint/data.
	MountPoint = "/var/lib/postgresql"
	// BootstrapLog is the script's own log on the host (shipped to CloudWatch).
	BootstrapLog = "/var/log/tsa-bootstrap.log"
	// AgentNamespace is where the CloudWatch agent publishes disk_used_percent
	// and mem_used_percent.
	AgentNamespace = "CWAgent"
	// DiskUsedMetric is the agent's metric for the data volume's fill level,
	// published with the dimensions InstanceId and path (= MountPoint).
	DiskUsedMetric = "disk_used_percent"
	// DefaultCloudWatchAgentVersion downloads the newest agent; the package
	// signature is checked against AWS's key fingerprint either way.
	DefaultCloudWatchAgentVersion = "latest"
	// MaxUserDataBytes is EC2's limit on user data (before base64).
	MaxUserDataBytes = 16 * 1024
	// tokenHeadroom is kept free below MaxUserDataBytes because CDK tokens in
	// the rendered text (volume ID, secret ARN, log group) resolve to longer
	// values at deploy time.
	tokenHeadroom = 1024
)

// Bootstrap holds the values rendered into the boot script. VolumeID,
// SecretArn, ClientCidr and AgentConfigParameter may be CDK tokens; they are resolved
// by CloudFormation. No field may carry secret material: the script reads the
// password from Secrets Manager at run time.
type Bootstrap struct {
	// PostgresMajor is the PostgreSQL major version, e.g. 17.
	PostgresMajor int
	// TimescaleVersion is the pinned TimescaleDB release, e.g. "2.22.1".
	TimescaleVersion string
	// VolumeID is the EBS data volume, e.g. "vol-0123456789abcdef0".
	VolumeID string
	// SecretArn is the Secrets Manager secret with username and password.
	SecretArn string
	// DatabaseName is the application database created at first boot.
	DatabaseName string
	// Port is the TCP port PostgreSQL listens on.
	Port int
	// ClientCidr is the only network allowed in pg_hba.conf (TLS only).
	ClientCidr string
	// DNSName is the stable name clients use; it is the certificate's name.
	DNSName string
	// AgentConfigParameter is the SSM parameter holding the CloudWatch agent
	// configuration (see AgentConfig).
	AgentConfigParameter string
	// CloudWatchAgentVersion is "latest" or a release such as "1.300064.1b1344".
	CloudWatchAgentVersion string
	// StackName and LogicalID address the instance's CreationPolicy signal.
	StackName string
	LogicalID string
}

var (
	tokenPattern     = regexp.MustCompile(`^\$\{Token\[[A-Za-z0-9_.:-]+\]\}$`)
	timescalePattern = regexp.MustCompile(`^2\.\d{1,3}\.\d{1,3}$`)
	volumePattern    = regexp.MustCompile(`^vol-[0-9a-f]{8}([0-9a-f]{9})?$`)
	secretArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	identPattern     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	dnsPattern       = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	parameterPattern = regexp.MustCompile(`^[A-Za-z0-9_./-]{1,1000}$`)
	agentPattern     = regexp.MustCompile(`^(latest|\d+\.\d+\.[0-9a-z]+)$`)
	stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	logicalIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
)

// IsToken reports whether s is an unresolved CDK token string.
func IsToken(s string) bool { return tokenPattern.MatchString(s) }

// Render returns the boot script for one host. Every value is checked before
// it is placed inside single quotes in the script, so nothing can break out
// of its assignment.
func Render(b Bootstrap) (string, error) {
	if b.CloudWatchAgentVersion == "" {
		b.CloudWatchAgentVersion = DefaultCloudWatchAgentVersion
	}
	var problems []string
	check := func(field, value string, ok bool, want string) {
		if !ok {
			problems = append(problems, fmt.Sprintf("%s %q: want %s", field, value, want))
		}
	}
	orToken := func(p *regexp.Regexp, s string) bool { return IsToken(s) || p.MatchString(s) }

	check("PostgresMajor", fmt.Sprint(b.PostgresMajor), b.PostgresMajor >= 14 && b.PostgresMajor <= 18, "a major version from 14 to 18")
	check("TimescaleVersion", b.TimescaleVersion, timescalePattern.MatchString(b.TimescaleVersion), "a pinned 2.x.y release")
	check("VolumeID", b.VolumeID, orToken(volumePattern, b.VolumeID), "vol-<hex> or a CDK token")
	check("SecretArn", b.SecretArn, orToken(secretArnPattern, b.SecretArn), "a Secrets Manager ARN or a CDK token")
	check("DatabaseName", b.DatabaseName, identPattern.MatchString(b.DatabaseName), "a lower-case PostgreSQL identifier")
	check("Port", fmt.Sprint(b.Port), b.Port >= 1024 && b.Port <= 65535, "1024 to 65535")
	check("ClientCidr", b.ClientCidr, IsToken(b.ClientCidr) || isIPv4Prefix(b.ClientCidr), "an IPv4 CIDR block or a CDK token")
	check("DNSName", b.DNSName, len(b.DNSName) <= 253 && dnsPattern.MatchString(b.DNSName), "a lower-case DNS name")
	check("AgentConfigParameter", b.AgentConfigParameter, orToken(parameterPattern, b.AgentConfigParameter), "an SSM parameter name or a CDK token")
	check("CloudWatchAgentVersion", b.CloudWatchAgentVersion, agentPattern.MatchString(b.CloudWatchAgentVersion), `"latest" or a release number`)
	check("StackName", b.StackName, stackNamePattern.MatchString(b.StackName), "a CloudFormation stack name")
	check("LogicalID", b.LogicalID, logicalIDPattern.MatchString(b.LogicalID), "a CloudFormation logical ID")
	if len(problems) > 0 {
		return "", fmt.Errorf("timescaledb bootstrap: %s", strings.Join(problems, "; "))
	}

	var out strings.Builder
	if err := bootstrap.Execute(&out, b); err != nil {
		return "", fmt.Errorf("timescaledb bootstrap: %w", err)
	}
	script := stripComments(out.String())
	if len(script) > MaxUserDataBytes-tokenHeadroom {
		return "", fmt.Errorf("timescaledb bootstrap: %d bytes leaves less than %d bytes of EC2's %d-byte user data limit for token values", len(script), tokenHeadroom, MaxUserDataBytes)
	}
	return script, nil
}

// Fingerprint identifies what the host runs: a short hash of the script
// rendered with fixed stand-ins for CDK tokens and for LogicalID (which the
// fingerprint becomes part of), so it changes when the script or a literal
// setting changes, never when unrelated construction shifts the numbering of
// tokens. The construct appends it to the instance's logical ID,
// so a changed script replaces the instance (the data volume stays) instead of
// CloudFormation's stop-and-start, after which user data would not run again.
func Fingerprint(b Bootstrap) (string, error) {
	for _, f := range []*string{&b.VolumeID, &b.SecretArn, &b.ClientCidr, &b.AgentConfigParameter} {
		if IsToken(*f) {
			*f = "${Token[stand-in]}"
		}
	}
	b.LogicalID = "StandIn"
	script, err := Render(b)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(script))
	return strings.ToUpper(hex.EncodeToString(sum[:4])), nil
}

// stripComments drops the maintainers' full-line comments ("# ...") of
// bootstrap.sh, including those in the config files it writes; the shebang
// and shellcheck directives stay.
func stripComments(script string) string {
	lines := strings.SplitAfter(script, "\n")
	kept := lines[:0]
	for _, line := range lines {
		trimmed := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(trimmed, "# ") && !strings.HasPrefix(trimmed, "# shellcheck ") {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "")
}

// AgentConfig is the CloudWatch agent configuration of the host: the data
// volume's disk_used_percent and memory in the CWAgent namespace with the
// dimensions InstanceId and path (DiskMetricDimensions), and the PostgreSQL
// and bootstrap logs shipped to logGroupName (which may be a CDK token).
func AgentConfig(logGroupName string) string {
	type file struct {
		FilePath      string `json:"file_path"`
		LogGroupName  string `json:"log_group_name"`
		LogStreamName string `json:"log_stream_name"`
	}
	cfg := map[string]any{
		"agent": map[string]any{"metrics_collection_interval": 60, "omit_hostname": true},
		"metrics": map[string]any{
			"namespace":              AgentNamespace,
			"append_dimensions":      map[string]string{"InstanceId": "${aws:InstanceId}"},
			"aggregation_dimensions": [][]string{{"InstanceId", "path"}},
			"metrics_collected": map[string]any{
				"disk": map[string]any{"measurement": []string{"used_percent"}, "resources": []string{MountPoint}, "drop_device": true},
				"mem":  map[string]any{"measurement": []string{"used_percent"}},
			},
		},
		"logs": map[string]any{
			"logs_collected": map[string]any{
				"files": map[string]any{
					"collect_list": []file{
						{FilePath: "/var/log/postgresql/postgresql-*.log", LogGroupName: logGroupName, LogStreamName: "{instance_id}/postgresql"},
						{FilePath: BootstrapLog, LogGroupName: logGroupName, LogStreamName: "{instance_id}/bootstrap"},
					},
				},
			},
		},
	}
	var out strings.Builder
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		panic(err) // static shape: cannot fail
	}
	return strings.TrimSpace(out.String())
}

func isIPv4Prefix(s string) bool {
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Addr().Is4() && p.Masked() == p && p.Bits() > 0
}
