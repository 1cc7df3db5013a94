package config

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite "+SchemaFile+" from the Go types")

// TestSchemaIsCurrent: the checked-in schema is what the Go types generate.
func TestSchemaIsCurrent(t *testing.T) {
	want, err := Schema()
	require.NoError(t, err)
	path := filepath.Join(root, SchemaFile)
	if *update {
		require.NoError(t, os.WriteFile(path, want, 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "%s is stale: go test ./config -run TestSchema -update", SchemaFile)
}

// TestSchemaChecksCdkJSON: cdk.json passes the schema, and the mistakes an
// editor should flag do not.
func TestSchemaChecksCdkJSON(t *testing.T) {
	data, err := Schema()
	require.NoError(t, err)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(data, &schema))

	assert.Empty(t, schemaErrors(schema, schema, cdkFile(t), ""), "cdk.json passes its schema")
	for name, patch := range map[string]string{
		"misspelt setting":  `{"database":{"instanceclass":"db.t4g.micro"}}`,
		"unknown region":    `{"region":"eu-west-9"}`,
		"unknown class":     `{"database":{"instanceClass":"db.m9g.large"}}`,
		"string for number": `{"backend":{"cpu":"256"}}`,
		"subnets too small": `{"network":{"subnetCidrMask":28}}`,
		"unknown zone":      `{"availabilityZones":["eu-west-1a","eu-west-1d"]}`,
	} {
		file := cdkFile(t)
		editEnv(t, file["context"].(map[string]any), "dev", patch)
		assert.NotEmpty(t, schemaErrors(schema, schema, file, ""), name)
	}
}

// schemaErrors checks v against the parts of JSON Schema that Schema uses.
func schemaErrors(root, s map[string]any, v any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		def := root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")]
		return schemaErrors(root, def.(map[string]any), v, path)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	switch s["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			fail("not an object")
			return errs
		}
		props, _ := s["properties"].(map[string]any)
		for k, e := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, schemaErrors(root, ps, e, path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("unknown property %q", k)
				}
			case map[string]any:
				errs = append(errs, schemaErrors(root, ap, e, path+"."+k)...)
			}
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				errs = append(errs, schemaErrors(root, merged(pn, "type", "string"), k, path+"."+k+"(name)")...)
			}
		}
		if n, ok := s["minProperties"].(float64); ok && float64(len(obj)) < n {
			fail("fewer than %v properties", n)
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			fail("not an array")
			return errs
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range list {
				errs = append(errs, schemaErrors(root, items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("not a string")
			return errs
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
		if n, ok := s["maxLength"].(float64); ok && float64(utf8.RuneCountInString(str)) > n {
			fail("longer than %v", n)
		}
	case "integer", "number":
		n, ok := v.(float64)
		if !ok || (s["type"] == "integer" && n != float64(int64(n))) {
			fail("not an %s", s["type"])
			return errs
		}
		if lo, ok := s["minimum"].(float64); ok && n < lo {
			fail("%v below %v", n, lo)
		}
		if hi, ok := s["maximum"].(float64); ok && n > hi {
			fail("%v above %v", n, hi)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("not a boolean")
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%v is not one of the %d accepted values", v, len(enum))
	}
	return errs
}

func merged(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}
