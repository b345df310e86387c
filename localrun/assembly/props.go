package assembly

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// props reads one JSON object of a template (usually a resource's
// Properties). Its path prefixes every error, so a message says where in the
// template the problem is.
type props struct {
	path string
	m    map[string]any
}

func newProps(path string, v any) (props, error) {
	if v == nil {
		return props{path: path}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return props{}, fmt.Errorf("%s: expected an object, got %s", path, describe(v))
	}
	return props{path: path, m: m}, nil
}

func (p props) at(key string) string { return p.path + "." + key }

func (p props) has(key string) bool {
	_, ok := p.m[key]
	return ok
}

// object is the nested object at key (empty when absent).
func (p props) object(key string) (props, error) {
	return newProps(p.at(key), p.m[key])
}

// str is a literal string. Structural properties (types, keys, templates)
// must be literals: the local run interprets them, it does not deploy them.
func (p props) str(key string) (string, error) {
	v, ok := p.m[key]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: expected a literal string, got %s", p.at(key), describe(v))
	}
	return s, nil
}

func (p props) requiredStr(key string) (string, error) {
	if !p.has(key) {
		return "", fmt.Errorf("%s: missing", p.at(key))
	}
	return p.str(key)
}

// int accepts a JSON number or a numeric string (CloudFormation takes both).
func (p props) int(key string, def int) (int, error) {
	f, ok, err := p.number(key)
	if err != nil || !ok {
		return def, err
	}
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, fmt.Errorf("%s: expected an integer, got %v", p.at(key), f)
	}
	return int(f), nil
}

func (p props) number(key string) (float64, bool, error) {
	v, ok := p.m[key]
	if !ok {
		return 0, false, nil
	}
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	case float64:
		return v, true, nil
	default:
		return 0, false, fmt.Errorf("%s: expected a number, got %s", p.at(key), describe(v))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: expected a number, got %q", p.at(key), s)
	}
	return f, true, nil
}

func (p props) optFloat(key string) (*float64, error) {
	f, ok, err := p.number(key)
	if err != nil || !ok {
		return nil, err
	}
	return &f, nil
}

func (p props) optInt(key string) (*int, error) {
	if !p.has(key) {
		return nil, nil
	}
	n, err := p.int(key, 0)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// bool accepts a JSON boolean or "true"/"false" (CloudFormation takes both).
func (p props) bool(key string) (bool, error) {
	switch v := p.m[key].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		if b, err := strconv.ParseBool(v); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s: expected a boolean, got %s", p.at(key), describe(p.m[key]))
}

func (p props) strList(key string) ([]string, error) {
	v, ok := p.m[key]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list of literal strings, got %s", p.at(key), describe(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: expected a literal string, got %s", p.at(key), i, describe(e))
		}
		out[i] = s
	}
	return out, nil
}

func (p props) strMap(key string) (map[string]string, error) {
	o, err := p.object(key)
	if err != nil || o.m == nil {
		return nil, err
	}
	out := make(map[string]string, len(o.m))
	for k := range o.m {
		if out[k], err = o.str(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// objects is a list of objects, each read by its own props.
func (p props) objects(key string) ([]props, error) {
	v, ok := p.m[key]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list, got %s", p.at(key), describe(v))
	}
	out := make([]props, len(list))
	for i, e := range list {
		o, err := newProps(fmt.Sprintf("%s[%d]", p.at(key), i), e)
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

// describe names a JSON value's kind for error messages, and the intrinsic
// function when it is one, since that is the usual surprise.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		if name, _, ok := intrinsic(v); ok {
			return "intrinsic " + name
		}
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
