package vtl

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Values follow the Java objects Velocity would see, because rendering and
// comparison depend on the Java class: string (String), bool (Boolean),
// int32 (Integer), int64 (Long), *big.Int (BigInteger), float64 (Double),
// JChar (Character), *List, *Map and nil (null).

// JChar is a Java char (a UTF-16 code unit), as returned by charAt.
type JChar uint16

// ListKind tells which Java class a *List stands for; it changes toString.
type ListKind uint8

const (
	// ArrayList renders as [a, b] (AbstractCollection.toString).
	ArrayList ListKind = iota
	// JSONArray (json-smart) renders as compact JSON, escaping "/".
	JSONArray
	// JavaArray is a String[] from split; Java renders it with an identity
	// hash code, which we cannot reproduce.
	JavaArray
)

// List is a Java list or array.
type List struct {
	Items []any
	Kind  ListKind
}

// Map is an insertion-ordered map (Java LinkedHashMap; json-smart objects
// parsed in ordered mode are LinkedHashMaps too). Keys are Java values.
// Small maps, which is nearly all of them, are searched linearly.
type Map struct {
	keys  []any
	vals  []any
	index map[any]int // for maps above smallMap entries
}

const smallMap = 16

// NewMap returns an empty Map.
func NewMap() *Map { return &Map{} }

// mapKey makes Java-equal keys Go-equal (big integers compare by value).
func mapKey(k any) any {
	switch x := k.(type) {
	case *big.Int:
		return "\x00big:" + x.String()
	case *BigDecimal:
		return "\x00dec:" + x.unscaled.String() + "e" + strconv.Itoa(x.scale)
	}
	return k
}

func (m *Map) find(k any) int {
	mk := mapKey(k)
	if m.index != nil {
		if i, ok := m.index[mk]; ok {
			return i
		}
		return -1
	}
	if s, ok := mk.(string); ok {
		for i, kk := range m.keys {
			if ks, ok := kk.(string); ok && ks == s {
				return i
			}
		}
		return -1
	}
	for i, kk := range m.keys {
		if mapKey(kk) == mk {
			return i
		}
	}
	return -1
}

// Put sets k to v, keeping the first insertion position, and returns the
// previous value.
func (m *Map) Put(k, v any) any {
	if i := m.find(k); i >= 0 {
		old := m.vals[i]
		m.vals[i] = v
		return old
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
	if m.index != nil {
		m.index[mapKey(k)] = len(m.keys) - 1
	} else if len(m.keys) > smallMap {
		m.reindex()
	}
	return nil
}

func (m *Map) reindex() {
	m.index = make(map[any]int, len(m.keys))
	for i, k := range m.keys {
		m.index[mapKey(k)] = i
	}
}

// Get returns the value for k, or nil.
func (m *Map) Get(k any) any {
	if i := m.find(k); i >= 0 {
		return m.vals[i]
	}
	return nil
}

// Has tells whether k is a key.
func (m *Map) Has(k any) bool { return m.find(k) >= 0 }

// Remove deletes k and returns its value.
func (m *Map) Remove(k any) any {
	i := m.find(k)
	if i < 0 {
		return nil
	}
	old := m.vals[i]
	m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
	m.vals = append(m.vals[:i:i], m.vals[i+1:]...)
	if m.index != nil {
		m.reindex()
	}
	return old
}

// Keys returns the keys in insertion order.
func (m *Map) Keys() []any { return m.keys }

// Len is the number of entries.
func (m *Map) Len() int { return len(m.keys) }

func (m *Map) clear() { m.keys, m.vals, m.index = nil, nil, nil }

// fromGo converts plain Go data into engine values.
func fromGo(v any) any {
	switch x := v.(type) {
	case string:
		if utf8.ValidString(x) {
			return v // already boxed: no new allocation
		}
		return NormalizeUTF8(x)
	case nil, bool, int32, int64, float64, *big.Int, *BigDecimal, JChar, *List, *Map, *foreachScope, *Input, Util, lazyMap:
		return x
	case int:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return int32(x)
		}
		return int64(x)
	case int8:
		return int32(x)
	case int16:
		return int32(x)
	case uint8:
		return int32(x)
	case uint16:
		return int32(x)
	case uint32:
		return int64(x)
	case uint:
		return new(big.Int).SetUint64(uint64(x))
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return new(big.Int).SetUint64(x)
	case float32:
		return float64(x)
	case []any:
		l := &List{Items: make([]any, len(x))}
		for i, e := range x {
			l.Items[i] = fromGo(e)
		}
		return l
	case []string:
		l := &List{Items: make([]any, len(x))}
		for i, e := range x {
			l.Items[i] = NormalizeUTF8(e)
		}
		return l
	case map[string]any:
		m := NewMap()
		for _, k := range slices.Sorted(maps.Keys(x)) {
			m.Put(NormalizeUTF8(k), fromGo(x[k]))
		}
		return m
	case map[string]string:
		m := NewMap()
		for _, k := range slices.Sorted(maps.Keys(x)) {
			m.Put(NormalizeUTF8(k), NormalizeUTF8(x[k]))
		}
		return m
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func parseBigInt(s string) *big.Int {
	b, _ := new(big.Int).SetString(s, 10)
	return b
}

// ---- numbers ----

func isNumber(v any) bool {
	switch v.(type) {
	case int32, int64, *big.Int, float64, *BigDecimal:
		return true
	}
	return false
}

func intValue(v any) int32 {
	switch x := v.(type) {
	case int32:
		return x
	case int64:
		return int32(x)
	case *big.Int:
		return int32(x.Int64())
	case float64:
		return int32(javaD2L(x))
	case *BigDecimal:
		return int32(x.toBigInt().Int64())
	}
	return 0
}

func javaD2L(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func longValue(v any) int64 {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int64:
		return x
	case *big.Int:
		return x.Int64()
	case float64:
		return javaD2L(x)
	case *BigDecimal:
		return x.toBigInt().Int64()
	}
	return 0
}

func floatValue(v any) float64 {
	switch x := v.(type) {
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case float64:
		return x
	case *BigDecimal:
		f, _ := strconv.ParseFloat(x.String(), 64)
		return f
	}
	return 0
}

func bigValue(v any) *big.Int {
	if b, ok := v.(*big.Int); ok {
		return b
	}
	return big.NewInt(longValue(v))
}

// Calculation bases of MathUtils.findCalculationBase (no Float or
// BigDecimal: templates cannot produce them).
const (
	baseLong = iota
	baseDouble
	baseBigInteger
	baseBigDecimal
)

func calcBase(a, b any) int {
	_, ad := a.(*BigDecimal)
	_, bd := b.(*BigDecimal)
	if ad || bd {
		return baseBigDecimal
	}
	_, af := a.(float64)
	_, bf := b.(float64)
	_, ab := a.(*big.Int)
	_, bb := b.(*big.Int)
	if (af || bf) && (ab || bb) {
		return baseBigDecimal
	}
	if af || bf {
		return baseDouble
	}
	if ab || bb {
		return baseBigInteger
	}
	return baseLong
}

func typeRank(v any) int {
	if _, ok := v.(int32); ok {
		return 2
	}
	return 3
}

// wrapLong is MathUtils.wrapPrimitive: the smallest of the operands' types
// that holds the result.
func wrapLong(r int64, a, b any) any {
	if max(typeRank(a), typeRank(b)) == 2 && r >= math.MinInt32 && r <= math.MaxInt32 {
		return int32(r)
	}
	return r
}

func normBig(b *big.Int) any { return b }

func arith(op int, a, b any) (any, error) {
	switch calcBase(a, b) {
	case baseLong:
		x, y := longValue(a), longValue(b)
		switch op {
		case tkPlus:
			r := x + y
			if (r^x) < 0 && (r^y) < 0 {
				return normBig(new(big.Int).Add(big.NewInt(x), big.NewInt(y))), nil
			}
			return wrapLong(r, a, b), nil
		case tkMinus:
			r := x - y
			if (r^x) < 0 && (r^^y) < 0 {
				return normBig(new(big.Int).Sub(big.NewInt(x), big.NewInt(y))), nil
			}
			return wrapLong(r, a, b), nil
		case tkMultiply:
			r := x * y
			if y != 0 && (r/y != x || (x == math.MinInt64 && y == -1)) {
				return normBig(new(big.Int).Mul(big.NewInt(x), big.NewInt(y))), nil
			}
			return wrapLong(r, a, b), nil
		case tkDivide:
			if y == 0 {
				return nil, nil
			}
			if x == math.MinInt64 && y == -1 {
				return wrapLong(x, a, b), nil
			}
			return wrapLong(x/y, a, b), nil
		default:
			if y == 0 {
				return nil, nil
			}
			if y == -1 {
				return wrapLong(0, a, b), nil
			}
			return wrapLong(x%y, a, b), nil
		}
	case baseBigInteger:
		x, y := bigValue(a), bigValue(b)
		switch op {
		case tkPlus:
			return new(big.Int).Add(x, y), nil
		case tkMinus:
			return new(big.Int).Sub(x, y), nil
		case tkMultiply:
			return new(big.Int).Mul(x, y), nil
		case tkDivide:
			if y.Sign() == 0 {
				return nil, nil
			}
			return new(big.Int).Quo(x, y), nil
		default:
			if y.Sign() == 0 {
				return nil, nil
			}
			if y.Sign() < 0 {
				return nil, fmt.Errorf("java.lang.ArithmeticException: BigInteger: modulus not positive")
			}
			return new(big.Int).Mod(x, y), nil
		}
	case baseDouble:
		x, y := floatValue(a), floatValue(b)
		switch op {
		case tkPlus:
			return x + y, nil
		case tkMinus:
			return x - y, nil
		case tkMultiply:
			return x * y, nil
		case tkDivide:
			if y == 0 {
				return nil, nil
			}
			return x / y, nil
		default:
			if y == 0 {
				return nil, nil
			}
			return math.Mod(x, y), nil
		}
	}
	x, err := toBigDecimal(a)
	if err != nil {
		return nil, err
	}
	y, err := toBigDecimal(b)
	if err != nil {
		return nil, err
	}
	switch op {
	case tkPlus:
		return x.add(y), nil
	case tkMinus:
		return x.add(y.neg()), nil
	case tkMultiply:
		return &BigDecimal{unscaled: new(big.Int).Mul(x.unscaled, y.unscaled), scale: x.scale + y.scale}, nil
	case tkDivide:
		if y.unscaled.Sign() == 0 {
			return nil, nil
		}
		return x.divHalfDown(y), nil
	}
	if y.unscaled.Sign() == 0 {
		return nil, nil
	}
	return nil, errors.New("java.lang.ArithmeticException: Cannot calculate the modulo of BigDecimals")
}

func compareNumbers(a, b any) int {
	switch calcBase(a, b) {
	case baseLong:
		x, y := longValue(a), longValue(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case baseBigInteger:
		return bigValue(a).Cmp(bigValue(b))
	case baseBigDecimal:
		x, err1 := toBigDecimal(a)
		y, err2 := toBigDecimal(b)
		if err1 != nil || err2 != nil {
			return 0
		}
		return x.cmp(y)
	default:
		x, y := floatValue(a), floatValue(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
}

// ---- Java equality and strings ----

func javaClass(v any) string {
	switch unlazy(v).(type) {
	case string:
		return "String"
	case bool:
		return "Boolean"
	case int32:
		return "Integer"
	case int64:
		return "Long"
	case *big.Int:
		return "BigInteger"
	case float64:
		return "Double"
	case JChar:
		return "Character"
	case *List:
		return "List"
	case *Map:
		return "Map"
	case *foreachScope:
		return "Scope"
	}
	return fmt.Sprintf("%T", v)
}

// sameJavaHierarchy approximates Class.isAssignableFrom either way. Lists
// (ArrayList, JSONArray) and maps (LinkedHashMap) are treated as one class
// each, which holds for the values templates can build.
func sameJavaHierarchy(a, b any) bool {
	a, b = unlazy(a), unlazy(b)
	ca, cb := javaClass(a), javaClass(b)
	if ca == cb {
		if la, ok := a.(*List); ok {
			lb := b.(*List)
			return (la.Kind == JavaArray) == (lb.Kind == JavaArray)
		}
		return true
	}
	return false
}

// javaEquals is Object.equals for our values.
func javaEquals(a, b any) bool {
	a, b = unlazy(a), unlazy(b)
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case float64:
		y, ok := b.(float64)
		return ok && (math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y)))
	case *List:
		y, ok := b.(*List)
		if !ok {
			return false
		}
		if x.Kind == JavaArray || y.Kind == JavaArray {
			return x == y
		}
		if len(x.Items) != len(y.Items) {
			return false
		}
		for i := range x.Items {
			if !javaEquals(x.Items[i], y.Items[i]) {
				return false
			}
		}
		return true
	case *Map:
		y, ok := b.(*Map)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.keys {
			if !y.Has(k) || !javaEquals(x.Get(k), y.Get(k)) {
				return false
			}
		}
		return true
	case *foreachScope:
		return a == b
	}
	return a == b
}

// toJavaString is String.valueOf(v) for a non-null value.
func toJavaString(v any) string {
	var b bytes.Buffer
	writeJava(&b, v)
	return b.String()
}

// writeJava writes v.toString().
func writeJava(w *bytes.Buffer, v any) {
	switch x := unlazy(v).(type) {
	case nil:
		w.WriteString("null")
	case string:
		w.WriteString(x)
	case bool:
		w.WriteString(strconv.FormatBool(x))
	case int32:
		w.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		w.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		w.WriteString(x.String())
	case float64:
		w.WriteString(javaDouble(x))
	case JChar:
		w.WriteString(utf16ToString([]uint16{uint16(x)}))
	case *List:
		switch x.Kind {
		case JSONArray:
			writeJSON(w, x, true)
		case JavaArray:
			w.WriteString("[Ljava.lang.String;@0")
		default:
			w.WriteByte('[')
			for i, e := range x.Items {
				if i > 0 {
					w.WriteString(", ")
				}
				if e == any(x) {
					w.WriteString("(this Collection)")
				} else {
					writeJava(w, e)
				}
			}
			w.WriteByte(']')
		}
	case *Map:
		w.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				w.WriteString(", ")
			}
			writeJava(w, k)
			w.WriteByte('=')
			if e := x.Get(k); e == any(x) {
				w.WriteString("(this Map)")
			} else {
				writeJava(w, e)
			}
		}
		w.WriteByte('}')
	case *foreachScope:
		w.WriteString("{}")
	case *Input:
		w.WriteString("$input")
	case Util:
		w.WriteString("$util")
	default:
		fmt.Fprint(w, x)
	}
}

// javaDouble is Double.toString.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	var digits string
	var exp int
	neg := f < 0
	abs := math.Abs(f)
	if ld, le, ok := javaLongDigits(abs); ok {
		digits, exp = ld, le
	} else {
		// Shortest digits that round-trip, as Java's general path prints
		// in all but rare cases (see DIFFERENCES.md).
		s := strconv.FormatFloat(abs, 'e', -1, 64)
		mant, expS, _ := strings.Cut(s, "e")
		exp, _ = strconv.Atoi(expS)
		digits = strings.Replace(mant, ".", "", 1)
	}
	var out string
	if abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			if len(digits) <= exp+1 {
				out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
			} else {
				out = digits[:exp+1] + "." + digits[exp+1:]
			}
		} else {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		}
	} else {
		frac := digits[1:]
		if frac == "" {
			frac = "0"
		}
		out = digits[:1] + "." + frac + "E" + strconv.Itoa(exp)
	}
	if neg {
		return "-" + out
	}
	return out
}

// insignificantDigits is FloatingDecimal.insignificantDigitsNumber.
var insignificantDigits = [...]int{
	0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3,
	4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7,
	8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 11, 11, 11,
	12, 12, 12, 12, 13, 13, 13, 14, 14, 14,
	15, 15, 15, 15, 16, 16, 16, 17, 17, 17,
	18, 18, 18, 19,
}

// javaLongDigits is the integer fast path of Java 8-18's
// FloatingDecimal.dtoa: a double holding an integer below 2^63 prints its
// exact digits, less a few "insignificant" ones for large binary exponents,
// which is not always the shortest form (2.82879384806159008E17). It
// returns the digits without trailing zeros and the decimal exponent of
// the first digit.
func javaLongDigits(abs float64) (string, int, bool) {
	if abs < 1 || abs >= 1<<63 || abs != math.Trunc(abs) {
		return "", 0, false
	}
	binExp := int(math.Float64bits(abs)>>52&0x7ff) - 1023
	l := uint64(abs)
	ins := 0
	if binExp > 53 {
		if p2 := binExp - 54; p2 > 1 && p2 < len(insignificantDigits) {
			ins = insignificantDigits[p2]
		}
	}
	if ins > 0 {
		pow10 := uint64(1)
		for i := 0; i < ins; i++ {
			pow10 *= 10
		}
		residue := l % pow10
		l /= pow10
		if residue >= pow10>>1 {
			l++
		}
	}
	d := strconv.FormatUint(l, 10)
	exp := len(d) - 1 + ins
	d = strings.TrimRight(d, "0")
	return d, exp, true
}

// ---- UTF-16 helpers: Java string indices count UTF-16 units ----

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func toUTF16(s string) []uint16 { return utf16.Encode([]rune(s)) }

// utf16ToString decodes UTF-16; a lone surrogate becomes U+FFFD, as Java's
// UTF-8 encoder would make it "?" — neither can be represented faithfully.
func utf16ToString(u []uint16) string { return string(utf16.Decode(u)) }

func utf16Len(s string) int {
	if isASCII(s) {
		return len(s)
	}
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// utf16Index converts a byte offset in s into a UTF-16 index.
func utf16Index(s string, byteOff int) int { return utf16Len(s[:byteOff]) }
