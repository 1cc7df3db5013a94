package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Stack is one synthesized CloudFormation template.
type Stack struct {
	Name     string // stack name, from the file name (tsa-dev-network)
	Path     string
	Template Template
}

// Template is the part of a CloudFormation template the estimator reads.
type Template struct {
	Parameters map[string]Parameter `json:"Parameters"`
	Mappings   map[string]any       `json:"Mappings"`
	Conditions map[string]any       `json:"Conditions"`
	Resources  map[string]Resource  `json:"Resources"`
	Outputs    map[string]Output    `json:"Outputs"`
}

// Parameter is a template parameter; only its default can be resolved.
type Parameter struct {
	Type    string `json:"Type"`
	Default any    `json:"Default"`
}

// Resource is a template resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Condition  string         `json:"Condition"`
}

// Output is a template output, possibly exported for Fn::ImportValue.
type Output struct {
	Value  any `json:"Value"`
	Export *struct {
		Name any `json:"Name"`
	} `json:"Export"`
}

const templateSuffix = ".template.json"

// LoadStack reads one template file. The stack name is the file name without
// ".template.json", which is how `cdk synth` names them.
func LoadStack(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: not a CloudFormation JSON template: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), templateSuffix)
	return &Stack{Name: name, Path: path, Template: t}, nil
}

var envName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// EnvPattern is the glob LoadEnv reads for an environment.
func EnvPattern(dir, env string) string {
	return filepath.Join(dir, "tsa-"+env+"-*"+templateSuffix)
}

// stackOrder puts the stacks of an environment in deployment order
// (network, data, compute, edge, frontend); any other stack comes after them.
func stackOrder(path, env string) int {
	name := strings.TrimSuffix(filepath.Base(path), templateSuffix)
	switch strings.TrimPrefix(name, "tsa-"+env+"-") {
	case "network":
		return 0
	case "data":
		return 1
	case "compute":
		return 2
	case "edge":
		return 3
	case "frontend":
		return 4
	}
	return 5
}

// LoadEnv reads every <dir>/tsa-<env>-*.template.json, in deployment order.
func LoadEnv(dir, env string) ([]*Stack, error) {
	if !envName.MatchString(env) {
		return nil, fmt.Errorf("environment name %q: use letters, digits, '.', '_' or '-'", env)
	}
	pattern := EnvPattern(dir, env)
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no templates for environment %q in %s (looked for %s); synthesize them first with: npx cdk synth -c env=%s (or point -dir at the cloud assembly)",
			env, dir, filepath.Base(pattern), env)
	}
	sort.Slice(paths, func(i, j int) bool {
		oi, oj := stackOrder(paths[i], env), stackOrder(paths[j], env)
		if oi != oj {
			return oi < oj
		}
		return paths[i] < paths[j]
	})
	stacks := make([]*Stack, 0, len(paths))
	for _, p := range paths {
		s, err := LoadStack(p)
		if err != nil {
			return nil, err
		}
		stacks = append(stacks, s)
	}
	return stacks, nil
}

// ---------------------------------------------------------------------------
// Resolving CloudFormation intrinsics as far as the templates allow.

// resRef is a {"Ref": logicalId} to a resource, resolved to its stack.
type resRef struct {
	stack *Stack
	id    string
}

func (r resRef) resource() (Resource, bool) {
	res, ok := r.stack.Template.Resources[r.id]
	return res, ok
}

// unresolved says why a value is only known at deploy time (or not at all).
type unresolved struct{ why string }

func (u unresolved) Error() string { return u.why }

func unres(format string, a ...any) error { return unresolved{fmt.Sprintf(format, a...)} }

// noValue is what {"Ref": "AWS::NoValue"} resolves to: the property is absent.
type noValueT struct{}

var noValue = noValueT{}

// world is the set of stacks being estimated together; cross-stack
// Fn::ImportValue is resolved through the Outputs of the other stacks.
type world struct {
	stacks  []*Stack
	exports map[string]export
	// region is where the estimate assumes the stacks run (the price table's
	// region): environment-agnostic templates resolve AWS::Region to it.
	region string
}

type export struct {
	stack *Stack
	value any
}

func newWorld(stacks []*Stack) *world {
	w := &world{stacks: stacks, exports: map[string]export{}}
	for _, s := range stacks {
		for _, o := range s.Template.Outputs {
			if o.Export == nil {
				continue
			}
			name, err := w.resolve(s, o.Export.Name, 0)
			if n, ok := name.(string); err == nil && ok {
				w.exports[n] = export{stack: s, value: o.Value}
			}
		}
	}
	return w
}

const maxDepth = 32

// isIntrinsic reports whether v is a {"Ref": ...} / {"Fn::...": ...} object.
func isIntrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// resolve evaluates intrinsics in v (one level: lists and plain objects are
// returned as they are, their elements resolved when read). The result is a
// string, float64, bool, []any, map[string]any, resRef or noValue.
func (w *world) resolve(s *Stack, v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, unres("intrinsics nested too deeply")
	}
	fn, arg, ok := isIntrinsic(v)
	if !ok {
		return v, nil
	}
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, unres("malformed Ref %s", compact(v))
		}
		return w.ref(s, name, depth)
	case "Fn::GetAtt":
		return nil, unres("%s is only known after deployment", compact(v))
	case "Fn::ImportValue":
		n, err := w.resolve(s, arg, depth+1)
		if err != nil {
			return nil, err
		}
		name, ok := n.(string)
		if !ok {
			return nil, unres("Fn::ImportValue of a non-string %s", compact(arg))
		}
		e, ok := w.exports[name]
		if !ok {
			return nil, unres("export %q is not among the loaded templates", name)
		}
		return w.resolve(e.stack, e.value, depth+1)
	case "Fn::GetStackOutput":
		// CDK's weak cross-stack references read another stack's output.
		ref, ok := arg.(map[string]any)
		if !ok {
			return nil, unres("malformed %s", compact(v))
		}
		stackName, err1 := w.resolve(s, ref["StackName"], depth+1)
		outputName, err2 := w.resolve(s, ref["OutputName"], depth+1)
		sn, ok1 := stackName.(string)
		on, ok2 := outputName.(string)
		if err1 != nil || err2 != nil || !ok1 || !ok2 {
			return nil, unres("%s names its stack or output with values known only at deploy time", compact(v))
		}
		for _, other := range w.stacks {
			if other.Name == sn {
				if o, ok := other.Template.Outputs[on]; ok {
					return w.resolve(other, o.Value, depth+1)
				}
				return nil, unres("stack %s has no output %s", sn, on)
			}
		}
		return nil, unres("stack %q is not among the loaded templates", sn)
	case "Fn::Join":
		delim, lv, err := w.delimited(s, v, arg, depth)
		if err != nil {
			return nil, err
		}
		list, ok := lv.([]any)
		if !ok {
			return nil, unres("Fn::Join of a non-list %s", compact(arg.([]any)[1]))
		}
		strs := make([]string, 0, len(list))
		for _, el := range list {
			ev, err := w.resolve(s, el, depth+1)
			if err != nil {
				return nil, err
			}
			str, err := scalarString(ev)
			if err != nil {
				return nil, err
			}
			strs = append(strs, str)
		}
		return strings.Join(strs, delim), nil
	case "Fn::Select":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return nil, unres("malformed %s", compact(v))
		}
		iv, err := w.resolve(s, parts[0], depth+1)
		if err != nil {
			return nil, err
		}
		idx, err := toFloat(iv)
		if err != nil {
			return nil, err
		}
		lv, err := w.resolve(s, parts[1], depth+1)
		if err != nil {
			return nil, err
		}
		list, ok := lv.([]any)
		if !ok {
			return nil, unres("Fn::Select from a non-list %s", compact(parts[1]))
		}
		i := int(idx)
		if i < 0 || i >= len(list) {
			return nil, unres("Fn::Select index %d out of range", i)
		}
		return w.resolve(s, list[i], depth+1)
	case "Fn::Split":
		delim, sv, err := w.delimited(s, v, arg, depth)
		if err != nil {
			return nil, err
		}
		str, err := scalarString(sv)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(str, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::FindInMap":
		parts, ok := arg.([]any)
		if !ok || len(parts) < 3 {
			return nil, unres("malformed %s", compact(v))
		}
		keys := make([]string, 3)
		for i := 0; i < 3; i++ {
			kv, err := w.resolve(s, parts[i], depth+1)
			if err != nil {
				return nil, err
			}
			if keys[i], err = scalarString(kv); err != nil {
				return nil, err
			}
		}
		m1, _ := s.Template.Mappings[keys[0]].(map[string]any)
		m2, _ := m1[keys[1]].(map[string]any)
		val, ok := m2[keys[2]]
		if !ok {
			return nil, unres("Fn::FindInMap %s/%s/%s not found in Mappings", keys[0], keys[1], keys[2])
		}
		return w.resolve(s, val, depth+1)
	case "Fn::If":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 3 {
			return nil, unres("malformed %s", compact(v))
		}
		name, _ := parts[0].(string)
		c, err := w.condition(s, name, depth+1)
		if err != nil {
			return nil, err
		}
		if c {
			return w.resolve(s, parts[1], depth+1)
		}
		return w.resolve(s, parts[2], depth+1)
	case "Fn::Sub":
		return w.sub(s, arg, depth)
	}
	return nil, unres("%s cannot be evaluated before deployment", fn)
}

// delimited reads the [delimiter, value] arguments of Fn::Join and Fn::Split,
// resolving the value.
func (w *world) delimited(s *Stack, v, arg any, depth int) (string, any, error) {
	parts, ok := arg.([]any)
	if !ok || len(parts) != 2 {
		return "", nil, unres("malformed %s", compact(v))
	}
	delim, ok := parts[0].(string)
	if !ok {
		return "", nil, unres("malformed %s", compact(v))
	}
	value, err := w.resolve(s, parts[1], depth+1)
	return delim, value, err
}

func (w *world) ref(s *Stack, name string, depth int) (any, error) {
	switch name {
	case "AWS::NoValue":
		return noValue, nil
	case "AWS::StackName":
		return s.Name, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::Region":
		if w.region != "" {
			return w.region, nil
		}
	}
	if strings.HasPrefix(name, "AWS::") {
		return nil, unres("pseudo parameter %s is only known at deploy time", name)
	}
	if p, ok := s.Template.Parameters[name]; ok {
		if p.Default == nil {
			return nil, unres("parameter %s has no Default", name)
		}
		if strings.HasPrefix(p.Type, "AWS::SSM::Parameter::Value") {
			return nil, unres("parameter %s is read from SSM at deploy time", name)
		}
		return w.resolve(s, p.Default, depth+1)
	}
	if _, ok := s.Template.Resources[name]; ok {
		return resRef{stack: s, id: name}, nil
	}
	return nil, unres("Ref to unknown name %s", name)
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (w *world) sub(s *Stack, arg any, depth int) (any, error) {
	var str string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		str = a
	case []any:
		if len(a) != 2 {
			return nil, unres("malformed Fn::Sub")
		}
		str, _ = a[0].(string)
		vars, _ = a[1].(map[string]any)
	default:
		return nil, unres("malformed Fn::Sub")
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(str, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v, err = w.resolve(s, x, depth+1)
		} else if strings.Contains(name, ".") {
			err = unres("Fn::Sub ${%s} is only known after deployment", name)
		} else {
			v, err = w.ref(s, name, depth+1)
		}
		if err == nil {
			var r string
			r, err = scalarString(v)
			if err == nil {
				return r
			}
		}
		if firstErr == nil {
			firstErr = err
		}
		return ""
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// condition evaluates a named condition of the template.
func (w *world) condition(s *Stack, name string, depth int) (bool, error) {
	c, ok := s.Template.Conditions[name]
	if !ok {
		return false, unres("condition %s is not defined", name)
	}
	return w.condExpr(s, c, depth+1)
}

func (w *world) condExpr(s *Stack, c any, depth int) (bool, error) {
	if depth > maxDepth {
		return false, unres("conditions nested too deeply")
	}
	fn, arg, ok := isIntrinsic(c)
	if !ok {
		if b, ok := c.(bool); ok {
			return b, nil
		}
		return false, unres("condition %s cannot be evaluated", compact(c))
	}
	args, _ := arg.([]any)
	switch fn {
	case "Condition":
		name, _ := arg.(string)
		return w.condition(s, name, depth+1)
	case "Fn::Equals":
		if len(args) != 2 {
			return false, unres("malformed Fn::Equals")
		}
		a, err := w.resolve(s, args[0], depth+1)
		if err != nil {
			return false, err
		}
		b, err := w.resolve(s, args[1], depth+1)
		if err != nil {
			return false, err
		}
		as, err1 := scalarString(a)
		bs, err2 := scalarString(b)
		if err1 != nil || err2 != nil {
			return false, unres("Fn::Equals on non-scalar values")
		}
		return as == bs, nil
	case "Fn::Not":
		if len(args) != 1 {
			return false, unres("malformed Fn::Not")
		}
		b, err := w.condExpr(s, args[0], depth+1)
		return !b, err
	case "Fn::And", "Fn::Or":
		for _, a := range args {
			b, err := w.condExpr(s, a, depth+1)
			if err != nil {
				return false, err
			}
			if fn == "Fn::And" && !b {
				return false, nil
			}
			if fn == "Fn::Or" && b {
				return true, nil
			}
		}
		return fn == "Fn::And", nil
	}
	return false, unres("condition %s cannot be evaluated before deployment", compact(c))
}

// refersTo reports whether v mentions the resource id through Ref or
// Fn::GetAtt anywhere inside it (used to join e.g. a scalable target's
// ResourceId to its ECS service).
func refersTo(v any, id string) bool {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["Ref"].(string); ok && len(x) == 1 && r == id {
			return true
		}
		if ga, ok := x["Fn::GetAtt"]; ok && len(x) == 1 {
			switch g := ga.(type) {
			case []any:
				if len(g) > 0 && g[0] == id {
					return true
				}
			case string:
				if strings.HasPrefix(g, id+".") {
					return true
				}
			}
		}
		for _, e := range x {
			if refersTo(e, id) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if refersTo(e, id) {
				return true
			}
		}
	}
	return false
}
