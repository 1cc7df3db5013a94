package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/regioninfo"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
)

// The value sets config/ checks against are checked in and dated; these
// tests fail when the sources they were taken from, in the versions this
// module pins, say otherwise.

// TestRegionsAreAwsCdkLibs: config's regions are aws-cdk-lib's region list,
// with its partitions.
func TestRegionsAreAwsCdkLibs(t *testing.T) {
	var names []string
	for _, r := range *regioninfo.RegionInfo_Regions() {
		names = append(names, *r.Name())
	}
	assert.ElementsMatch(t, names, config.Regions(), "update awsRegions in config/regions.go")
	for _, r := range config.Regions() {
		assert.Equal(t, *regioninfo.RegionInfo_Get(jsii.String(r)).Partition(), config.Partition(r), r)
	}
}

// TestContextKeysAreAwsCdkLibs: the feature flags config accepts are
// aws-cdk-lib's, and every other CDK key it accepts occurs in aws-cdk-lib's
// sources.
func TestContextKeysAreAwsCdkLibs(t *testing.T) {
	lib := awsCdkLib(t)
	out, err := exec.Command("node", "-e", `console.log(JSON.stringify(Object.keys(require(process.argv[1]).FLAGS)))`, filepath.Join(lib.dir, "cx-api", "lib", "features.js")).Output()
	require.NoError(t, err, "node reads aws-cdk-lib's feature flags")
	var flags []string
	require.NoError(t, json.Unmarshal(out, &flags))
	assert.ElementsMatch(t, flags, config.FeatureFlags(), "update cdkFeatureFlags in config/contextkeys.go")
	for _, k := range config.CDKSettingKeys() {
		// The CLI's own keys live in the CLI; the rest in aws-cdk-lib.
		if k == "aws:cdk:disable-version-reporting" {
			continue
		}
		assert.True(t, lib.mentions[k], "aws-cdk-lib %s never mentions context key %s", lib.version, k)
	}
}

// TestPostgresVersionsAreAwsCdkLibs: config's PostgreSQL versions are the
// ones aws-cdk-go's awsrds names.
func TestPostgresVersionsAreAwsCdkLibs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(moduleDir(t, "github.com/aws/aws-cdk-go/awscdk/v2"), "awsrds", "PostgresEngineVersion.go"))
	require.NoError(t, err)
	var versions []string
	for _, m := range regexp.MustCompile(`func PostgresEngineVersion_VER_(1[6-8])_(\d+)\(\)`).FindAllStringSubmatch(string(src), -1) {
		versions = append(versions, m[1]+"."+m[2])
	}
	assert.ElementsMatch(t, versions, config.CDKPostgresVersions(), "update cdkPostgresVersions in config/rds.go")
}

// TestRDSValuesAreOrderable: every accepted PostgreSQL version is one RDS
// has not deprecated, and every accepted class is orderable with each of
// them, per the RDS data cfn-lint ships (the data behind its W3691 and
// E3025 findings).
func TestRDSValuesAreOrderable(t *testing.T) {
	// find_spec locates cfn-lint without importing it (seconds on a busy machine).
	out, err := exec.Command("python3", "-c", "import importlib.util; print(importlib.util.find_spec('cfnlint').submodule_search_locations[0])").Output()
	require.NoError(t, err, "cfn-lint is required for the tests")
	dir := filepath.Join(strings.TrimSpace(string(out)), "data", "schemas", "extensions", "aws_rds_dbinstance")
	type rule struct {
		If struct {
			Properties struct {
				Engine        struct{ Const string }
				EngineVersion struct {
					Pattern string
					Enum    []string
				}
			}
		}
		Then json.RawMessage // false in the deprecation rules
	}
	read := func(name string) []rule {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		var doc struct{ AllOf []rule }
		require.NoError(t, json.Unmarshal(data, &doc))
		return doc.AllOf
	}
	for _, r := range read("engine_version_deprecated.json") {
		if r.If.Properties.Engine.Const == "postgres" {
			for _, v := range config.PostgresVersions() {
				assert.NotContains(t, r.If.Properties.EngineVersion.Enum, v, "RDS has deprecated PostgreSQL %s: add it to rdsDeprecatedPostgres", v)
			}
		}
	}
	classes := map[string][]string{}
	for _, r := range read("db_instance_class.json") {
		if r.If.Properties.Engine.Const != "postgres" {
			continue
		}
		pattern := regexp.MustCompile(r.If.Properties.EngineVersion.Pattern)
		for _, v := range config.PostgresVersions() {
			if pattern.MatchString(v) {
				var then struct {
					Properties struct{ DBInstanceClass struct{ Enum []string } }
				}
				require.NoError(t, json.Unmarshal(r.Then, &then))
				classes[v] = then.Properties.DBInstanceClass.Enum
			}
		}
	}
	for _, v := range config.PostgresVersions() {
		require.Contains(t, classes, v, "cfn-lint knows no classes for PostgreSQL %s", v)
		for _, c := range config.RDSInstanceClasses() {
			assert.True(t, slices.Contains(classes[v], c), "RDS does not offer %s with PostgreSQL %s", c, v)
		}
	}
}

type cdkLib struct {
	version  string
	dir      string          // cx-api/lib extracted here
	mentions map[string]bool // config's CDK setting keys found in its .js files
}

var (
	libOnce sync.Once
	lib     cdkLib
	libErr  error
)

// awsCdkLib reads the aws-cdk-lib package that aws-cdk-go embeds, once.
func awsCdkLib(t *testing.T) cdkLib {
	t.Helper()
	libOnce.Do(func() {
		dir := moduleDir(t, "github.com/aws/aws-cdk-go/awscdk/v2")
		tgz, err := filepath.Glob(filepath.Join(dir, "jsii", "aws-cdk-lib-*.tgz"))
		if err != nil || len(tgz) != 1 {
			libErr = fmt.Errorf("aws-cdk-lib package in %s: %v", dir, tgz)
			return
		}
		lib = cdkLib{version: strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tgz[0]), "aws-cdk-lib-"), ".tgz"), dir: filepath.Join(outRoot, "aws-cdk-lib"), mentions: map[string]bool{}}
		libErr = readTgz(tgz[0], func(name string, data []byte) error {
			for _, k := range config.CDKSettingKeys() {
				if !lib.mentions[k] && bytes.Contains(data, []byte(k)) {
					lib.mentions[k] = true
				}
			}
			if strings.HasPrefix(name, "package/cx-api/lib/") {
				out := filepath.Join(lib.dir, strings.TrimPrefix(name, "package/"))
				if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
					return err
				}
				return os.WriteFile(out, data, 0o644)
			}
			return nil
		})
	})
	require.NoError(t, libErr)
	return lib
}

// readTgz calls f with every .js file of a gzipped tarball.
func readTgz(path string, f func(name string, data []byte) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	gz, err := gzip.NewReader(file)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !strings.HasSuffix(h.Name, ".js") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := f(h.Name, data); err != nil {
			return err
		}
	}
}

// moduleDir is where the Go module cache holds a dependency of this module.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err, "go list -m %s", module)
	return strings.TrimSpace(string(out))
}
