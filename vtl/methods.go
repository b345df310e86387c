package vtl

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode"
)

// errNoMethod means Velocity's introspection finds no such method or
// property: the reference then evaluates to null.
var errNoMethod = errors.New("no such method")

// errNoClass refuses reflection: Java class names have no equivalent here.
var errNoClass = errors.New("getClass()/.class is not supported")

// getProperty resolves $obj.name the way UberspectImpl.getPropertyGet does:
// a getter (getName/getname), then Map.get, then isName.
func getProperty(r *renderer, obj any, name string) (any, error) {
	if name == "class" {
		return nil, errNoClass
	}
	if l, ok := obj.(lazyMap); ok {
		return l.lazyGet(name), nil
	}
	switch x := obj.(type) {
	case *Map:
		return x.Get(name), nil
	case *foreachScope:
		switch name {
		case "index":
			return int32(x.index), nil
		case "count":
			return int32(x.index + 1), nil
		case "hasNext":
			return x.hasNext, nil
		case "first":
			return x.index < 1, nil
		case "last":
			return !x.hasNext, nil
		case "parent":
			if x.parent == nil {
				return nil, nil
			}
			return x.parent, nil
		case "topmost":
			t := x
			for t.parent != nil {
				t = t.parent
			}
			return t, nil
		}
		return nil, nil
	case *Input:
		if name == "body" {
			return x.body, nil
		}
		return nil, nil
	case string:
		if name == "empty" {
			return len(x) == 0, nil
		}
		if name == "bytes" {
			return nil, errors.New("String.getBytes is not supported")
		}
		return nil, nil
	case *List:
		if name == "empty" && x.Kind != JavaArray {
			return len(x.Items) == 0, nil
		}
		return nil, nil
	}
	return nil, nil
}

// callMethod invokes $obj.name(args). An unknown method, or arguments no
// overload accepts, give nil (Velocity renders the reference as written);
// an exception the Java method would throw gives an error.
func callMethod(r *renderer, obj any, name string, args []any) (any, error) {
	if name == "getClass" && len(args) == 0 {
		return nil, errNoClass
	}
	obj = unlazy(obj)
	var res any
	var err error
	switch x := obj.(type) {
	case string:
		res, err = stringMethod(x, name, args)
		if rs, ok := res.(string); ok && rs == x {
			res = obj // unchanged: reuse the boxed receiver
		}
	case *List:
		res, err = listMethod(x, name, args)
	case *Map:
		res, err = mapMethod(x, name, args)
	case *foreachScope:
		res, err = scopeMethod(x, name, args)
	case *Input:
		res, err = x.method(name, args)
	case Util:
		res, err = utilMethod(name, args)
	case JChar:
		res, err = objectMethod(x, name, args)
	case bool, int32, int64, float64, *big.Int:
		res, err = objectMethod(x, name, args)
	default:
		err = errNoMethod
	}
	if err == errNoMethod {
		return nil, nil
	}
	return res, err
}

func objectMethod(x any, name string, args []any) (any, error) {
	switch {
	case name == "toString" && len(args) == 0:
		return toJavaString(x), nil
	case name == "equals" && len(args) == 1:
		return javaEquals(x, args[0]), nil
	case name == "intValue" && len(args) == 0 && isNumber(x):
		return intValue(x), nil
	case name == "longValue" && len(args) == 0 && isNumber(x):
		return longValue(x), nil
	case name == "doubleValue" && len(args) == 0 && isNumber(x):
		return floatValue(x), nil
	}
	return nil, errNoMethod
}

// intArg accepts what Java method invocation conversion passes to an int
// parameter: Integer (Short, Byte and Character do not occur here).
func intArg(v any) (int, bool) {
	switch x := v.(type) {
	case int32:
		return int(x), true
	case JChar:
		return int(x), true
	}
	return 0, false
}

// strArg accepts a String or CharSequence parameter (null included).
func strArg(v any) (string, bool, bool) {
	switch x := v.(type) {
	case nil:
		return "", true, true
	case string:
		return x, false, true
	}
	return "", false, false
}

func npe() error { return errors.New("java.lang.NullPointerException") }

func sioobe(format string, a ...any) error {
	return fmt.Errorf("java.lang.StringIndexOutOfBoundsException: "+format, a...)
}

func stringMethod(s, name string, args []any) (any, error) {
	switch len(args) {
	case 0:
		switch name {
		case "length":
			return int32(utf16Len(s)), nil
		case "isEmpty":
			return len(s) == 0, nil
		case "toLowerCase":
			return javaToLower(s), nil
		case "toUpperCase":
			return javaToUpper(s), nil
		case "trim":
			return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' }), nil
		case "toString", "intern":
			return s, nil
		case "hashCode":
			var h int32
			for _, u := range toUTF16(s) {
				h = 31*h + int32(u)
			}
			return h, nil
		}
	case 1:
		a := args[0]
		switch name {
		case "equals":
			return javaEquals(s, a), nil
		case "equalsIgnoreCase":
			t, ok := a.(string)
			return ok && strings.EqualFold(s, t) && utf16Len(s) == utf16Len(t), nil
		case "charAt":
			i, ok := intArg(a)
			if !ok {
				return nil, errNoMethod
			}
			u := toUTF16(s)
			if i < 0 || i >= len(u) {
				return nil, sioobe("index %d, length %d", i, len(u))
			}
			return JChar(u[i]), nil
		case "substring":
			i, ok := intArg(a)
			if !ok {
				return nil, errNoMethod
			}
			u := toUTF16(s)
			if i < 0 || i > len(u) {
				return nil, sioobe("begin %d, end %d, length %d", i, len(u), len(u))
			}
			return utf16ToString(u[i:]), nil
		case "concat":
			t, null, ok := strArg(a)
			if !ok {
				return nil, errNoMethod
			}
			if null {
				return nil, npe()
			}
			return s + t, nil
		case "contains", "startsWith", "endsWith", "indexOf", "lastIndexOf", "matches", "split", "compareTo":
			if c, ok := a.(JChar); ok && (name == "indexOf" || name == "lastIndexOf") {
				return charIndex(s, name, uint16(c), -1)
			}
			if c, ok := a.(int32); ok && (name == "indexOf" || name == "lastIndexOf") {
				if c < 0 || c > 0xffff {
					return int32(-1), nil
				}
				return charIndex(s, name, uint16(c), -1)
			}
			t, null, ok := strArg(a)
			if !ok {
				return nil, errNoMethod
			}
			if null {
				return nil, npe()
			}
			switch name {
			case "contains":
				return strings.Contains(s, t), nil
			case "startsWith":
				return strings.HasPrefix(s, t), nil
			case "endsWith":
				return strings.HasSuffix(s, t), nil
			case "indexOf":
				i := strings.Index(s, t)
				if i < 0 {
					return int32(-1), nil
				}
				return int32(utf16Index(s, i)), nil
			case "lastIndexOf":
				i := strings.LastIndex(s, t)
				if i < 0 {
					return int32(-1), nil
				}
				return int32(utf16Index(s, i)), nil
			case "matches":
				return javaMatches(t, s)
			case "split":
				return javaSplit(s, t, 0)
			case "compareTo":
				return int32(compareUTF16(s, t)), nil
			}
		}
	case 2:
		a, b := args[0], args[1]
		switch name {
		case "substring":
			i, ok1 := intArg(a)
			j, ok2 := intArg(b)
			if !ok1 || !ok2 {
				return nil, errNoMethod
			}
			u := toUTF16(s)
			if i < 0 || j > len(u) || i > j {
				return nil, sioobe("begin %d, end %d, length %d", i, j, len(u))
			}
			return utf16ToString(u[i:j]), nil
		case "replace":
			if c1, ok := a.(JChar); ok {
				c2, ok := b.(JChar)
				if !ok {
					return nil, errNoMethod
				}
				u := toUTF16(s)
				for k := range u {
					if u[k] == uint16(c1) {
						u[k] = uint16(c2)
					}
				}
				return utf16ToString(u), nil
			}
			t, n1, ok1 := strArg(a)
			rep, n2, ok2 := strArg(b)
			if !ok1 || !ok2 {
				return nil, errNoMethod
			}
			if n1 || n2 {
				return nil, npe()
			}
			return javaReplace(s, t, rep), nil
		case "replaceAll", "replaceFirst":
			re, n1, ok1 := strArg(a)
			rep, n2, ok2 := strArg(b)
			if !ok1 || !ok2 {
				return nil, errNoMethod
			}
			if n1 || n2 {
				return nil, npe()
			}
			return javaReplaceAll(s, re, rep, name == "replaceAll")
		case "split":
			re, n1, ok1 := strArg(a)
			lim, ok2 := intArg(b)
			if !ok1 || !ok2 {
				return nil, errNoMethod
			}
			if n1 {
				return nil, npe()
			}
			return javaSplit(s, re, lim)
		case "indexOf", "lastIndexOf":
			from, ok := intArg(b)
			if !ok {
				return nil, errNoMethod
			}
			if c, ok := a.(JChar); ok {
				return charIndex(s, name, uint16(c), from)
			}
			t, null, ok := strArg(a)
			if !ok {
				return nil, errNoMethod
			}
			if null {
				return nil, npe()
			}
			return stringIndexFrom(s, t, name == "indexOf", from), nil
		case "startsWith":
			t, null, ok1 := strArg(a)
			off, ok2 := intArg(b)
			if !ok1 || !ok2 {
				return nil, errNoMethod
			}
			if null {
				return nil, npe()
			}
			u, p := toUTF16(s), toUTF16(t)
			if off < 0 || off > len(u)-len(p) {
				return false, nil
			}
			for k := range p {
				if u[off+k] != p[k] {
					return false, nil
				}
			}
			return true, nil
		}
	}
	return nil, errNoMethod
}

// javaReplace is String.replace(CharSequence, CharSequence); an empty
// target inserts the replacement between every UTF-16 unit.
func javaReplace(s, t, rep string) string {
	if t != "" {
		return strings.ReplaceAll(s, t, rep)
	}
	u := toUTF16(s)
	var b strings.Builder
	b.WriteString(rep)
	for _, c := range u {
		b.WriteString(utf16ToString([]uint16{c}))
		b.WriteString(rep)
	}
	return b.String()
}

func charIndex(s, name string, c uint16, from int) (any, error) {
	u := toUTF16(s)
	if name == "indexOf" {
		if from < 0 {
			from = 0
		}
		for i := from; i < len(u); i++ {
			if u[i] == c {
				return int32(i), nil
			}
		}
		return int32(-1), nil
	}
	start := len(u) - 1
	if from >= 0 && from < start {
		start = from
	}
	for i := start; i >= 0; i-- {
		if u[i] == c {
			return int32(i), nil
		}
	}
	return int32(-1), nil
}

func stringIndexFrom(s, t string, forward bool, from int) int32 {
	u, p := toUTF16(s), toUTF16(t)
	if forward {
		if from < 0 {
			from = 0
		}
		for i := from; i+len(p) <= len(u); i++ {
			if equalUnits(u[i:i+len(p)], p) {
				return int32(i)
			}
		}
		if from >= len(u) && len(p) == 0 {
			return int32(len(u))
		}
		return -1
	}
	start := len(u) - len(p)
	if from < start {
		start = from
	}
	for i := start; i >= 0; i-- {
		if equalUnits(u[i:i+len(p)], p) {
			return int32(i)
		}
	}
	return -1
}

func equalUnits(a, b []uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func compareUTF16(a, b string) int {
	u, v := toUTF16(a), toUTF16(b)
	for i := 0; i < len(u) && i < len(v); i++ {
		if u[i] != v[i] {
			return int(u[i]) - int(v[i])
		}
	}
	return len(u) - len(v)
}

// javaToLower/Upper follow String.toLowerCase/toUpperCase in the root
// locale: Go's simple case mapping plus the SpecialCasing entries Java
// applies (İ lowers to i̇, a final Σ to ς, ß and the ligatures upper to
// several letters). Rarer multi-letter uppercase mappings (Greek with
// ypogegrammeni, Armenian ligatures) are listed in DIFFERENCES.md.
func javaToLower(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		switch {
		case r == 'İ':
			b.WriteString("i\u0307")
		case r == 'Σ' && finalSigma(rs, i):
			b.WriteRune('ς')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is Unicode's Final_Sigma condition: a cased letter (skipping
// case-ignorable characters) before, none after.
func finalSigma(rs []rune, i int) bool {
	before := false
	for j := i - 1; j >= 0; j-- {
		if caseIgnorable(rs[j]) {
			continue
		}
		before = isCased(rs[j])
		break
	}
	if !before {
		return false
	}
	for j := i + 1; j < len(rs); j++ {
		if caseIgnorable(rs[j]) {
			continue
		}
		return !isCased(rs[j])
	}
	return true
}

func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
}

func caseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) || r == '\'' || r == '.' || r == ':' || r == '·'
}

var upperSpecial = map[rune]string{
	'ß': "SS", 'ŉ': "ʼN", 'ǰ': "J̌", 'ΐ': "Ϊ́", 'ΰ': "Ϋ́", 'և': "ԵՒ",
	'ẖ': "H̱", 'ẗ': "T̈", 'ẘ': "W̊", 'ẙ': "Y̊", 'ẚ': "Aʾ",
	'ﬀ': "FF", 'ﬁ': "FI", 'ﬂ': "FL", 'ﬃ': "FFI", 'ﬄ': "FFL", 'ﬅ': "ST", 'ﬆ': "ST",
	'ﬓ': "ՄՆ", 'ﬔ': "ՄԵ", 'ﬕ': "ՄԻ", 'ﬖ': "ՎՆ", 'ﬗ': "ՄԽ",
}

func javaToUpper(s string) string {
	if isASCII(s) {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	for _, r := range s {
		if m, ok := upperSpecial[r]; ok {
			b.WriteString(m)
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func listMethod(l *List, name string, args []any) (any, error) {
	switch len(args) {
	case 0:
		switch name {
		case "size":
			return int32(len(l.Items)), nil
		case "isEmpty":
			return len(l.Items) == 0, nil
		case "toString":
			if l.Kind == JavaArray {
				return nil, errNoMethod
			}
			return toJavaString(l), nil
		case "clear":
			if l.Kind == JavaArray {
				return nil, errors.New("java.lang.UnsupportedOperationException")
			}
			l.Items = l.Items[:0]
			return "", nil
		}
	case 1:
		a := args[0]
		switch name {
		case "get":
			i, ok := intArg(a)
			if !ok {
				return nil, errNoMethod
			}
			return listGet(l, i)
		case "contains":
			for _, e := range l.Items {
				if javaEquals(a, e) {
					return true, nil
				}
			}
			return false, nil
		case "indexOf":
			for i, e := range l.Items {
				if javaEquals(a, e) {
					return int32(i), nil
				}
			}
			return int32(-1), nil
		case "add":
			if l.Kind == JavaArray {
				return nil, errors.New("java.lang.UnsupportedOperationException")
			}
			l.Items = append(l.Items, a)
			return true, nil
		case "equals":
			return javaEquals(l, a), nil
		}
	case 2:
		if name == "set" {
			i, ok := intArg(args[0])
			if !ok {
				return nil, errNoMethod
			}
			old, err := listGet(l, i)
			if err != nil {
				return nil, err
			}
			l.Items[i] = args[1]
			return old, nil
		}
	}
	return nil, errNoMethod
}

func listGet(l *List, i int) (any, error) {
	if i < 0 || i >= len(l.Items) {
		return nil, fmt.Errorf("java.lang.IndexOutOfBoundsException: Index %d out of bounds for length %d", i, len(l.Items))
	}
	return l.Items[i], nil
}

func mapMethod(m *Map, name string, args []any) (any, error) {
	switch len(args) {
	case 0:
		switch name {
		case "size":
			return int32(m.Len()), nil
		case "isEmpty":
			return m.Len() == 0, nil
		case "keySet":
			return &List{Items: append([]any(nil), m.keys...)}, nil
		case "values":
			return &List{Items: append([]any(nil), m.vals...)}, nil
		case "entrySet":
			return nil, errors.New("entrySet is not supported")
		case "toString":
			return toJavaString(m), nil
		case "clear":
			m.clear()
			return "", nil
		}
	case 1:
		switch name {
		case "get":
			return m.Get(args[0]), nil
		case "containsKey":
			return m.Has(args[0]), nil
		case "containsValue":
			for _, k := range m.keys {
				if javaEquals(args[0], m.Get(k)) {
					return true, nil
				}
			}
			return false, nil
		case "remove":
			return m.Remove(args[0]), nil
		case "equals":
			return javaEquals(m, args[0]), nil
		}
	case 2:
		if name == "put" {
			return m.Put(args[0], args[1]), nil
		}
	}
	return nil, errNoMethod
}

func scopeMethod(s *foreachScope, name string, args []any) (any, error) {
	if len(args) != 0 {
		return nil, errNoMethod
	}
	switch name {
	case "getIndex":
		return int32(s.index), nil
	case "getCount":
		return int32(s.index + 1), nil
	case "hasNext", "getHasNext":
		return s.hasNext, nil
	case "isFirst", "getFirst":
		return s.index < 1, nil
	case "isLast", "getLast":
		return !s.hasNext, nil
	case "getParent":
		if s.parent == nil {
			return nil, nil
		}
		return s.parent, nil
	case "getTopmost":
		return getProperty(nil, s, "topmost")
	}
	return nil, errNoMethod
}

// indexValue is ASTIndex: $obj[i] calls get(i), negative indexes count from
// the end.
func indexValue(obj, idx any) (any, error) {
	switch x := unlazy(obj).(type) {
	case *List:
		i, ok := idx.(int32)
		if !ok {
			return nil, nil
		}
		if i < 0 {
			i += int32(len(x.Items))
		}
		return listGet(x, int(i))
	case *Map:
		if i, ok := idx.(int32); ok && i < 0 {
			i += int32(x.Len())
			idx = i
		}
		return x.Get(idx), nil
	case string:
		if i, ok := idx.(int32); ok && i < 0 {
			return nil, errors.New("a 'size()' method required for negative value does not exist for class 'java.lang.String'")
		}
		return nil, nil
	}
	return nil, nil
}
