package timescaledb

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
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
		TimescaleVersion:     "2.22.1",
		VolumeID:             "vol-0123456789abcdef0",
		SecretArn:            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:TimescaleSecret-AbCdEf",
		DatabaseName:         "tsa",
		Port:                 5432,
		ClientCidr:           "10.10.0.0/16",
		DNSName:              "timescaledb.tsa-dev.internal",
		AgentConfigParameter: "/tsa/dev/timescaledb/cloudwatch-agent",
		StackName:            "tsa-dev-data",
		LogicalID:            "TimescaleInstanceBEC3D0CA6018CACC",
	},
	"prod": {
		PostgresMajor:          17,
		TimescaleVersion:       "2.22.1",
		VolumeID:               "vol-0fedcba9876543210",
		SecretArn:              "arn:aws:secretsmanager:eu-west-1:210987654321:secret:TimescaleSecret-ZyXwVu",
		DatabaseName:           "tsa",
		Port:                   5432,
		ClientCidr:             "10.20.0.0/16",
		DNSName:                "timescaledb.tsa-prod.internal",
		AgentConfigParameter:   "CFN-TimescaleAgentConfig-1A2B3C4D5E6F",
		CloudWatchAgentVersion: "1.300064.1b1344",
		StackName:              "tsa-prod-data",
		LogicalID:              "TimescaleInstanceBEC3D0CA12345678",
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

// writeScripts lets .ci/run shellcheck exactly the renderings tested here:
// go test ./constructs/timescaledb -run TestBootScriptIsValidBash -args -write-scripts DIR
var writeScripts = flag.String("write-scripts", "", "also write each environment's rendered boot script to this directory (for shellcheck in .ci/run)")

// TestBootScriptIsValidBash parses every environment's rendering as bash
// (mvdan.cc/sh, no binary needed) and checks what would break the boot under
// `set -euo pipefail` or hide a problem. shellcheck runs on the same
// renderings in .ci/run.
func TestBootScriptIsValidBash(t *testing.T) {
	for env, b := range environments {
		t.Run(env, func(t *testing.T) {
			script := render(t, b)
			if *writeScripts != "" {
				if err := os.WriteFile(filepath.Join(*writeScripts, "bootstrap-"+env+".sh"), []byte(script), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for _, problem := range bashProblems(t, script) {
				t.Errorf("%s rendering: %s", env, problem)
			}
		})
	}
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
	clean := "#!/bin/bash\nset -euo pipefail\nf() { local a=$1; echo \"$a\" \"$#\" $?; }\nfor i in $(seq 1 3); do f \"$i\"; done\n" +
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
func bashProblems(t *testing.T, script string) []string {
	t.Helper()
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true)).Parse(strings.NewReader(script), "bootstrap.sh")
	if err != nil {
		return []string{"bash syntax: " + err.Error()}
	}
	var problems []string
	assigned := map[string]bool{"PATH": true} // set by the environment
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
			if n.Param != nil && syntax.ValidName(n.Param.Value) {
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

// TestNoSecretMaterial: the script names the secret and reads it at run time;
// nothing that looks like a credential is rendered into it.
func TestNoSecretMaterial(t *testing.T) {
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`PGPASSWORD`),
		regexp.MustCompile(`(?i)password[ \t]*=[ \t]*['"]?[^'"\s$]`),     // password=literal
		regexp.MustCompile(`(?i)PASSWORD\s+'[^']*'`),                     // ALTER ROLE ... PASSWORD 'literal'
		regexp.MustCompile(`(?i)--password|--secret-string`),             // passwords on a command line
		regexp.MustCompile(`(?i)put-secret-value|update-secret\b`),       // the host never writes the secret
		regexp.MustCompile(`(?i)set\s+-x|set\s+-o\s+xtrace|bash\s+-x\b`), // tracing would log the password
		regexp.MustCompile(`AKIA[0-9A-Z]{16}`),                           // access keys
		regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	}
	for env, b := range environments {
		t.Run(env, func(t *testing.T) {
			script := render(t, b)
			if !strings.Contains(script, "readonly SECRET_ID='"+b.SecretArn+"'") {
				t.Errorf("the script must name the secret by its ARN")
			}
			if !strings.Contains(script, `aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ID" --query SecretString`) {
				t.Errorf("the script must read the credentials from Secrets Manager at run time")
			}
			for _, re := range forbidden {
				if loc := re.FindStringIndex(script); loc != nil {
					t.Errorf("secret material pattern %s matches %q", re, script[max(0, loc[0]-40):min(len(script), loc[1]+40)])
				}
			}
			// The password travels only through psql's environment.
			if !strings.Contains(script, `\getenv db_password TSA_DB_PASSWORD`) || !strings.Contains(script, `PASSWORD :'db_password'`) {
				t.Errorf("the password must reach psql through \\getenv and a quoted psql variable")
			}
		})
	}
}

// TestIdempotentAndSafe pins the properties the data depends on.
func TestIdempotentAndSafe(t *testing.T) {
	script := render(t, environments["prod"])
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
		"readonly TIMESCALE_VERSION='2.22.1'",
		`"$ts_pkg=$ts_version" "$ts_loader=$loader_version"`,
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
}

func TestRenderSubstitutesEveryValue(t *testing.T) {
	b := environments["prod"]
	script := render(t, b)
	for _, v := range []string{b.VolumeID, b.SecretArn, b.DatabaseName, b.ClientCidr, b.DNSName, b.AgentConfigParameter, b.CloudWatchAgentVersion, b.StackName, b.LogicalID, "'17'", "'5432'"} {
		if !strings.Contains(script, v) {
			t.Errorf("rendered script lacks %q", v)
		}
	}
	if strings.Contains(script, "{{") || strings.Contains(script, "}}") {
		t.Errorf("unrendered template action left in the script")
	}
	if dev := render(t, environments["dev"]); !strings.Contains(dev, "readonly CW_AGENT_VERSION='latest'") {
		t.Errorf("the CloudWatch agent version defaults to latest")
	}
}

func TestRenderAcceptsTokens(t *testing.T) {
	b := environments["dev"]
	b.VolumeID = "${Token[TOKEN.612]}"
	b.SecretArn = "${Token[TOKEN.640]}"
	b.ClientCidr = "${Token[TOKEN.212]}"
	b.AgentConfigParameter = "${Token[TOKEN.655]}"
	script := render(t, b)
	if !strings.Contains(script, "readonly VOLUME_ID='${Token[TOKEN.612]}'") {
		t.Errorf("token not rendered verbatim")
	}
}

func TestRenderRejectsUnsafeValues(t *testing.T) {
	cases := map[string]func(*Bootstrap){
		"quote in database":    func(b *Bootstrap) { b.DatabaseName = "tsa'; rm -rf /" },
		"newline in parameter": func(b *Bootstrap) { b.AgentConfigParameter = "cfg\nset -x" },
		"quote in secret":      func(b *Bootstrap) { b.SecretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x'y" },
		"fake token":           func(b *Bootstrap) { b.VolumeID = "${Token[x]}'; reboot; '" },
		"unpinned timescale":   func(b *Bootstrap) { b.TimescaleVersion = "2.22" },
		"timescale 1.x":        func(b *Bootstrap) { b.TimescaleVersion = "1.7.5" },
		"old postgres":         func(b *Bootstrap) { b.PostgresMajor = 12 },
		"privileged port":      func(b *Bootstrap) { b.Port = 22 },
		"open cidr":            func(b *Bootstrap) { b.ClientCidr = "0.0.0.0/0" },
		"host bits in cidr":    func(b *Bootstrap) { b.ClientCidr = "10.10.1.0/16" },
		"upper-case dns":       func(b *Bootstrap) { b.DNSName = "DB.internal" },
		"agent version inject": func(b *Bootstrap) { b.CloudWatchAgentVersion = "latest/../../x" },
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
	if len(files) != 2 || files[0]["log_group_name"] != "${Token[TOKEN.99]}" || !strings.HasPrefix(files[0]["file_path"], "/var/log/postgresql/") {
		t.Errorf("PostgreSQL logs must go to the log group: %+v", files)
	}
}

func TestStripComments(t *testing.T) {
	in := "#!/bin/bash\n# note\nset -e\n  # indented note\n  # shellcheck disable=SC2016\n  echo '# not a comment line'\n#no-space stays\n"
	want := "#!/bin/bash\nset -e\n  # shellcheck disable=SC2016\n  echo '# not a comment line'\n#no-space stays\n"
	if got := stripComments(in); got != want {
		t.Errorf("stripComments:\n%s\nwant:\n%s", got, want)
	}
}

func TestFingerprintIgnoresTokenNumbering(t *testing.T) {
	a, b := environments["dev"], environments["dev"]
	a.VolumeID, a.SecretArn = "${Token[TOKEN.10]}", "${Token[TOKEN.11]}"
	b.VolumeID, b.SecretArn = "${Token[TOKEN.310]}", "${Token[TOKEN.311]}"
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
	b.TimescaleVersion = "2.22.0"
	if fc, _ := Fingerprint(b); fc == fa {
		t.Errorf("a new TimescaleDB version must change the fingerprint")
	}
}
