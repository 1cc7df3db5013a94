package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
)

var envNamePattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// Load reads the environment selected by the "env" context key (default "dev")
// from the "environments" context object, applies its profile's defaults and
// the command-line overrides, and validates the result. root is the project
// directory that relative paths (image directory, frontend source) resolve
// against. Every failure is an *Error naming the setting.
func Load(ctx map[string]any, root string) (*Config, error) {
	env := ProfileDev
	if v, ok := ctx[KeyEnv]; ok && v != nil {
		s, isString := v.(string)
		if !isString || !envNamePattern.MatchString(s) {
			return nil, single("", KeyEnv, "must be an environment name (lower-case letters and digits, starting with a letter, at most 12 characters), got %s", describe(v))
		}
		env = s
	}

	envs, err := environments(ctx[KeyEnvironments])
	if err != nil {
		return nil, err
	}
	raw, ok := envs[env]
	if !ok {
		return nil, single(env, KeyEnv, "unknown environment %q; accepted: %s (the keys of %q in cdk.json context)", env, strings.Join(sortedKeys(envs), ", "), KeyEnvironments)
	}
	prefix := KeyEnvironments + "." + env
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, single(env, prefix, "must be an object of settings, got %s", describe(raw))
	}

	profile, err := profileOf(env, prefix, obj)
	if err != nil {
		return nil, err
	}
	cfg := defaults(profile)
	cfg.Name = env
	cfg.Root = root

	var p problems
	checkKeys(&p, prefix, obj, reflect.TypeOf(cfg))
	if err := p.err(env); err != nil {
		return nil, err
	}
	if err := decode(obj, &cfg); err != nil {
		return nil, single(env, prefix+"."+jsonField(err), "%s", jsonMessage(err))
	}
	if err := applyOverrides(ctx, &cfg); err != nil {
		return nil, err
	}
	if err := Validate(&cfg); err != nil {
		return nil, err
	}
	if err := checkOverlaps(&cfg, envs); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// checkOverlaps refuses a VPC block that overlaps another environment's in
// the same account and region (environment-agnostic ones count as one
// account): such VPCs could never be peered or joined to a transit gateway.
func checkOverlaps(cfg *Config, envs map[string]any) error {
	mine, err := netip.ParsePrefix(cfg.Network.VpcCidr)
	if err != nil {
		return nil
	}
	var p problems
	for _, name := range sortedKeys(envs) {
		obj, ok := envs[name].(map[string]any)
		if name == cfg.Name || !ok {
			continue
		}
		profile, err := profileOf(name, "", obj)
		if err != nil {
			continue // reported when that environment is selected
		}
		other := defaults(profile)
		if err := decode(obj, &other); err != nil {
			continue
		}
		if other.Account != cfg.Account || other.Region != cfg.Region {
			continue
		}
		theirs, err := netip.ParsePrefix(other.Network.VpcCidr)
		if err == nil && mine.Overlaps(theirs) {
			p.add(KeyEnvironments+"."+cfg.Name+".network.vpcCidr", "%s overlaps environment %q (%s) in the same account and region; give each environment its own block so their VPCs can be peered", mine, name, theirs)
		}
	}
	return p.err(cfg.Name)
}

// Path resolves a configured path against the project root.
func (c *Config) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(c.Root, rel)
}

func single(env, setting, format string, args ...any) error {
	var p problems
	p.add(setting, format, args...)
	return p.err(env)
}

func environments(v any) (map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			break
		}
		return t, nil
	case string:
		// `-c environments='{...}'` arrives as a string.
		var m map[string]any
		if err := json.Unmarshal([]byte(t), &m); err != nil {
			return nil, single("", KeyEnvironments, "must be a JSON object of environments: %v", err)
		}
		return environments(m)
	case nil:
	default:
		return nil, single("", KeyEnvironments, "must be an object mapping environment names to settings, got %s", describe(v))
	}
	return nil, single("", KeyEnvironments, "no environments defined; add at least one (e.g. \"dev\") under %q in cdk.json context", KeyEnvironments)
}

func profileOf(env, prefix string, obj map[string]any) (string, error) {
	v, ok := obj["profile"]
	if !ok {
		if env == ProfileDev || env == ProfileProd {
			return env, nil
		}
		return "", single(env, prefix+".profile", "required for an environment not named dev or prod; accepted: dev, prod")
	}
	s, _ := v.(string)
	if s != ProfileDev && s != ProfileProd {
		return "", single(env, prefix+".profile", "unknown profile %s; accepted: dev, prod", describe(v))
	}
	return s, nil
}

// checkKeys reports every key of obj that the settings type does not have,
// listing the accepted ones, and every nested value that is not an object where
// one is expected.
func checkKeys(p *problems, path string, obj map[string]any, t reflect.Type) {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if name != "" && name != "-" {
			fields[name] = t.Field(i).Type
		}
	}
	for _, key := range sortedKeys(obj) {
		ft, ok := fields[key]
		if !ok {
			p.add(path+"."+key, "unknown setting; accepted: %s", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		if ft.Kind() == reflect.Struct {
			child, isObj := obj[key].(map[string]any)
			if !isObj {
				p.add(path+"."+key, "must be an object, got %s", describe(obj[key]))
				continue
			}
			checkKeys(p, path+"."+key, child, ft)
		}
	}
}

func decode(obj map[string]any, cfg *Config) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(cfg)
}

func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	return "?"
}

func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got %s", kindName(te.Type), te.Value)
	}
	return err.Error()
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + kindName(t.Elem()) + "s"
	case reflect.Map:
		return "an object of strings"
	default:
		return "an object"
	}
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", t)
	case bool:
		return fmt.Sprintf("boolean %v", t)
	case float64, int:
		return fmt.Sprintf("number %v", t)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// applyOverrides takes the few settings a pipeline changes per deploy from
// plain `-c KEY=VALUE` flags.
func applyOverrides(ctx map[string]any, cfg *Config) error {
	if v, ok := ctx[KeyImageTag]; ok && v != nil {
		s, isString := v.(string)
		if !isString {
			return single(cfg.Name, KeyImageTag, "must be a string image tag, got %s", describe(v))
		}
		// A tag on the command line means "deploy this pushed image" and
		// replaces the configured build directory.
		cfg.Backend.Image = Image{Tag: s}
	}
	if v, ok := ctx[KeyFrontendDir]; ok && v != nil {
		s, isString := v.(string)
		if !isString {
			return single(cfg.Name, KeyFrontendDir, "must be a directory path, got %s", describe(v))
		}
		cfg.Frontend.SourceDir = s
	}
	return nil
}
