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
	"slices"
	"strings"
)

var envNamePattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// Load resolves the environment selected by the "env" context key (default
// dev) and validates it. ctx is the app's whole context (plain values or
// jsii's wire form); environments is the "environments" object of the
// project's cdk.json (ProjectEnvironments), the only place environments are
// defined: a context whose "environments" differ from it is refused. Tests
// build variants by passing edited environments here, as an edited cdk.json.
// root is the directory relative paths resolve against. Every failure is an
// *Error naming the setting.
func Load(ctx any, environments map[string]any, root string) (*Config, error) {
	c, envs, err := checkContext(ctx, environments)
	if err != nil {
		return nil, err
	}
	if _, ok := c[KeyCI]; ok {
		return nil, single("", KeyCI, "selects the CI stack, which the app synthesizes instead of an environment (stacks.Build); nothing here reads it")
	}
	var p problems

	env := ProfileDev
	if v, ok := c[KeyEnv]; ok {
		s, isString := v.(string)
		if !isString || !envNamePattern.MatchString(s) {
			return nil, single("", KeyEnv, "must be an environment name (lower-case letters and digits, starting with a letter, at most 12 characters), got %s", describe(v))
		}
		env = s
	}
	raw, ok := envs[env]
	if !ok {
		return nil, single(env, KeyEnv, "unknown environment %q; accepted: %s (the keys of %q in %s)", env, strings.Join(sortedKeys(envs), ", "), KeyEnvironments, ProjectFile)
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
	cfg.Env = env
	cfg.Root = root

	checkKeys(&p, prefix, obj, reflect.TypeOf(cfg))
	if err := p.err(env); err != nil {
		return nil, err
	}
	if err := decode(obj, &cfg); err != nil {
		return nil, single(env, prefix+"."+jsonField(err), "%s", jsonMessage(err))
	}
	checkEngineSettings(&p, prefix, obj, reflect.TypeOf(cfg), cfg.Database.Engine)
	if network, _ := obj["network"].(map[string]any); network["maxAzs"] != nil && len(cfg.AvailabilityZones) > 0 {
		p.add(prefix+".network.maxAzs", "has no effect when availabilityZones is set (the VPC spans exactly those zones); remove it")
	}
	if err := applyOverrides(c, &cfg, envs); err != nil {
		return nil, err
	}
	normalize(&cfg)
	var verr *Error
	if errors.As(Validate(&cfg), &verr) {
		p.list = append(p.list, verr.Problems...)
	}
	if err := p.err(env); err != nil {
		return nil, err
	}
	// A stage reuses its environment's VPC block on purpose (stage.go).
	if !cfg.IsStage() {
		if err := checkOverlaps(&cfg, envs); err != nil {
			return nil, err
		}
	}
	return &cfg, nil
}

// checkContext checks what every synthesis checks first: the context is an
// object of known keys, and its environments are cdk.json's. It returns the
// context and the environments as plain JSON values.
func checkContext(ctx any, environments map[string]any) (map[string]any, map[string]any, error) {
	plain := Plain(ctx)
	c, isMap := plain.(map[string]any)
	if !isMap && plain != nil {
		return nil, nil, single("", "context", "must be an object of context keys, got %s", describe(plain))
	}

	var p problems
	checkContextKeys(&p, c)
	if path := nullPath(environments, KeyEnvironments); path != "" {
		p.add(path, "null is not a value; remove the key to use the profile's default")
	}
	envsValue, err := canonical(environments)
	envs, _ := envsValue.(map[string]any)
	if err != nil {
		p.add(KeyEnvironments, "not JSON: %v", err)
	} else if len(envs) == 0 {
		p.add(KeyEnvironments, "no environments defined; add at least one (e.g. \"dev\") under %q in %s's context", KeyEnvironments, ProjectFile)
	}
	if v, ok := c[KeyEnvironments]; ok && err == nil {
		if cv, cerr := canonical(v); cerr != nil || !reflect.DeepEqual(cv, envsValue) {
			p.add(KeyEnvironments, "the context's environments differ from %s's: environments are read from %s only, so that no -c %s=..., cdk.context.json or ~/.cdk.json can replace or extend them (and, with them, production's protections); edit %s instead", ProjectFile, ProjectFile, KeyEnvironments, ProjectFile)
		}
	}
	if err := p.err(""); err != nil {
		return nil, nil, err
	}
	return c, envs, nil
}

// IsProductionName reports whether an environment's name makes it a
// production environment: prod, or any name starting with prod (prod2,
// prodeu). Such an environment always uses the prod profile.
func IsProductionName(env string) bool { return strings.HasPrefix(env, ProfileProd) }

func profileOf(env, prefix string, obj map[string]any) (string, error) {
	v, ok := obj["profile"]
	if !ok {
		switch {
		case IsProductionName(env):
			return ProfileProd, nil
		case env == ProfileDev:
			return ProfileDev, nil
		}
		return "", single(env, prefix+".profile", "required for an environment not named dev or prod; accepted: dev, prod")
	}
	s, _ := v.(string)
	if s != ProfileDev && s != ProfileProd {
		return "", single(env, prefix+".profile", "unknown profile %s; accepted: dev, prod", describe(v))
	}
	if IsProductionName(env) && s != ProfileProd {
		return "", single(env, prefix+".profile", "%q is a production environment (its name starts with prod), which always uses the prod profile: the dev profile would take away deletion protection, the final snapshot, Multi-AZ and termination protection; remove \"profile\" or name a non-production environment otherwise", env)
	}
	return s, nil
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
		if name == cfg.Environment() || !ok {
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
			p.add(KeyEnvironments+"."+cfg.Environment()+".network.vpcCidr", "%s overlaps environment %q (%s) in the same account and region; give each environment its own block so their VPCs can be peered", mine, name, theirs)
		}
	}
	return p.err(cfg.Environment())
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

// checkKeys reports every key of obj that the settings type does not have,
// listing the accepted ones, and every nested value that is not an object where
// one is expected.
func checkKeys(p *problems, path string, obj map[string]any, t reflect.Type) {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		if name := jsonName(t.Field(i)); name != "" {
			fields[name] = t.Field(i).Type
		}
	}
	for _, key := range sortedKeys(obj) {
		ft, ok := fields[key]
		if !ok {
			msg := "unknown setting"
			if m := nearest(key, sortedKeys(fields)); m != "" {
				msg += fmt.Sprintf("; did you mean %s?", m)
			}
			p.add(path+"."+key, "%s; accepted: %s", msg, strings.Join(sortedKeys(fields), ", "))
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

// checkEngineSettings refuses, by name, every setting obj gives that the
// selected database engine does not read (fields tagged engine:"..."). The
// raw object is checked: defaults fill every field of the struct.
func checkEngineSettings(p *problems, path string, obj map[string]any, t reflect.Type, engine string) {
	if !slices.Contains(engines, engine) {
		return // Validate names the engine itself
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		v, given := obj[jsonName(f)]
		if !given || jsonName(f) == "" {
			continue
		}
		if tag := f.Tag.Get("engine"); tag != "" && !slices.Contains(strings.Split(tag, ","), engine) {
			p.add(path+"."+jsonName(f), "is read only by database.engine %s, and this environment's engine is %s: remove it (or select that engine)", strings.ReplaceAll(tag, ",", " or "), engine)
			continue
		}
		if child, ok := v.(map[string]any); ok && f.Type.Kind() == reflect.Struct {
			checkEngineSettings(p, path+"."+jsonName(f), child, f.Type, engine)
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
		if te.Value == "number" || strings.HasPrefix(te.Value, "number ") {
			return fmt.Sprintf("expected %s, got %s (a fraction, or too large)", kindName(te.Type), te.Value)
		}
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
		elem := strings.TrimPrefix(strings.TrimPrefix(kindName(t.Elem()), "a "), "an ")
		return "a list of " + elem + "s"
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
// plain `-c KEY=VALUE` flags (appKeys). The stage comes last: its overrides
// (stage.go) win over everything else.
func applyOverrides(ctx map[string]any, cfg *Config, envs map[string]any) error {
	if v, ok := ctx[KeyImageTag]; ok {
		s, isString := v.(string)
		if !isString || s == "" {
			return single(cfg.Env, KeyImageTag, "must be an image tag, got %s; leave the key out to build %s", describe(v), cfg.Backend.Image.Directory)
		}
		// A tag on the command line means "deploy this pushed image" and
		// replaces the configured build directory.
		cfg.Backend.Image = Image{Tag: s}
	}
	if v, ok := ctx[KeyFrontendDir]; ok {
		s, isString := v.(string)
		if !isString || s == "" {
			return single(cfg.Env, KeyFrontendDir, "must be a directory path, got %s", describe(v))
		}
		cfg.Frontend.SourceDir = s
	}
	if v, ok := ctx[KeyStage]; ok {
		return applyStage(v, cfg, envs)
	}
	return nil
}

// normalize writes values the way AWS compares them: DNS names are
// case-insensitive (RFC 4343) and a zone name may end in a dot.
func normalize(cfg *Config) {
	f := &cfg.Frontend
	f.DomainName = strings.ToLower(f.DomainName)
	f.HostedZoneName = strings.ToLower(strings.TrimSuffix(f.HostedZoneName, "."))
}
