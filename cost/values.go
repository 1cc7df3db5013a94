package cost

import (
	"fmt"
	"strconv"
	"strings"
)

// scalarString renders a resolved scalar as CloudFormation would.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case resRef:
		return "", unres("{\"Ref\": %q} is a resource id only known after deployment", x.id)
	}
	return "", unres("expected a scalar, got %s", compact(v))
}

// toFloat accepts numbers given as JSON numbers or as strings ("20").
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, unres("%q is not a number", x)
		}
		return f, nil
	case resRef:
		return 0, unres("{\"Ref\": %q} is a resource id, not a number", x.id)
	}
	return 0, unres("expected a number, got %s", compact(v))
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, unres("%q is not a boolean", x)
		}
		return b, nil
	}
	return false, unres("expected a boolean, got %s", compact(v))
}

// props reads (and resolves) the properties of a resource, or of an object
// nested in them. path names the object for messages.
type props struct {
	w    *world
	s    *Stack
	m    map[string]any
	path string
}

func (p props) name(key string) string {
	if p.path == "" {
		return key
	}
	return p.path + "." + key
}

func (p props) wrap(key string, err error) error {
	return fmt.Errorf("%s: %w", p.name(key), err)
}

// get returns the resolved value; present is false when the property is
// absent or AWS::NoValue. An error means present but not resolvable.
func (p props) get(key string) (v any, present bool, err error) {
	raw, ok := p.m[key]
	if !ok || raw == nil {
		return nil, false, nil
	}
	r, err := p.w.resolve(p.s, raw, 0)
	if err != nil {
		return nil, true, p.wrap(key, err)
	}
	if r == noValue {
		return nil, false, nil
	}
	return r, true, nil
}

func (p props) num(key string) (float64, bool, error) {
	v, ok, err := p.get(key)
	if !ok || err != nil {
		return 0, ok, err
	}
	f, err := toFloat(v)
	if err != nil {
		return 0, true, p.wrap(key, err)
	}
	return f, true, nil
}

func (p props) str(key string) (string, bool, error) {
	v, ok, err := p.get(key)
	if !ok || err != nil {
		return "", ok, err
	}
	s, err := scalarString(v)
	if err != nil {
		return "", true, p.wrap(key, err)
	}
	return s, true, nil
}

func (p props) boolean(key string) (bool, bool, error) {
	v, ok, err := p.get(key)
	if !ok || err != nil {
		return false, ok, err
	}
	b, err := toBool(v)
	if err != nil {
		return false, true, p.wrap(key, err)
	}
	return b, true, nil
}

// list returns the elements of a list property, dropping elements that
// resolve to AWS::NoValue. Elements are returned unresolved (their count is
// often all we need).
func (p props) list(key string) ([]any, bool, error) {
	v, ok, err := p.get(key)
	if !ok || err != nil {
		return nil, ok, err
	}
	l, isList := v.([]any)
	if !isList {
		return nil, true, p.wrap(key, unres("expected a list, got %s", compact(v)))
	}
	out := make([]any, 0, len(l))
	for _, e := range l {
		if _, _, ok := isIntrinsic(e); ok {
			// e.g. {"Fn::If": [cond, x, {"Ref": "AWS::NoValue"}]}; an element
			// that cannot be resolved is kept: it still counts.
			if r, err := p.w.resolve(p.s, e, 0); err == nil && r == noValue {
				continue
			}
		}
		out = append(out, e)
	}
	return out, true, nil
}

// obj returns a nested object property.
func (p props) obj(key string) (props, bool, error) {
	v, ok, err := p.get(key)
	if !ok || err != nil {
		return props{}, ok, err
	}
	return p.asObj(p.name(key), v)
}

// asObj turns a list element or property value into props.
func (p props) asObj(path string, v any) (props, bool, error) {
	r, err := p.w.resolve(p.s, v, 0)
	if err != nil {
		return props{}, true, fmt.Errorf("%s: %w", path, err)
	}
	m, ok := r.(map[string]any)
	if !ok {
		return props{}, true, fmt.Errorf("%s: %w", path, unres("expected an object, got %s", compact(r)))
	}
	return props{w: p.w, s: p.s, m: m, path: path}, true, nil
}

// resource resolves a property that should reference a resource of the
// loaded templates (Ref, or Fn::ImportValue of an exported Ref).
func (p props) resource(key string) (resRef, bool, error) {
	v, ok, err := p.get(key)
	if !ok || err != nil {
		return resRef{}, ok, err
	}
	r, isRef := v.(resRef)
	if !isRef {
		return resRef{}, true, p.wrap(key, unres("%s is not a resource of the loaded templates", compact(v)))
	}
	return r, true, nil
}
