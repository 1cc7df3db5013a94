// Package timescaledb renders the user data of the self-managed TimescaleDB
// host (constructs.NewTimescaleDatabase): the host's settings, its pgBackRest
// configuration and the scripts in payload/, packed as a base64 tar.gz. It is
// pure Go, without aws-cdk-go, so the scripts' tests (syntax, no secret
// material, the restore rehearsal) run without jsii.
package timescaledb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"
)

//go:embed userdata.sh
var userDataTemplate string

//go:embed pgbackrest.conf
var pgBackRestTemplate string

// payloadFS holds the files the host unpacks into LibDir; *.tmpl files are
// rendered with the Bootstrap (literal values only) and lose the suffix.
//
//go:embed payload
var payloadFS embed.FS

var (
	userData   = template.Must(template.New("userdata.sh").Option("missingkey=error").Parse(userDataTemplate))
	pgBackRest = template.Must(template.New("pgbackrest.conf").Option("missingkey=error").Parse(pgBackRestTemplate))
)

// Paths, names and pinned versions the construct shares with the scripts.
const (
	// MountPoint is where the data volume is mounted; PGDATA is MountPoint/data.
	MountPoint = "/var/lib/postgresql"
	// LibDir is where the user data unpacks the payload.
	LibDir = "/usr/local/lib/tsa-timescaledb"
	// BootstrapLog is the script's own log on the host (shipped to CloudWatch).
	BootstrapLog = "/var/log/tsa-bootstrap.log"
	// PgBackRestLogs are pgBackRest's logs on the host (shipped to CloudWatch).
	PgBackRestLogs = "/var/log/pgbackrest/*.log"
	// Stanza is the pgBackRest stanza of the cluster.
	Stanza = "tsa"
	// RepoPath is the prefix of the pgBackRest repository in the archive bucket.
	RepoPath = "pgbackrest"
	// AgentNamespace is where the CloudWatch agent publishes disk_used_percent
	// and mem_used_percent.
	AgentNamespace = "CWAgent"
	// DiskUsedMetric is the agent's metric for the data volume's fill level,
	// published with the dimensions InstanceId and path (= MountPoint).
	DiskUsedMetric = "disk_used_percent"
	// MetricsNamespace is where the host publishes PostgresUp,
	// ArchiveLagSeconds and BackupAgeHours every minute, with the dimension
	// Endpoint (the DNS name), which outlives instance replacements.
	MetricsNamespace  = "TSA/TimescaleDB"
	PostgresUpMetric  = "PostgresUp"
	ArchiveLagMetric  = "ArchiveLagSeconds"
	BackupAgeMetric   = "BackupAgeHours"
	EndpointDimension = "Endpoint"
	// DefaultCloudWatchAgentVersion is the pinned agent release (the folder
	// name in AWS's download bucket); its package signature is checked
	// against AWS's key fingerprint at install.
	DefaultCloudWatchAgentVersion = "1.300072.0b1766"
	// DefaultTimescaleToolsVersion pins timescaledb-tools (timescaledb-tune
	// rewrites postgresql.conf at every boot, so its rules must not move).
	DefaultTimescaleToolsVersion = "0.19.0"
	// DefaultPgBackRestVersion pins pgBackRest from PGDG. Ubuntu 24.04's own
	// package froze at its April 2024 release, before pgBackRest supported
	// PostgreSQL 17 (2.53.1, August 2024).
	DefaultPgBackRestVersion = "2.58.0"
	// MaxUserDataBytes is EC2's limit on user data (before base64).
	MaxUserDataBytes = 16 * 1024
	// tokenHeadroom is kept free below MaxUserDataBytes because CDK tokens in
	// the rendered text (volume ID, secret ARN, bucket, ...) resolve to
	// longer values at deploy time.
	tokenHeadroom = 1024
)

// Pitr is the archiving schedule and window (database.timescale.pitr).
type Pitr struct {
	RetentionDays     int
	FullBackupWeekday string
	BackupHourUtc     int
}

// Weekdays are the day names of systemd calendar events, Monday first.
var Weekdays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// DiffBackupWeekdays are the days without the full backup, comma-separated.
func (p Pitr) DiffBackupWeekdays() string {
	var days []string
	for _, d := range Weekdays {
		if d != p.FullBackupWeekday {
			days = append(days, d)
		}
	}
	return strings.Join(days, ",")
}

// Bootstrap holds the values rendered into the user data. VolumeID,
// SecretArn, ArchiveBucket, Region, URLSuffix, ClientCidr and
// AgentConfigParameter may be CDK tokens; they are resolved by
// CloudFormation. No field may carry secret material: the host reads the
// password from Secrets Manager at run time.
type Bootstrap struct {
	// PostgresMajor and PostgresMinor pin PostgreSQL, e.g. 17 and 9.
	PostgresMajor int
	PostgresMinor int
	// TimescaleVersion is the pinned TimescaleDB release, e.g. "2.22.1".
	TimescaleVersion string
	// TimescaleToolsVersion, PgBackRestVersion and CloudWatchAgentVersion
	// default to the pinned releases above.
	TimescaleToolsVersion  string
	PgBackRestVersion      string
	CloudWatchAgentVersion string
	// VolumeID is the EBS data volume, e.g. "vol-0123456789abcdef0".
	VolumeID string
	// SecretArn is the Secrets Manager secret with username and password.
	SecretArn string
	// ArchiveBucket is the S3 bucket of the pgBackRest repository.
	ArchiveBucket string
	// Region and URLSuffix locate the bucket's endpoint (s3.REGION.SUFFIX).
	Region    string
	URLSuffix string
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
	// CAParameter is the SSM String parameter the host publishes its CA
	// certificate to (public, not a secret), for clients that verify the
	// server (the API's DB_SSLROOTCERT_PEM).
	CAParameter string
	// StackName and LogicalID address the instance's CreationPolicy signal.
	StackName string
	LogicalID string
	// Pitr is the backup schedule and the restore window.
	Pitr Pitr
	// RestoreTarget, when set ("YYYY-MM-DD HH:MM:SS+00", see
	// RestoreTargetOf), restores an empty data volume from the archive as of
	// that time instead of creating a new cluster.
	RestoreTarget string
}

// File is one file of the payload.
type File struct {
	Name    string
	Mode    int64
	Content string
}

var (
	tokenPattern       = regexp.MustCompile(`^\$\{Token\[[A-Za-z0-9_.:-]+\]\}$`)
	timescalePattern   = regexp.MustCompile(`^2\.\d{1,3}\.\d{1,3}$`)
	releasePattern     = regexp.MustCompile(`^\d{1,3}\.\d{1,3}(\.\d{1,3})?$`)
	volumePattern      = regexp.MustCompile(`^vol-[0-9a-f]{8}([0-9a-f]{9})?$`)
	secretArnPattern   = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	bucketPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	regionPattern      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	suffixPattern      = regexp.MustCompile(`^amazonaws\.com(\.cn)?$`)
	identPattern       = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	dnsPattern         = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	parameterPattern   = regexp.MustCompile(`^[A-Za-z0-9_./-]{1,1000}$`)
	agentPattern       = regexp.MustCompile(`^\d+\.\d+\.\d+b\d+$`)
	caParameterPattern = regexp.MustCompile(`^(/[A-Za-z0-9_.-]{1,100})+$`)
	stackNamePattern   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	logicalIDPattern   = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
	targetPattern      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+00$`)
)

// IsToken reports whether s is an unresolved CDK token string.
func IsToken(s string) bool { return tokenPattern.MatchString(s) }

func withDefaults(b Bootstrap) Bootstrap {
	if b.CloudWatchAgentVersion == "" {
		b.CloudWatchAgentVersion = DefaultCloudWatchAgentVersion
	}
	if b.TimescaleToolsVersion == "" {
		b.TimescaleToolsVersion = DefaultTimescaleToolsVersion
	}
	if b.PgBackRestVersion == "" {
		b.PgBackRestVersion = DefaultPgBackRestVersion
	}
	return b
}

// check validates every value before it is placed inside single quotes (or
// a configuration line), so nothing can break out of its assignment.
func check(b Bootstrap) error {
	var problems []string
	want := func(field, value string, ok bool, accepted string) {
		if !ok {
			problems = append(problems, fmt.Sprintf("%s %q: want %s", field, value, accepted))
		}
	}
	orToken := func(p *regexp.Regexp, s string) bool { return IsToken(s) || p.MatchString(s) }

	want("PostgresMajor", fmt.Sprint(b.PostgresMajor), b.PostgresMajor >= 14 && b.PostgresMajor <= 18, "a major version from 14 to 18")
	want("PostgresMinor", fmt.Sprint(b.PostgresMinor), b.PostgresMinor >= 0 && b.PostgresMinor <= 99, "a minor release from 0 to 99")
	want("TimescaleVersion", b.TimescaleVersion, timescalePattern.MatchString(b.TimescaleVersion), "a pinned 2.x.y release")
	want("TimescaleToolsVersion", b.TimescaleToolsVersion, releasePattern.MatchString(b.TimescaleToolsVersion), "a pinned release such as 0.19.0")
	want("PgBackRestVersion", b.PgBackRestVersion, releasePattern.MatchString(b.PgBackRestVersion), "a pinned release such as 2.58.0")
	want("CloudWatchAgentVersion", b.CloudWatchAgentVersion, agentPattern.MatchString(b.CloudWatchAgentVersion), "a pinned release such as 1.300072.0b1766")
	want("VolumeID", b.VolumeID, orToken(volumePattern, b.VolumeID), "vol-<hex> or a CDK token")
	want("SecretArn", b.SecretArn, orToken(secretArnPattern, b.SecretArn), "a Secrets Manager ARN or a CDK token")
	want("ArchiveBucket", b.ArchiveBucket, orToken(bucketPattern, b.ArchiveBucket), "an S3 bucket name without dots or a CDK token")
	want("Region", b.Region, orToken(regionPattern, b.Region), "a region name or a CDK token")
	want("URLSuffix", b.URLSuffix, orToken(suffixPattern, b.URLSuffix), "amazonaws.com, amazonaws.com.cn or a CDK token")
	want("DatabaseName", b.DatabaseName, identPattern.MatchString(b.DatabaseName), "a lower-case PostgreSQL identifier")
	want("Port", fmt.Sprint(b.Port), b.Port >= 1024 && b.Port <= 65535, "1024 to 65535")
	want("ClientCidr", b.ClientCidr, IsToken(b.ClientCidr) || isIPv4Prefix(b.ClientCidr), "an IPv4 CIDR block or a CDK token")
	want("DNSName", b.DNSName, len(b.DNSName) <= 253 && dnsPattern.MatchString(b.DNSName), "a lower-case DNS name")
	want("AgentConfigParameter", b.AgentConfigParameter, orToken(parameterPattern, b.AgentConfigParameter), "an SSM parameter name or a CDK token")
	want("CAParameter", b.CAParameter, caParameterPattern.MatchString(b.CAParameter), "a fully qualified SSM parameter name (/...)")
	want("StackName", b.StackName, stackNamePattern.MatchString(b.StackName), "a CloudFormation stack name")
	want("LogicalID", b.LogicalID, logicalIDPattern.MatchString(b.LogicalID), "a CloudFormation logical ID")
	want("Pitr.RetentionDays", fmt.Sprint(b.Pitr.RetentionDays), b.Pitr.RetentionDays >= 1 && b.Pitr.RetentionDays <= 9999999, "at least 1 day")
	want("Pitr.FullBackupWeekday", b.Pitr.FullBackupWeekday, slices.Contains(Weekdays, b.Pitr.FullBackupWeekday), strings.Join(Weekdays, ", "))
	want("Pitr.BackupHourUtc", fmt.Sprint(b.Pitr.BackupHourUtc), b.Pitr.BackupHourUtc >= 0 && b.Pitr.BackupHourUtc <= 23, "0 to 23")
	want("RestoreTarget", b.RestoreTarget, b.RestoreTarget == "" || targetPattern.MatchString(b.RestoreTarget), `empty or "YYYY-MM-DD HH:MM:SS+00"`)
	if len(problems) > 0 {
		return fmt.Errorf("timescaledb bootstrap: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Render returns the user data for one host.
func Render(b Bootstrap) (string, error) {
	b = withDefaults(b)
	if err := check(b); err != nil {
		return "", err
	}
	conf, err := PgBackRestConfig(b)
	if err != nil {
		return "", err
	}
	files, err := payloadFiles(b)
	if err != nil {
		return "", err
	}
	archive, err := pack(files)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	err = userData.Execute(&out, struct {
		Bootstrap
		MetricsNamespace string
		PgBackRestConfig string
		Payload          string
	}{b, MetricsNamespace, conf, wrap(base64.StdEncoding.EncodeToString(archive), 76)})
	if err != nil {
		return "", fmt.Errorf("timescaledb bootstrap: %w", err)
	}
	script := stripComments(out.String())
	if len(script) > MaxUserDataBytes-tokenHeadroom {
		return "", fmt.Errorf("timescaledb bootstrap: %d bytes leaves less than %d bytes of EC2's %d-byte user data limit for token values", len(script), tokenHeadroom, MaxUserDataBytes)
	}
	return script, nil
}

// PgBackRestConfig is /etc/pgbackrest/pgbackrest.conf of the host. The
// restore rehearsal renders it the same way and overrides only what differs
// on a laptop (endpoint, credentials, paths) through PGBACKREST_* variables.
func PgBackRestConfig(b Bootstrap) (string, error) {
	b = withDefaults(b)
	if err := check(b); err != nil {
		return "", err
	}
	var out strings.Builder
	if err := pgBackRest.Execute(&out, b); err != nil {
		return "", fmt.Errorf("timescaledb pgbackrest.conf: %w", err)
	}
	return out.String(), nil
}

// PayloadFiles are the files the user data unpacks into LibDir, in the order
// they are packed.
func PayloadFiles(b Bootstrap) ([]File, error) {
	b = withDefaults(b)
	if err := check(b); err != nil {
		return nil, err
	}
	return payloadFiles(b)
}

func payloadFiles(b Bootstrap) ([]File, error) {
	var files []File
	err := fs.WalkDir(payloadFS, "payload", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := payloadFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "payload/")
		content := string(data)
		if strings.HasSuffix(name, ".tmpl") {
			// Templates see literal settings only: the payload is packed at
			// synthesis, where a token cannot be resolved.
			t, err := template.New(name).Option("missingkey=error").Parse(content)
			if err != nil {
				return err
			}
			var out strings.Builder
			if err := t.Execute(&out, b.Pitr); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			name, content = strings.TrimSuffix(name, ".tmpl"), out.String()
		}
		mode := int64(0o644)
		if path.Ext(name) == ".sh" {
			// The comments stay in the repository: the packed user data has
			// to fit EC2's 16 KiB.
			mode, content = 0o755, stripComments(content)
		}
		files = append(files, File{Name: name, Mode: mode, Content: content})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, err
}

// pack writes a reproducible tar.gz (fixed times and owners), so the same
// scripts always give the same user data and fingerprint.
func pack(files []File) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for _, f := range files {
		if dir := path.Dir(f.Name); dir != "." && !dirs[dir] {
			dirs[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, Format: tar.FormatUSTAR}); err != nil {
				return nil, err
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Mode: f.Mode, Size: int64(len(f.Content)), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.Content)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func wrap(s string, width int) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width])
		b.WriteByte('\n')
		s = s[width:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	return b.String()
}

// RestoreTargetOf turns an RFC 3339 time (database.timescale.restore) into
// the form pgBackRest parses to pick the backup to restore from
// ("YYYY-MM-DD HH:MM:SS+00", UTC).
func RestoreTargetOf(rfc3339 string) (string, error) {
	at, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return "", fmt.Errorf("restore target %q: %w", rfc3339, err)
	}
	return at.UTC().Format("2006-01-02 15:04:05") + "+00", nil
}

// Fingerprint identifies what the host runs: a short hash of the user data
// rendered with fixed stand-ins for CDK tokens and for LogicalID (which the
// fingerprint becomes part of), so it changes when a script or a literal
// setting changes, never when unrelated construction shifts the numbering of
// tokens. The construct appends it to the instance's logical ID, so a changed
// script replaces the instance (the data volume stays) instead of
// CloudFormation's stop-and-start, after which user data would not run again.
func Fingerprint(b Bootstrap) (string, error) {
	for _, f := range []*string{&b.VolumeID, &b.SecretArn, &b.ArchiveBucket, &b.Region, &b.URLSuffix, &b.ClientCidr, &b.AgentConfigParameter} {
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
// userdata.sh, including those in the files it writes; the shebang and
// shellcheck directives stay.
func stripComments(script string) string {
	lines := strings.SplitAfter(script, "\n")
	kept := lines[:0]
	for _, line := range lines {
		trimmed := strings.TrimLeft(line, " \t")
		if (strings.HasPrefix(trimmed, "# ") && !strings.HasPrefix(trimmed, "# shellcheck ")) || trimmed == "#\n" {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "")
}

// AgentConfig is the CloudWatch agent configuration of the host: the data
// volume's disk_used_percent and memory in the CWAgent namespace with the
// dimensions InstanceId and path (DiskMetricDimensions), and the PostgreSQL,
// bootstrap and pgBackRest logs shipped to logGroupName (which may be a CDK
// token).
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
						{FilePath: PgBackRestLogs, LogGroupName: logGroupName, LogStreamName: "{instance_id}/pgbackrest"},
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
