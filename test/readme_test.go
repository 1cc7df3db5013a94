package test

import (
	"os"
	"path/filepath"
	"reflect"
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
