package test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tsa-platform/infra/config"
	"github.com/tsa-platform/infra/stacks"
)

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReadmePinsTheCLI keeps the documented commands on the tested CLI version.
func TestReadmePinsTheCLI(t *testing.T) {
	text := readme(t)
	assert.True(t, strings.Contains(text, CDKCLI+" synth"), "README's set-up synthesizes with %s", CDKCLI)
	assert.NotContains(t, strings.ReplaceAll(text, CDKCLI, ""), "aws-cdk@", "every CLI call in the README uses the pinned version")
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	assert.NoError(t, err)
	assert.Contains(t, string(ci), `CDK_CLI="`+CDKCLI+`"`, ".ci/run installs the same CLI")
	assert.Contains(t, string(ci), "\ngo test ./...\n", ".ci/run runs the README's test command")
	assert.Contains(t, text, "\ngo test ./...  ", "the README's test command")
}

// TestReadmeListsEverySuppression: the security section shows each cdk-nag
// exception with the reason the templates carry.
func TestReadmeListsEverySuppression(t *testing.T) {
	text := readme(t)
	for _, env := range []string{"dev", "prod"} {
		for _, s := range stacks.Suppressions(envs[env].cfg) {
			assert.True(t, strings.Contains(text, "| "+s.Rule+" | ") && strings.Contains(text, s.Reason),
				"README lacks the suppression %s on %s/%s with its reason", s.Rule, s.Stack, s.Path)
		}
	}
}

// TestReadmeDocumentsEverySetting: each configuration key has a row (or its
// section is referenced) in the configuration reference.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	text := readme(t)
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			name := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			key := prefix + name
			ft := typ.Field(i).Type
			if ft.Kind() == reflect.Struct {
				if !strings.Contains(text, "`"+key+".*`") {
					walk(key+".", ft)
				}
				continue
			}
			assert.True(t, strings.Contains(text, "`"+key+"`") || strings.Contains(text, "`"+key+"` /") || strings.Contains(text, " `"+name+"`"),
				"README's configuration reference lacks %s", key)
		}
	}
	walk("", reflect.TypeOf(config.Config{}))
}

// docSynths are the environments whose templates the docs may name: dev,
// prod, and prod with the other data tiers (DatabaseVolumeId exists only
// for timescaledb).
func docSynths(t *testing.T) []*synth {
	return []*synth{envs["dev"], envs["prod"], timescaleSynth(t, "prod"), externalSynth(t, "prod")}
}

// TestDocumentedOutputsExist: every stack output the README and the runbook
// read exists in that stack: `describe-stacks --stack-name tsa-ENV-PART
// --query "...OutputKey=='KEY'..."` and the runbook's `out PART KEY`,
// wherever they occur (pipes, $( ), functions), as docs_test.go parses them.
func TestDocumentedOutputsExist(t *testing.T) {
	stackPart := regexp.MustCompile(`^tsa-[^-]+-(network|data|compute|frontend)$`)
	outputKey := regexp.MustCompile(`OutputKey=='([A-Za-z0-9]+)'`)
	for _, d := range docsChecked(t)[:len(docFiles)] {
		var reads [][3]string // part, key, where
		for _, a := range d.aws {
			if !isOp(a, "cloudformation", "describe-stacks") {
				continue
			}
			name, query := option(a.Args, "--stack-name"), option(a.Args, "--query")
			if len(name) != 1 || len(query) != 1 {
				continue
			}
			part, key := stackPart.FindStringSubmatch(name[0].Text), outputKey.FindStringSubmatch(query[0].Text)
			if part != nil && key != nil {
				reads = append(reads, [3]string{part[1], key[1], fmt.Sprintf("%s:%d", d.name, a.call.line)})
			}
		}
		for _, c := range d.calls {
			if len(c.words) == 3 && c.words[0].Text == "out" && !c.words[1].Dynamic && !c.words[2].Dynamic {
				reads = append(reads, [3]string{c.words[1].Text, c.words[2].Text, fmt.Sprintf("%s:%d", d.name, c.line)})
			}
		}
		// Prose names an output as "out PART KEY" too.
		for _, mt := range regexp.MustCompile("`out (network|data|compute|frontend) ([A-Za-z0-9]+)`").FindAllStringSubmatch(d.text, -1) {
			reads = append(reads, [3]string{mt[1], mt[2], d.name + " (prose)"})
		}
		assert.NotEmpty(t, reads, "%s reads no stack outputs", d.name)
		for _, r := range reads {
			var found bool
			for _, s := range docSynths(t) {
				outputs, _ := s.raw[r[0]]["Outputs"].(map[string]any)
				_, ok := outputs[r[1]]
				found = found || ok
			}
			assert.True(t, found, "%s reads output %s of the %s stack, which does not exist", r[2], r[1], r[0])
		}
	}
}

// TestReadmeDestroyLeftovers: the README's list of what a dev destroy leaves
// states the KMS key's pending window the dev template sets.
func TestReadmeDestroyLeftovers(t *testing.T) {
	_, section, ok := strings.Cut(readme(t), "\n### What a dev destroy leaves\n")
	if !assert.True(t, ok, "README has a section on what a dev destroy leaves") {
		return
	}
	section, _, _ = strings.Cut(section, "\n### ")
	_, key := one(t, envs["dev"].raw["network"], "AWS::KMS::Key")
	assert.Equal(t, "Delete", key["DeletionPolicy"], "dev schedules its key for deletion")
	days, ok := props(key)["PendingWindowInDays"].(float64)
	if assert.True(t, ok, "dev's key has a pending window") {
		assert.Contains(t, section, fmt.Sprintf("pending deletion for %d days", int(days)))
	}
	assert.NotContains(t, readme(t), "leaves nothing billable behind")
}
