package timescaledb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// environments mirrors config's dev and prod defaults, with literal values
// where the construct passes CDK tokens.
var environments = map[string]Bootstrap{
	"dev": {
		PostgresMajor:        17,
		PostgresMinor:        9,
		TimescaleVersion:     "2.22.1",
		VolumeID:             "vol-0123456789abcdef0",
		SecretArn:            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:TimescaleSecret-AbCdEf",
		ArchiveBucket:        "tsa-dev-data-timescalearchive1a2b3c4d-0123456789ab",
		Region:               "eu-west-1",
		URLSuffix:            "amazonaws.com",
		DatabaseName:         "tsa",
		Port:                 5432,
		ClientCidr:           "10.10.0.0/16",
		DNSName:              "timescaledb.tsa-dev.internal",
		AgentConfigParameter: "/tsa/dev/timescaledb/cloudwatch-agent",
		CAParameter:          "/tsa/dev/database/timescaledb-ca",
		StackName:            "tsa-dev-data",
		LogicalID:            "TimescaleInstanceBEC3D0CA6018CACC",
		Pitr:                 Pitr{RetentionDays: 7, FullBackupWeekday: "Sun", BackupHourUtc: 2},
	},
	"prod": {
		PostgresMajor:          17,
		PostgresMinor:          9,
		TimescaleVersion:       "2.22.1",
		VolumeID:               "vol-0fedcba9876543210",
		SecretArn:              "arn:aws:secretsmanager:eu-west-1:210987654321:secret:TimescaleSecret-ZyXwVu",
		ArchiveBucket:          "tsa-prod-data-timescalearchive9f8e7d6c-ba9876543210",
		Region:                 "eu-west-1",
		URLSuffix:              "amazonaws.com",
		DatabaseName:           "tsa",
		Port:                   5432,
		ClientCidr:             "10.20.0.0/16",
		DNSName:                "timescaledb.tsa-prod.internal",
		AgentConfigParameter:   "CFN-TimescaleAgentConfig-1A2B3C4D5E6F",
		CAParameter:            "/tsa/prod/database/timescaledb-ca",
		CloudWatchAgentVersion: "1.300064.1b1344",
		StackName:              "tsa-prod-data",
		LogicalID:              "TimescaleInstanceBEC3D0CA12345678",
		Pitr:                   Pitr{RetentionDays: 14, FullBackupWeekday: "Sat", BackupHourUtc: 23},
		RestoreTarget:          "2026-11-28 09:30:00+00",
	},
}

func render(t *testing.T, b Bootstrap) string {
	t.Helper()
	script, err := Render(b)
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// payload returns the files of a rendering by name, as the host unpacks them.
func payload(t *testing.T, b Bootstrap) map[string]string {
	t.Helper()
	files, err := PayloadFiles(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		out[f.Name] = f.Content
	}
	return out
}

// function returns the body of a shell function of script.
func function(t *testing.T, script, name string) string {
	t.Helper()
	start := strings.Index(script, "\n"+name+"() {")
	if start < 0 {
		t.Fatalf("no function %s", name)
	}
	end := strings.Index(script[start:], "\n}\n")
	return script[start : start+end+3]
}

// before fails unless every string occurs in text, in this order.
func before(t *testing.T, text string, steps ...string) {
	t.Helper()
	at := -1
	for _, s := range steps {
		i := strings.Index(text[at+1:], s)
		if i < 0 {
			t.Errorf("%q missing (or not after the previous step)", s)
			return
		}
		at += 1 + i
	}
}

// writeScripts lets .ci/run shellcheck exactly the renderings tested here:
// go test ./constructs/timescaledb -run TestBootScriptIsValidBash -args -write-scripts DIR
var writeScripts = flag.String("write-scripts", "", "also write each environment's rendered boot script to this directory (for shellcheck in .ci/run)")

// TestBootScriptIsValidBash parses every environment's rendering (the user
// data and every shell script of its payload) as bash with mvdan.cc/sh, so no
// binary is needed, and checks what would break the boot under
// `set -euo pipefail` or hide a problem. shellcheck runs on the same files in
// .ci/run (written with -write-scripts).
func TestBootScriptIsValidBash(t *testing.T) {
	for env, b := range environments {
		t.Run(env, func(t *testing.T) {
			userData := render(t, b)
			scripts := map[string]string{"userdata.sh": userData}
			for name, content := range payload(t, b) {
				if strings.HasSuffix(name, ".sh") {
					scripts[filepath.Base(name)] = content
				}
			}
			// The payload scripts source the environment file the user data
			// writes; its names count as assigned there.
			envNames := envFileNames(t, userData)
			for name, script := range scripts {
				if *writeScripts != "" {
					dir := filepath.Join(*writeScripts, env)
					if err := os.MkdirAll(dir, 0o700); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				var known []string
				if name != "userdata.sh" {
					known = envNames
				}
				for _, problem := range bashProblems(t, script, known...) {
					t.Errorf("%s rendering, %s: %s", env, name, problem)
				}
			}
		})
	}
}

// envFileNames lists the variables the user data writes into the host's
// environment file (/etc/tsa/timescaledb.env, a quoted here-document).
func envFileNames(t *testing.T, userData string) []string {
	t.Helper()
	_, body, ok := strings.Cut(userData, "cat >/etc/tsa/timescaledb.env <<'EOF'\n")
	body, _, closed := strings.Cut(body, "\nEOF\n")
	if !ok || !closed {
		t.Fatal("the user data writes no /etc/tsa/timescaledb.env here-document")
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z_][A-Za-z0-9_]*)=`).FindAllStringSubmatch(body, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatal("the environment file defines nothing")
	}
	return names
}

// TestBashProblemsFindsEachKind keeps bashProblems honest: each kind of
// problem it looks for is found in a script that has it.
func TestBashProblemsFindsEachKind(t *testing.T) {
	cases := map[string]string{
		"syntax error":             "#!/bin/bash\nif true; then echo x\n",
		"unset variable":           "#!/bin/bash\nset -u\necho \"$UNSET_VAR\"\n",
		"os-release not sourced":   "#!/bin/bash\necho \"$VERSION_CODENAME\"\n",
		"unquoted expansion":       "#!/bin/bash\nx=1\nrm -rf $x\n",
		"unquoted substitution":    "#!/bin/bash\nrm -rf $(pwd)\n",
		"unquoted redirect":        "#!/bin/bash\nf=a\necho x >$f\n",
		"directive without reason": "#!/bin/bash\n# shellcheck disable=SC2086\necho x\n",
	}
	for name, script := range cases {
		if len(bashProblems(t, script)) == 0 {
			t.Errorf("%s: not found in %q", name, script)
		}
	}
	clean := "#!/bin/bash\nset -euo pipefail\nf() { local a=$1; echo \"$a\" \"$#\" $?; }\nfor i in $(seq 1 3); do f \"$i\"; done\necho \"${MAYBE:-default}\" \"${OTHER:+set}\"\n" +
		"# shellcheck disable=SC2016 # single quotes on purpose\necho '$x' >\"/tmp/$PATH\"\n"
	if p := bashProblems(t, clean); len(p) != 0 {
		t.Errorf("false positives on a clean script: %v", p)
	}
}

// bashProblems parses script as bash and returns what it finds: a syntax
// error; a variable read but never assigned (fatal under set -u); a
// parameter expansion or command substitution left unquoted in a command's
// arguments or a redirection (word splitting and globbing, shellcheck
// SC2086/SC2046); a shellcheck disable directive without a reason.
func bashProblems(t *testing.T, script string, known ...string) []string {
	t.Helper()
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true)).Parse(strings.NewReader(script), "bootstrap.sh")
	if err != nil {
		return []string{"bash syntax: " + err.Error()}
	}
	var problems []string
	assigned := map[string]bool{"PATH": true} // set by the environment
	for _, name := range known {
		assigned[name] = true
	}
	// Variables os-release(5) defines, for a script that sources it.
	osRelease := []string{"NAME", "ID", "ID_LIKE", "VERSION", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME"}
	type use struct {
		name string
		pos  syntax.Pos
	}
	var reads []use
	unquoted := func(w *syntax.Word, where string) {
		for _, part := range w.Parts {
			switch p := part.(type) {
			case *syntax.ParamExp:
				if p.Param != nil && !strings.ContainsAny(p.Param.Value, "?#$!") {
					problems = append(problems, fmt.Sprintf("%s: unquoted $%s in %s", p.Pos(), p.Param.Value, where))
				}
			case *syntax.CmdSubst:
				problems = append(problems, fmt.Sprintf("%s: unquoted command substitution in %s", p.Pos(), where))
			}
		}
	}
	syntax.Walk(file, func(node syntax.Node) bool {
		switch n := node.(type) {
		case *syntax.Assign:
			assigned[n.Name.Value] = true
		case *syntax.WordIter:
			assigned[n.Name.Value] = true
		case *syntax.ParamExp:
			// ${VAR-x}, ${VAR:-x}, ${VAR=x}, ${VAR+x}...: safe under set -u.
			guarded := n.Exp != nil && (n.Exp.Op == syntax.DefaultUnset || n.Exp.Op == syntax.DefaultUnsetOrNull ||
				n.Exp.Op == syntax.AssignUnset || n.Exp.Op == syntax.AssignUnsetOrNull ||
				n.Exp.Op == syntax.AlternateUnset || n.Exp.Op == syntax.AlternateUnsetOrNull)
			if n.Param != nil && syntax.ValidName(n.Param.Value) && !guarded {
				reads = append(reads, use{n.Param.Value, n.Pos()})
			}
		case *syntax.CallExpr:
			if len(n.Args) == 2 && (n.Args[0].Lit() == "." || n.Args[0].Lit() == "source") && n.Args[1].Lit() == "/etc/os-release" {
				for _, name := range osRelease {
					assigned[name] = true
				}
			}
			for _, w := range n.Args {
				unquoted(w, "a command argument")
			}
		case *syntax.Redirect:
			if n.Word != nil {
				unquoted(n.Word, "a redirection")
			}
		case *syntax.Comment:
			text := strings.TrimSpace(n.Text)
			if strings.HasPrefix(text, "shellcheck disable=") && !strings.Contains(text, " # ") {
				problems = append(problems, fmt.Sprintf("%s: shellcheck directive without a reason (# shellcheck disable=SCnnnn # why)", n.Pos()))
			}
		}
		return true
	})
	for _, r := range reads {
		if !assigned[r.name] {
			problems = append(problems, fmt.Sprintf("%s: $%s is read but never assigned (set -u aborts the boot)", r.pos, r.name))
		}
	}
	return problems
}

// TestPayloadScriptsParse: every shell script the host runs is valid bash
// (shellcheck runs on payload/ in CI, see .ci/run).
func TestPayloadScriptsParse(t *testing.T) {
	for name, content := range payload(t, environments["prod"]) {
		if !strings.HasSuffix(name, ".sh") {
			continue
		}
		path := filepath.Join(t.TempDir(), filepath.Base(name))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", name, err, out)
		}
	}
}

// TestNoSecretMaterial: the host names the secret and reads it at run time;
// nothing that looks like a credential is rendered into the user data or
// the scripts.
func TestNoSecretMaterial(t *testing.T) {
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`(?i)(export\s+PGPASSWORD|PGPASSWORD=['"]?[^$'"\s])`), // only PGPASSWORD=$variable, for one command
		regexp.MustCompile(`(?i)password[ \t]*=[ \t]*['"]?[^'"\s$]`),             // password=literal
		regexp.MustCompile(`(?i)PASSWORD\s+'[^']*'`),                             // ALTER ROLE ... PASSWORD 'literal'
		regexp.MustCompile(`(?i)--password|--secret-string`),                     // passwords on a command line
		regexp.MustCompile(`(?i)put-secret-value|update-secret\b`),               // the host never writes the secret
		regexp.MustCompile(`(?i)set\s+-x|set\s+-o\s+xtrace|bash\s+-x\b`),         // tracing would log the password
		regexp.MustCompile(`AKIA[0-9A-Z]{16}`),                                   // access keys
		regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
		regexp.MustCompile(`(?i)repo1-s3-key(-secret)?=|cipher-pass`), // no static S3 keys or passphrases
	}
	for env, b := range environments {
		t.Run(env, func(t *testing.T) {
			texts := payload(t, b)
			texts["user data"] = render(t, b)
			if !strings.Contains(texts["user data"], "SECRET_ID='"+b.SecretArn+"'") {
				t.Errorf("the user data must name the secret by its ARN")
			}
			if !strings.Contains(texts["bootstrap.sh"], `aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ID" --query SecretString`) {
				t.Errorf("the bootstrap must read the credentials from Secrets Manager at run time")
			}
			for name, text := range texts {
				for _, re := range forbidden {
					if loc := re.FindStringIndex(text); loc != nil {
						t.Errorf("%s: secret material pattern %s matches %q", name, re, text[max(0, loc[0]-40):min(len(text), loc[1]+40)])
					}
				}
			}
			// The password travels only through psql's environment.
			boot := texts["bootstrap.sh"]
			if !strings.Contains(boot, `\getenv db_password TSA_DB_PASSWORD`) || !strings.Contains(boot, `PASSWORD :'db_password'`) {
				t.Errorf("the password must reach psql through \\getenv and a quoted psql variable")
			}
			if n := strings.Count(boot, "PGPASSWORD="); n != 1 || !strings.Contains(boot, "PGPASSWORD=$password PGSSLMODE=verify-full") {
				t.Errorf("PGPASSWORD may only prefix the one client login check (found %d uses)", n)
			}
		})
	}
}

// TestIdempotentAndSafe pins the properties the data depends on.
func TestIdempotentAndSafe(t *testing.T) {
	script := payload(t, environments["prod"])["bootstrap.sh"]
	for _, want := range []string{
		"set -euo pipefail",
		"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID//-/}",
		`fstype=$(blkid -p -o value -s TYPE "$DEVICE") || rc=$?`, // format only when blkid finds nothing (exit 2)
		`if [ -f "$PGDATA/PG_VERSION" ]; then`,                   // never initdb over a cluster
		"refusing to initialise over it",
		`grep -qxF "include 'tsa.conf'" "$conf" ||`, // one include line however often it runs
		"timescaledb-tune --quiet --yes",
		"hostssl   all      all  $CLIENT_CIDR     scram-sha-256",
		"ssl = on",
		"listen_addresses = 'localhost,$PRIVATE_IP'",
		"apt-mark hold",
		"https://packagecloud.io/timescale/timescaledb/ubuntu/",
		"https://apt.postgresql.org/pub/repos/apt",
		"cfn_signal SUCCESS",
		"/var/lib/cloud/scripts/per-boot/",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if n := strings.Count(script, "mkfs."); n != 1 {
		t.Errorf("want exactly one mkfs call (guarded by the blkid probe), found %d", n)
	}
	if strings.Contains(script, "\nhost ") || strings.Contains(script, "md5") || strings.Contains(script, " trust") {
		t.Errorf("pg_hba.conf must accept only hostssl with scram-sha-256")
	}
	// An empty volume while the archive holds backups means the volume was
	// replaced: the host refuses to start an empty database over it.
	init := function(t, script, "init_cluster")
	before(t, init, `if [ -f "$PGDATA/PG_VERSION" ]`, `if [ -n "$RESTORE_TARGET" ]`, `tsa-pitr.sh" restore "$RESTORE_TARGET"`,
		`if [ "$backups" -gt 0 ]`, "return 1", "initdb")
}

// TestReadyMeansReady: CloudFormation hears SUCCESS only after the host has
// the volume, PostgreSQL accepts writes on it, a client logs in over TLS with
// the secret's credentials, and WAL reaches the archive.
func TestReadyMeansReady(t *testing.T) {
	script := payload(t, environments["dev"])["bootstrap.sh"]
	main := function(t, script, "main")
	before(t, main, "install_packages", "configure_pgbackrest", "preflight", "take_volume", "mount_volume", "init_cluster",
		"ensure_tls", "write_config", "start_postgres", "wait_writable", "apply_credentials", "publish_ca", "start_archiving", "cfn_signal SUCCESS")
	if n := strings.Count(script, "cfn_signal SUCCESS"); n != 1 {
		t.Errorf("SUCCESS must be signalled exactly once, at the end of main; found %d", n)
	}
	creds := function(t, script, "apply_credentials")
	before(t, creds, "ALTER ROLE", "CREATEROLE", "update_extension", "PGSSLMODE=verify-full PGSSLROOTCERT=$TLS_DIR/ca.crt",
		`"host=$DNS_NAME hostaddr=$PRIVATE_IP port=$DB_PORT dbname=$DB_NAME user=$user"`, `!= "$TIMESCALE_VERSION"`, "return 1")
	archiving := function(t, script, "start_archiving")
	before(t, archiving, "stanza-create", `pgbackrest --stanza="$STANZA" check`, "tsa-backup-full.timer tsa-backup-diff.timer tsa-metrics.timer")
	wait := function(t, script, "wait_writable")
	before(t, wait, "SELECT pg_is_in_recovery()", `[ "$state" = f ] && return 0`, "NRestarts", "return 1")
}

// TestHandover: the replacement stops the instance holding the volume (a
// clean PostgreSQL shutdown) before taking it, and on any failure after that
// gives it back and starts the old instance before signalling FAILURE.
func TestHandover(t *testing.T) {
	script := payload(t, environments["dev"])["bootstrap.sh"]
	take := function(t, script, "take_volume")
	before(t, take, "aws ec2 stop-instances", "aws ec2 wait instance-stopped", "aws ec2 detach-volume", "aws ec2 wait volume-available", "aws ec2 attach-volume")
	back := function(t, script, "hand_back")
	before(t, back, `systemctl stop`, `umount "$MOUNT"`, "aws ec2 detach-volume", "aws ec2 wait volume-available", "aws ec2 start-instances")
	before(t, function(t, script, "on_exit"), "hand_back", "cfn_signal FAILURE")
	pre := function(t, script, "preflight")
	before(t, pre, "attach-volume --dry-run", "stop-instances --dry-run", "get-secret-value", "archive_backups")
	before(t, function(t, script, "main"), "preflight", "take_volume")
}

// TestExtensionUpdateBeforeCreate: ALTER EXTENSION ... UPDATE runs first, in
// a session of its own; CREATE EXTENSION only when there is none to update.
func TestExtensionUpdateBeforeCreate(t *testing.T) {
	update := function(t, payload(t, environments["dev"])["bootstrap.sh"], "update_extension")
	before(t, update, `psql_admin -d "$DB_NAME" -c 'ALTER EXTENSION timescaledb UPDATE'`, "*'does not exist'*)", `psql_admin -d "$DB_NAME" -c 'CREATE EXTENSION timescaledb'`)
	if strings.Count(update, "CREATE EXTENSION") != 1 || strings.Contains(update, "IF NOT EXISTS") {
		t.Errorf("CREATE EXTENSION only in the does-not-exist branch:\n%s", update)
	}
}

// TestVersionsPinned: PostgreSQL's minor, TimescaleDB, timescaledb-tools,
// pgBackRest and the CloudWatch agent are exact versions, installed as such
// and held.
func TestVersionsPinned(t *testing.T) {
	b := environments["dev"]
	ud := render(t, b)
	for _, want := range []string{"PG_MAJOR='17'", "PG_MINOR='9'", "TIMESCALE_VERSION='2.22.1'",
		"TIMESCALE_TOOLS_VERSION='" + DefaultTimescaleToolsVersion + "'", "PGBACKREST_VERSION='" + DefaultPgBackRestVersion + "'",
		"CW_AGENT_VERSION='" + DefaultCloudWatchAgentVersion + "'"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %s", want)
		}
	}
	install := function(t, payload(t, b)["bootstrap.sh"], "install_packages")
	for _, want := range []string{
		`pinned "postgresql-$PG_MAJOR" "$PG_MAJOR.$PG_MINOR"`, `pinned "postgresql-client-$PG_MAJOR" "$PG_MAJOR.$PG_MINOR"`,
		`pinned "$ts_pkg" "$TIMESCALE_VERSION"`, `pinned timescaledb-tools "$TIMESCALE_TOOLS_VERSION"`, `pinned pgbackrest "$PGBACKREST_VERSION"`,
		"apt-archive.postgresql.org", `apt_get install --no-install-recommends --allow-downgrades "${pins[@]}"`, `apt-mark hold "${names[@]}"`,
	} {
		if !strings.Contains(install, want) {
			t.Errorf("install_packages lacks %s", want)
		}
	}
	if !strings.Contains(install, `"timescaledb-tools=$(pinned timescaledb-tools "$TIMESCALE_TOOLS_VERSION")"`) {
		t.Errorf("timescaledb-tools must be installed at its pinned version")
	}
	for _, line := range strings.Split(install, "\n") {
		if strings.Contains(line, "apt_get install") && !strings.Contains(line, `"${pins[@]}"`) &&
			strings.TrimSpace(line) != "apt_get install --no-install-recommends ca-certificates curl gnupg jq postgresql-common" {
			t.Errorf("unpinned install: %s", line)
		}
	}
	b.CloudWatchAgentVersion = "latest"
	if _, err := Render(b); err == nil {
		t.Errorf("the CloudWatch agent must be a pinned release, not latest")
	}
}

// TestArchiving: WAL leaves at least every minute, backups follow the
// configured schedule and the retention the configured window.
func TestArchiving(t *testing.T) {
	b := environments["prod"]
	files := payload(t, b)
	archive := files["archive.conf"]
	for _, want := range []string{"archive_mode = on", "archive_timeout = 60", "wal_level = replica",
		"archive_command = 'pgbackrest --stanza=" + Stanza + " archive-push %p'"} {
		if !strings.Contains(archive, want) {
			t.Errorf("archive.conf lacks %q", want)
		}
	}
	if !strings.Contains(files["bootstrap.sh"], `cat "$LIB/archive.conf"`) {
		t.Errorf("the bootstrap must write archive.conf into the cluster's tsa.conf")
	}
	conf, err := PgBackRestConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repo1-type=s3", "repo1-path=/" + RepoPath, "repo1-s3-bucket=" + b.ArchiveBucket, "repo1-s3-region=eu-west-1",
		"repo1-s3-endpoint=s3.eu-west-1.amazonaws.com", "repo1-s3-key-type=auto", "repo1-retention-full-type=time", "repo1-retention-full=14",
		"[" + Stanza + "]", "pg1-path=" + MountPoint + "/data", "pg1-port=5432"} {
		if !strings.Contains(conf, want+"\n") {
			t.Errorf("pgbackrest.conf lacks %q:\n%s", want, conf)
		}
	}
	if !strings.Contains(render(t, b), stripComments(conf)) {
		t.Errorf("the user data must install exactly the rendered pgbackrest.conf")
	}
	want := map[string]string{
		"systemd/tsa-backup-full.timer": "OnCalendar=Sat *-*-* 23:00:00 UTC\nPersistent=true\nUnit=tsa-backup@full.service",
		"systemd/tsa-backup-diff.timer": "OnCalendar=Mon,Tue,Wed,Thu,Fri,Sun *-*-* 23:00:00 UTC\nPersistent=true\nUnit=tsa-backup@diff.service",
		"systemd/tsa-backup@.service":   "ExecStart=" + LibDir + "/tsa-pitr.sh backup %i",
		"systemd/tsa-metrics.timer":     "OnUnitActiveSec=1min",
		"systemd/tsa-metrics.service":   "ExecStart=" + LibDir + "/tsa-pitr.sh metrics",
	}
	for name, text := range want {
		if !strings.Contains(files[name], text) {
			t.Errorf("%s lacks %q:\n%s", name, text, files[name])
		}
	}
	pitr := files["tsa-pitr.sh"]
	for _, want := range []string{"--type=time --target=\"$target\" --target-action=promote restore", "--type=\"$1\" backup",
		"MetricName=" + PostgresUpMetric, "MetricName=" + ArchiveLagMetric, "MetricName=" + BackupAgeMetric, "Name=" + EndpointDimension} {
		if !strings.Contains(pitr, want) {
			t.Errorf("tsa-pitr.sh lacks %q", want)
		}
	}
	if !strings.Contains(render(t, b), "METRICS_NAMESPACE='"+MetricsNamespace+"'") {
		t.Errorf("the host publishes to %s", MetricsNamespace)
	}
}

// TestRestoreMode: a restore target reaches the host, changes the host's
// fingerprint (a new instance restores), and is in pgBackRest's format.
func TestRestoreMode(t *testing.T) {
	got, err := RestoreTargetOf("2026-11-28T10:30:00+01:00")
	if err != nil || got != "2026-11-28 09:30:00+00" {
		t.Errorf("RestoreTargetOf: %q, %v", got, err)
	}
	if _, err := RestoreTargetOf("yesterday"); err == nil {
		t.Errorf("RestoreTargetOf accepted a non-time")
	}
	b := environments["dev"]
	plain, _ := Fingerprint(b)
	b.RestoreTarget = "2026-11-28 09:30:00+00"
	if !strings.Contains(render(t, b), "RESTORE_TARGET='2026-11-28 09:30:00+00'") {
		t.Errorf("the user data must carry the restore target")
	}
	if restored, _ := Fingerprint(b); restored == plain {
		t.Errorf("a restore must replace the host")
	}
}

func TestRenderSubstitutesEveryValue(t *testing.T) {
	b := environments["prod"]
	script := render(t, b)
	for _, v := range []string{b.VolumeID, b.SecretArn, b.ArchiveBucket, b.DatabaseName, b.ClientCidr, b.DNSName, b.AgentConfigParameter,
		b.CloudWatchAgentVersion, b.StackName, b.LogicalID, b.RestoreTarget, "'17'", "'9'", "'5432'", "AWS_REGION='eu-west-1'"} {
		if !strings.Contains(script, v) {
			t.Errorf("rendered script lacks %q", v)
		}
	}
	for name, text := range payload(t, b) {
		if strings.Contains(text, "{{") || strings.Contains(text, "}}") {
			t.Errorf("unrendered template action left in %s", name)
		}
	}
	if strings.Contains(script, "{{") || strings.Contains(script, "}}") {
		t.Errorf("unrendered template action left in the user data")
	}
	if dev := render(t, environments["dev"]); !strings.Contains(dev, "CW_AGENT_VERSION='"+DefaultCloudWatchAgentVersion+"'") {
		t.Errorf("the CloudWatch agent version defaults to the pinned release")
	}
}

func TestRenderAcceptsTokens(t *testing.T) {
	b := environments["dev"]
	b.VolumeID = "${Token[TOKEN.612]}"
	b.SecretArn = "${Token[TOKEN.640]}"
	b.ArchiveBucket = "${Token[TOKEN.641]}"
	b.Region = "${Token[AWS.Region.9]}"
	b.URLSuffix = "${Token[AWS.URLSuffix.10]}"
	b.ClientCidr = "${Token[TOKEN.212]}"
	b.AgentConfigParameter = "${Token[TOKEN.655]}"
	script := render(t, b)
	for _, want := range []string{"VOLUME_ID='${Token[TOKEN.612]}'", "repo1-s3-bucket=${Token[TOKEN.641]}", "repo1-s3-endpoint=s3.${Token[AWS.Region.9]}.${Token[AWS.URLSuffix.10]}"} {
		if !strings.Contains(script, want) {
			t.Errorf("token not rendered verbatim: %s", want)
		}
	}
}

func TestRenderRejectsUnsafeValues(t *testing.T) {
	cases := map[string]func(*Bootstrap){
		"quote in database":    func(b *Bootstrap) { b.DatabaseName = "tsa'; rm -rf /" },
		"newline in parameter": func(b *Bootstrap) { b.AgentConfigParameter = "cfg\nset -x" },
		"quote in secret":      func(b *Bootstrap) { b.SecretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x'y" },
		"fake token":           func(b *Bootstrap) { b.VolumeID = "${Token[x]}'; reboot; '" },
		"newline in bucket":    func(b *Bootstrap) { b.ArchiveBucket = "bucket\nrepo1-s3-key-type=shared" },
		"unpinned timescale":   func(b *Bootstrap) { b.TimescaleVersion = "2.22" },
		"timescale 1.x":        func(b *Bootstrap) { b.TimescaleVersion = "1.7.5" },
		"old postgres":         func(b *Bootstrap) { b.PostgresMajor = 12 },
		"privileged port":      func(b *Bootstrap) { b.Port = 22 },
		"open cidr":            func(b *Bootstrap) { b.ClientCidr = "0.0.0.0/0" },
		"host bits in cidr":    func(b *Bootstrap) { b.ClientCidr = "10.10.1.0/16" },
		"upper-case dns":       func(b *Bootstrap) { b.DNSName = "DB.internal" },
		"agent version inject": func(b *Bootstrap) { b.CloudWatchAgentVersion = "latest/../../x" },
		"pgbackrest floating":  func(b *Bootstrap) { b.PgBackRestVersion = "latest" },
		"tools inject":         func(b *Bootstrap) { b.TimescaleToolsVersion = "0.19.0'" },
		"restore RFC 3339":     func(b *Bootstrap) { b.RestoreTarget = "2026-11-28T09:30:00Z" },
		"restore injection":    func(b *Bootstrap) { b.RestoreTarget = "2026-11-28 09:30:00+00'; reboot" },
		"weekday":              func(b *Bootstrap) { b.Pitr.FullBackupWeekday = "Sunday" },
		"hour":                 func(b *Bootstrap) { b.Pitr.BackupHourUtc = 24 },
		"no retention":         func(b *Bootstrap) { b.Pitr.RetentionDays = 0 },
		"endpoint suffix":      func(b *Bootstrap) { b.URLSuffix = "example.com" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := environments["dev"]
			mutate(&b)
			if _, err := Render(b); err == nil {
				t.Errorf("Render accepted %+v", b)
			}
		})
	}
}

func TestRenderFitsUserData(t *testing.T) {
	for env, b := range environments {
		if n := len(render(t, b)); n > MaxUserDataBytes-tokenHeadroom {
			t.Errorf("%s: %d bytes", env, n)
		}
	}
}

// TestPayloadIsWhatShips: the base64 block of the user data unpacks to
// exactly the payload files, with their modes, and renders reproducibly.
func TestPayloadIsWhatShips(t *testing.T) {
	b := environments["prod"]
	script := render(t, b)
	if script != render(t, b) {
		t.Fatalf("two renderings differ: the fingerprint would change at every synth")
	}
	_, block, ok := strings.Cut(script, `base64 -d >"$LIB/payload.tar.gz" <<'EOF'`+"\n")
	block, _, ok2 := strings.Cut(block, "EOF\n")
	if !ok || !ok2 {
		t.Fatalf("no payload block in the user data")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(block, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, _ := io.ReadAll(tr)
		got[hdr.Name] = string(data)
		if strings.HasSuffix(hdr.Name, ".sh") != (hdr.Mode == 0o755) {
			t.Errorf("%s has mode %o", hdr.Name, hdr.Mode)
		}
	}
	want := payload(t, b)
	if len(got) != len(want) {
		t.Errorf("payload has %d files, want %d", len(got), len(want))
	}
	for name, content := range want {
		if got[name] != content {
			t.Errorf("%s differs in the user data", name)
		}
	}
	for _, name := range []string{"bootstrap.sh", "tsa-pitr.sh", "archive.conf", "systemd/tsa-backup-full.timer"} {
		if _, ok := got[name]; !ok {
			t.Errorf("payload lacks %s", name)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(script), `exec "$LIB/bootstrap.sh"`) {
		t.Errorf("the user data must end by running the bootstrap")
	}
}

func TestAgentConfig(t *testing.T) {
	raw := AgentConfig("${Token[TOKEN.99]}")
	var cfg struct {
		Metrics struct {
			Namespace            string            `json:"namespace"`
			AppendDimensions     map[string]string `json:"append_dimensions"`
			AggregationDimension [][]string        `json:"aggregation_dimensions"`
			MetricsCollected     struct {
				Disk struct {
					Resources []string `json:"resources"`
				} `json:"disk"`
			} `json:"metrics_collected"`
		} `json:"metrics"`
		Logs struct {
			LogsCollected struct {
				Files struct {
					CollectList []map[string]string `json:"collect_list"`
				} `json:"files"`
			} `json:"logs_collected"`
		} `json:"logs"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("agent config is not JSON: %v\n%s", err, raw)
	}
	if cfg.Metrics.Namespace != AgentNamespace || cfg.Metrics.AppendDimensions["InstanceId"] != "${aws:InstanceId}" {
		t.Errorf("metrics must carry the instance ID in %s: %+v", AgentNamespace, cfg.Metrics)
	}
	if fmt.Sprint(cfg.Metrics.AggregationDimension) != "[[InstanceId path]]" || fmt.Sprint(cfg.Metrics.MetricsCollected.Disk.Resources) != "["+MountPoint+"]" {
		t.Errorf("the disk alarm needs disk_used_percent of %s by InstanceId and path: %+v", MountPoint, cfg.Metrics)
	}
	files := cfg.Logs.LogsCollected.Files.CollectList
	if len(files) != 3 || files[0]["log_group_name"] != "${Token[TOKEN.99]}" || !strings.HasPrefix(files[0]["file_path"], "/var/log/postgresql/") {
		t.Errorf("PostgreSQL logs must go to the log group: %+v", files)
	}
	if len(files) == 3 && files[2]["file_path"] != PgBackRestLogs {
		t.Errorf("pgBackRest's logs must go to the log group: %+v", files)
	}
}

func TestStripComments(t *testing.T) {
	in := "#!/bin/bash\n# note\n#\nset -e\n  # indented note\n  # shellcheck disable=SC2016\n  echo '# not a comment line'\n#no-space stays\n"
	want := "#!/bin/bash\nset -e\n  # shellcheck disable=SC2016\n  echo '# not a comment line'\n#no-space stays\n"
	if got := stripComments(in); got != want {
		t.Errorf("stripComments:\n%s\nwant:\n%s", got, want)
	}
}

func TestFingerprintIgnoresTokenNumbering(t *testing.T) {
	a, b := environments["dev"], environments["dev"]
	a.VolumeID, a.SecretArn, a.ArchiveBucket = "${Token[TOKEN.10]}", "${Token[TOKEN.11]}", "${Token[TOKEN.12]}"
	b.VolumeID, b.SecretArn, b.ArchiveBucket = "${Token[TOKEN.310]}", "${Token[TOKEN.311]}", "${Token[TOKEN.312]}"
	fa, err := Fingerprint(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := Fingerprint(b)
	if fa != fb || len(fa) != 8 {
		t.Errorf("token numbering changed the fingerprint: %s vs %s", fa, fb)
	}
	b.LogicalID = "TimescaleInstanceOther"
	if fl, _ := Fingerprint(b); fl != fa {
		t.Errorf("the logical ID (which ends in the fingerprint) must not change the fingerprint")
	}
	for name, change := range map[string]func(*Bootstrap){
		"TimescaleDB version": func(b *Bootstrap) { b.TimescaleVersion = "2.22.0" },
		"PostgreSQL minor":    func(b *Bootstrap) { b.PostgresMinor = 10 },
		"PITR window":         func(b *Bootstrap) { b.Pitr.RetentionDays = 8 },
		"backup schedule":     func(b *Bootstrap) { b.Pitr.BackupHourUtc = 3 },
	} {
		c := a
		change(&c)
		if fc, _ := Fingerprint(c); fc == fa {
			t.Errorf("a new %s must change the fingerprint", name)
		}
	}
}

// TestServerCertificateAuthority runs the host's ensure_tls with the real
// openssl: it creates a CA once (kept on the data volume) and a server
// certificate that Go's verifier (what the API runs with verify-full)
// accepts for the DNS name; a second run keeps both, and a certificate not
// signed by the CA (the self-signed one of earlier versions) is replaced
// while the CA stays.
func TestServerCertificateAuthority(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	b := environments["dev"]
	fn := function(t, payload(t, b)["bootstrap.sh"], "ensure_tls")
	dir := t.TempDir()
	run := func() {
		t.Helper()
		script := "set -euo pipefail\nlog() { :; }\ninstall() { mkdir -p \"${@: -1}\"; }\nchown() { :; }\n" +
			"TLS_DIR=" + dir + "\nDNS_NAME=" + b.DNSName + "\n" + fn + "\nensure_tls\n"
		if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("ensure_tls: %v\n%s", err, out)
		}
	}
	read := func(name string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	verify := func() {
		t.Helper()
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(read("ca.crt")) {
			t.Fatal("ca.crt holds no certificate")
		}
		block, _ := pem.Decode(read("server.crt"))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: b.DNSName}); err != nil {
			t.Errorf("the server certificate does not verify for %s: %v", b.DNSName, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.internal"}); err == nil {
			t.Error("the server certificate verifies for a name it must not carry")
		}
		if info, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("ca.key mode %v (%v), want 0600", info.Mode().Perm(), err)
		}
	}
	run()
	verify()
	ca, crt := read("ca.crt"), read("server.crt")
	run()
	if !bytes.Equal(ca, read("ca.crt")) || !bytes.Equal(crt, read("server.crt")) {
		t.Error("a second run replaced a valid CA or certificate")
	}
	// The self-signed certificate an earlier version created.
	self := exec.Command("openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		"-days", "30", "-subj", "/CN="+b.DNSName, "-addext", "subjectAltName=DNS:"+b.DNSName,
		"-keyout", filepath.Join(dir, "server.key"), "-out", filepath.Join(dir, "server.crt"))
	if out, err := self.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	run()
	verify()
	if !bytes.Equal(ca, read("ca.crt")) {
		t.Error("replacing the server certificate must keep the CA (clients trust it)")
	}
}
