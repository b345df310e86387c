package assembly

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Errors a Resolver wraps, for callers that tell them apart with errors.Is.
var (
	// ErrNoValue: a Ref or Fn::GetAtt the Resolver has no value for.
	ErrNoValue = errors.New("no value")
	// ErrUnsupported: an intrinsic function the Resolver does not evaluate.
	ErrUnsupported = errors.New("unsupported intrinsic function")
)

// noValue is the pseudo parameter that removes a value where it stands.
const noValue = "AWS::NoValue"

// pseudoParameters are CloudFormation's pseudo parameters; a Ref to any other
// AWS:: name is an error in a template.
var pseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, noValue: true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// Resolver evaluates the CloudFormation intrinsic functions of string values
// (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split) with values the
// caller supplies: the local run decides what a resource's Ref is (a local
// table name, a local endpoint), the template only says where it goes.
type Resolver struct {
	Pseudo map[string]string // pseudo parameter ("AWS::Region") → value
	Refs   map[string]string // logical ID or parameter name → Ref value
	Attrs  map[string]string // "<logical ID>.<attribute>" → Fn::GetAtt value
}

// String resolves v, a raw template value, to a string. Literal numbers and
// booleans are formatted as CloudFormation does.
func (r Resolver) String(v any) (string, error) {
	return r.evaluator().str(v)
}

// Env resolves a function's environment variables. A variable whose value is
// {"Ref": "AWS::NoValue"} is left out, as CloudFormation does. Every variable
// that does not resolve is reported, each prefixed with its template path
// (Functions.<logical ID>.Environment.<name>).
func (r Resolver) Env(fn Function) (map[string]string, error) {
	e := r.evaluator()
	env := make(map[string]string, len(fn.Environment))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(fn.Environment)) {
		raw := fn.Environment[name]
		if isNoValue(raw) {
			continue
		}
		s, err := e.str(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("Functions.%s.Environment.%s: %w", fn.ID, name, err))
			continue
		}
		env[name] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return env, nil
}

func (r Resolver) evaluator() evaluator {
	return evaluator{
		ref: func(name string) (string, error) {
			values := r.Refs
			if strings.HasPrefix(name, "AWS::") {
				values = r.Pseudo
			}
			if v, ok := values[name]; ok {
				return v, nil
			}
			return "", ErrNoValue
		},
		attr: func(id, attr string) (string, error) {
			if v, ok := r.Attrs[id+"."+attr]; ok {
				return v, nil
			}
			return "", ErrNoValue
		},
	}
}

// evaluator evaluates intrinsics with lookups supplied by its user: the
// Resolver's maps, or Load's symbolic lookups that find which resource a
// value refers to. Errors from a Ref or Fn::GetAtt name it and are not
// wrapped again by the enclosing functions, so messages stay short.
type evaluator struct {
	ref  func(name string) (string, error)
	attr func(id, attr string) (string, error)
}

// intrinsic reports whether m is an intrinsic function call ({"Fn::X": arg}
// or {"Ref": arg}) and splits it.
func intrinsic(m map[string]any) (name string, arg any, ok bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, v, true
		}
	}
	return "", nil, false
}

func isNoValue(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	name, arg, ok := intrinsic(m)
	return ok && name == "Ref" && arg == noValue
}

func (e evaluator) str(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case map[string]any:
		name, arg, ok := intrinsic(v)
		if !ok {
			return "", fmt.Errorf("expected a string, got %s", describe(v))
		}
		return e.call(name, arg)
	default:
		return "", fmt.Errorf("expected a string, got %s", describe(v))
	}
}

// Errors start with the intrinsic's name, spelled as in templates: Ref, Fn::Join.
func (e evaluator) call(name string, arg any) (string, error) {
	switch name {
	case "Ref":
		ref, ok := arg.(string)
		if !ok {
			//lint:ignore ST1005 Ref is CloudFormation's name for it
			return "", fmt.Errorf("Ref: expected a name, got %s", describe(arg))
		}
		if ref == noValue {
			//lint:ignore ST1005 Ref is CloudFormation's name for it
			return "", fmt.Errorf("Ref %s: stands where a string is required", noValue)
		}
		s, err := e.ref(ref)
		if err != nil {
			//lint:ignore ST1005 Ref is CloudFormation's name for it
			return "", fmt.Errorf("Ref %s: %w", ref, err)
		}
		return s, nil
	case "Fn::GetAtt":
		id, attr, err := e.getAttArgs(arg)
		if err != nil {
			return "", fmt.Errorf("Fn::GetAtt: %w", err)
		}
		s, err := e.attr(id, attr)
		if err != nil {
			return "", fmt.Errorf("Fn::GetAtt %s.%s: %w", id, attr, err)
		}
		return s, nil
	case "Fn::Join":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return "", fmt.Errorf("Fn::Join: expected [delimiter, list], got %s", describe(arg))
		}
		delim, ok := args[0].(string)
		if !ok {
			return "", fmt.Errorf("Fn::Join: delimiter: expected a literal string, got %s", describe(args[0]))
		}
		parts, err := e.list(args[1])
		if err != nil {
			return "", err
		}
		return strings.Join(parts, delim), nil
	case "Fn::Sub":
		return e.sub(arg)
	case "Fn::Select":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return "", fmt.Errorf("Fn::Select: expected [index, list], got %s", describe(arg))
		}
		is, err := e.str(args[0])
		if err != nil {
			return "", err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return "", fmt.Errorf("Fn::Select: index %q is not an integer", is)
		}
		list, err := e.list(args[1])
		if err != nil {
			return "", err
		}
		if i < 0 || i >= len(list) {
			return "", fmt.Errorf("Fn::Select: index %d out of range of %d items", i, len(list))
		}
		return list[i], nil
	case "Fn::Split":
		return "", errors.New("Fn::Split: yields a list where a string is required")
	default:
		return "", fmt.Errorf("%s: %w", name, ErrUnsupported)
	}
}

// getAttArgs reads both forms: [id, attr] and "id.attr" (the attribute may
// itself contain dots, as in Endpoint.Address).
func (e evaluator) getAttArgs(arg any) (id, attr string, err error) {
	switch a := arg.(type) {
	case string:
		id, attr, ok := strings.Cut(a, ".")
		if !ok || id == "" || attr == "" {
			return "", "", fmt.Errorf("expected \"<logical ID>.<attribute>\", got %q", a)
		}
		return id, attr, nil
	case []any:
		if len(a) != 2 {
			break
		}
		id, ok := a[0].(string)
		if !ok {
			return "", "", fmt.Errorf("logical ID: expected a literal string, got %s", describe(a[0]))
		}
		// CloudFormation allows a Ref in the attribute name.
		attr, err := e.str(a[1])
		if err != nil {
			return "", "", fmt.Errorf("attribute of %s: %w", id, err)
		}
		return id, attr, nil
	}
	return "", "", fmt.Errorf("expected [logical ID, attribute], got %s", describe(arg))
}

// list evaluates a list-valued argument: a literal list (whose
// {"Ref": "AWS::NoValue"} items are dropped, as CloudFormation does) or
// Fn::Split.
func (e evaluator) list(v any) ([]string, error) {
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			if isNoValue(item) {
				continue
			}
			s, err := e.str(item)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		name, arg, ok := intrinsic(v)
		if !ok {
			break
		}
		switch name {
		case "Fn::Split":
		case "Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub", "Fn::Select":
			// A Ref to a list parameter or a list attribute would be a
			// list; the Resolver's values are strings.
			return nil, fmt.Errorf("%s: yields a string where a list is required", name)
		default:
			return nil, fmt.Errorf("%s: %w", name, ErrUnsupported)
		}
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Split: expected [delimiter, string], got %s", describe(arg))
		}
		delim, ok := args[0].(string)
		if !ok || delim == "" {
			return nil, fmt.Errorf("Fn::Split: delimiter: expected a non-empty literal string, got %s", describe(args[0]))
		}
		s, err := e.str(args[1])
		if err != nil {
			return nil, err
		}
		return strings.Split(s, delim), nil
	}
	return nil, fmt.Errorf("expected a list, got %s", describe(v))
}

// sub evaluates both forms of Fn::Sub: "text ${Name} ${Id.Attr} ${!Literal}"
// and [text, {Name: value}]; a name of the map wins over a template name.
func (e evaluator) sub(arg any) (string, error) {
	var text string
	var vars map[string]any
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		if len(a) != 2 {
			return "", fmt.Errorf("Fn::Sub: expected a string or [string, variables], got a list of %d", len(a))
		}
		s, ok := a[0].(string)
		if !ok {
			return "", fmt.Errorf("Fn::Sub: expected a literal string, got %s", describe(a[0]))
		}
		m, ok := a[1].(map[string]any)
		if !ok {
			return "", fmt.Errorf("Fn::Sub: variables: expected an object, got %s", describe(a[1]))
		}
		text, vars = s, m
	default:
		return "", fmt.Errorf("Fn::Sub: expected a string or [string, variables], got %s", describe(arg))
	}

	var b strings.Builder
	for {
		start := strings.Index(text, "${")
		if start < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		end := strings.IndexByte(text[start:], '}')
		if end < 0 {
			return "", fmt.Errorf("Fn::Sub: unterminated ${ in %q", text[start:])
		}
		end += start
		b.WriteString(text[:start])
		name := text[start+2 : end]
		text = text[end+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			// ${!Literal} writes ${Literal}.
			b.WriteString("${" + lit + "}")
			continue
		}
		name = strings.TrimSpace(name)
		var s string
		var err error
		if v, ok := vars[name]; ok {
			s, err = e.str(v)
		} else {
			s, err = e.subName(name)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
}

// subName evaluates ${Name} (a Ref) or ${Id.Attr} (a Fn::GetAtt).
func (e evaluator) subName(name string) (string, error) {
	if name == "" {
		return "", errors.New("Fn::Sub: empty ${}")
	}
	if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
		return e.call("Fn::GetAtt", []any{id, attr})
	}
	return e.call("Ref", name)
}
