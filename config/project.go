package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// LoadProject is the app's path: ctx is the app's whole context as
// aws-cdk-lib returns it through jsii (cdk.json's context merged by the CLI
// with cdk.context.json, ~/.cdk.json and -c flags), and the environments are
// read from root/cdk.json itself, so that nothing but that file defines them.
func LoadProject(ctx any, root string) (*Config, error) {
	data, err := os.ReadFile(filepath.Join(root, ProjectFile))
	if err != nil {
		return nil, single("", ProjectFile, "cannot be read (%v); environments are defined in the project's %s only", err, ProjectFile)
	}
	return loadProject(ctx, data, root)
}

func loadProject(ctx any, cdkJSON []byte, root string) (*Config, error) {
	envs, err := ProjectEnvironments(cdkJSON)
	if err != nil {
		return nil, err
	}
	cfg, err := Load(ctx, envs, root)
	if err != nil {
		return nil, err
	}
	// The github block is checked on every synth too, so a broken one is
	// found before CI needs it.
	gh, err := ProjectGitHub(cdkJSON)
	if err != nil {
		return nil, err
	}
	c, canonEnvs, err := checkContext(ctx, envs)
	if err != nil {
		return nil, err
	}
	if _, err := checkGitHub(c, gh, canonEnvs); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ProjectEnvironments returns the "environments" object of cdk.json's
// context. The file is read strictly: a key given twice at any depth is
// refused (JSON parsers, the CDK CLI's included, silently keep the last one,
// so a second "prod" would replace the reviewed one).
func ProjectEnvironments(cdkJSON []byte) (map[string]any, error) {
	v, err := decodeStrict(cdkJSON)
	if err != nil {
		return nil, single("", ProjectFile, "%v", err)
	}
	file, ok := v.(map[string]any)
	if !ok {
		return nil, single("", ProjectFile, "must be a JSON object, got %s", describe(v))
	}
	ctx, ok := file["context"].(map[string]any)
	if !ok {
		return nil, single("", ProjectFile+": context", "must be an object holding %q", KeyEnvironments)
	}
	envs, ok := ctx[KeyEnvironments].(map[string]any)
	if !ok {
		return nil, single("", KeyEnvironments, "must be an object mapping environment names to settings in %s's context, got %s", ProjectFile, describe(ctx[KeyEnvironments]))
	}
	return envs, nil
}

// decodeStrict parses one JSON value, refusing duplicate object keys at any
// depth and numbers a float64 cannot hold.
func decodeStrict(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := strictValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected content after the JSON value")
	}
	return v, nil
}

func strictValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("not valid JSON: %v", err)
				}
				key, _ := kt.(string)
				child := joinPath(path, key)
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("key %q appears twice (%s): JSON keeps only the last one, so one of them is silently ignored; remove one", key, child)
				}
				v, err := strictValue(dec, child)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			_, err := dec.Token() // '}'
			return obj, err
		case '[':
			list := []any{}
			for i := 0; dec.More(); i++ {
				v, err := strictValue(dec, fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token() // ']'
			return list, err
		}
		return nil, fmt.Errorf("not valid JSON at %s", path)
	case json.Number:
		f, err := t.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s: number %s is out of range", path, t)
		}
		return f, nil
	default:
		return t, nil // string, bool or nil
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Plain turns a context value as it reaches Go into plain JSON values:
// jsii's wire form of nested maps ({"$jsii.map": {...}}) is unwrapped, and
// null map entries are dropped, as jsii drops them on the app's path (a
// null inside a list stays). Tests and the app therefore load identically.
func Plain(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if inner, ok := t["$jsii.map"]; ok && len(t) == 1 {
			return Plain(inner)
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			if e == nil {
				continue
			}
			out[k] = Plain(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = Plain(e)
		}
		return out
	default:
		return v
	}
}

// canonical returns v as encoding/json would decode it (float64 numbers,
// []any, map[string]any), so values built in Go compare with decoded ones.
func canonical(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(data, &out)
	return out, err
}

// nullPath returns the path of the first null (in key order) in v, or "".
func nullPath(v any, path string) string {
	switch t := v.(type) {
	case nil:
		return path
	case map[string]any:
		for _, k := range sortedKeys(t) {
			if p := nullPath(t[k], joinPath(path, k)); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range t {
			if p := nullPath(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// settingPaths holds every setting path below an environment
// ("backend.cpu", "database.timescale.amiId").
var settingPaths = func() map[string]bool {
	m := map[string]bool{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			name := jsonName(t.Field(i))
			if name == "" {
				continue
			}
			m[prefix+name] = true
			if t.Field(i).Type.Kind() == reflect.Struct {
				walk(prefix+name+".", t.Field(i).Type)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
	return m
}()

func jsonName(f reflect.StructField) string {
	name := strings.Split(f.Tag.Get("json"), ",")[0]
	if name == "-" {
		return ""
	}
	return name
}
