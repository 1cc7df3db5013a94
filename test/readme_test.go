package test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// TestDocumentedOutputsExist: every stack output the README and the runbook
// query (OutputKey=='Name' in an aws command) exists in that stack.
func TestDocumentedOutputsExist(t *testing.T) {
	// aws cloudformation describe-stacks --stack-name tsa-ENV-PART [\ newline] --query "...OutputKey=='KEY'..."
	query := regexp.MustCompile(`--stack-name tsa-[a-z0-9]+-([a-z]+)\s*(?:\\\s*)?--query "Stacks\[0\]\.Outputs\[\?OutputKey=='([A-Za-z0-9]+)'`)
	// the runbook's helper: out PART KEY
	helper := regexp.MustCompile(`\bout (network|data|compute|frontend) ([A-Za-z0-9]+)`)
	for _, doc := range []string{"README.md", "docs/runbook.md"} {
		data, err := os.ReadFile(filepath.Join(root, doc))
		require.NoError(t, err)
		matches := append(query.FindAllStringSubmatch(string(data), -1), helper.FindAllStringSubmatch(string(data), -1)...)
		assert.NotEmpty(t, matches, "%s queries no stack outputs", doc)
		for _, mt := range matches {
			part, key := mt[1], mt[2]
			var found bool
			// An output may belong to one data tier only (DatabaseVolumeId).
			for _, s := range []*synth{envs["prod"], timescaleSynth(t, "prod"), externalSynth(t, "prod")} {
				outputs, _ := s.raw[part]["Outputs"].(map[string]any)
				_, ok := outputs[key]
				found = found || ok
			}
			assert.True(t, found, "%s queries output %s of the %s stack, which does not exist", doc, key, part)
		}
	}
}
