package vtl

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// API Gateway parses bodies with Jayway JsonPath's default provider,
// json-smart 2 in permissive mode: unquoted and single-quoted strings,
// NaN, leading zeros, useless commas and trailing garbage are all accepted,
// and a body like a=b&c=d is the string "a=b&c=d". jsonParser ports that
// parser (JSONParserString) so $input.path and $util.parseJson see the same
// values; encoding/json would reject most of these bodies.

// JSONParseError is json-smart's ParseException. API Gateway fails the
// request with it when a template reads a body that is not JSON.
type JSONParseError struct {
	Pos int
	Msg string
}

func (e *JSONParseError) Error() string {
	return "net.minidev.json.parser.ParseException: " + e.Msg
}

// BigDecimal is a java.math.BigDecimal from a long JSON decimal.
type BigDecimal struct {
	unscaled *big.Int
	scale    int
}

func (d *BigDecimal) String() string {
	s := d.unscaled.String()
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	adjusted := len(s) - 1 - d.scale
	var out string
	if d.scale >= 0 && adjusted >= -6 {
		if d.scale == 0 {
			out = s
		} else if len(s) > d.scale {
			out = s[:len(s)-d.scale] + "." + s[len(s)-d.scale:]
		} else {
			out = "0." + strings.Repeat("0", d.scale-len(s)) + s
		}
	} else {
		out = s[:1]
		if len(s) > 1 {
			out += "." + s[1:]
		}
		out += "E"
		if adjusted >= 0 {
			out += "+"
		}
		out += strconv.Itoa(adjusted)
	}
	if neg {
		return "-" + out
	}
	return out
}

// toBigDecimal is MathUtils.toBigDecimal: doubles convert exactly.
func toBigDecimal(v any) (*BigDecimal, error) {
	switch x := v.(type) {
	case *BigDecimal:
		return x, nil
	case *big.Int:
		return &BigDecimal{unscaled: x, scale: 0}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("java.lang.NumberFormatException: Infinite or NaN")
		}
		txt := new(big.Float).SetPrec(0).SetFloat64(x).Text('f', 1100)
		if strings.Contains(txt, ".") {
			txt = strings.TrimRight(strings.TrimRight(txt, "0"), ".")
		}
		d, _ := parseBigDecimal(txt)
		return d, nil
	}
	return &BigDecimal{unscaled: big.NewInt(longValue(v)), scale: 0}, nil
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

func (d *BigDecimal) rescale(scale int) *big.Int {
	if scale == d.scale {
		return d.unscaled
	}
	return new(big.Int).Mul(d.unscaled, pow10(scale-d.scale))
}

func (d *BigDecimal) neg() *BigDecimal {
	return &BigDecimal{unscaled: new(big.Int).Neg(d.unscaled), scale: d.scale}
}

func (d *BigDecimal) add(e *BigDecimal) *BigDecimal {
	s := max(d.scale, e.scale)
	return &BigDecimal{unscaled: new(big.Int).Add(d.rescale(s), e.rescale(s)), scale: s}
}

func (d *BigDecimal) cmp(e *BigDecimal) int {
	s := max(d.scale, e.scale)
	return d.rescale(s).Cmp(e.rescale(s))
}

// divHalfDown is BigDecimal.divide(e, ROUND_HALF_DOWN): d's scale.
func (d *BigDecimal) divHalfDown(e *BigDecimal) *BigDecimal {
	num := new(big.Int).Set(d.unscaled)
	den := new(big.Int).Set(e.unscaled)
	if e.scale >= 0 {
		num.Mul(num, pow10(e.scale))
	} else {
		den.Mul(den, pow10(-e.scale))
	}
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		// Compare 2|r| with |den|: round away from zero only above half.
		twice := new(big.Int).Abs(r)
		twice.Lsh(twice, 1)
		if twice.Cmp(new(big.Int).Abs(den)) > 0 {
			if (num.Sign() < 0) != (den.Sign() < 0) {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return &BigDecimal{unscaled: q, scale: d.scale}
}

func (d *BigDecimal) toBigInt() *big.Int {
	if d.scale <= 0 {
		return d.rescale(0)
	}
	return new(big.Int).Quo(d.unscaled, pow10(d.scale))
}

func parseBigDecimal(s string) (*BigDecimal, bool) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil {
			return nil, false
		}
		mant, exp = s[:i], e
	}
	scale := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		scale = len(mant) - i - 1
		mant = mant[:i] + mant[i+1:]
	}
	u, ok := new(big.Int).SetString(mant, 10)
	if !ok {
		return nil, false
	}
	return &BigDecimal{unscaled: u, scale: scale - exp}, true
}

const eoi = 0x1a

type jsonParser struct {
	in    []rune
	pos   int
	c     rune
	depth int
	xs    string
}

// parseJSONPermissive parses s as json-smart's permissive mode does.
func parseJSONPermissive(s string) (v any, err error) {
	p := &jsonParser{in: []rune(s), pos: -1}
	defer func() {
		if r := recover(); r != nil {
			if pe, ok := r.(*JSONParseError); ok {
				v, err = nil, pe
				return
			}
			panic(r)
		}
	}()
	p.read()
	return p.readFirst(), nil
}

func (p *jsonParser) fail(pos int, format string, a ...any) {
	panic(&JSONParseError{Pos: pos, Msg: fmt.Sprintf(format, a...)})
}

func (p *jsonParser) unexpectedChar(pos int) {
	p.fail(pos, "Unexpected character (%c) at position %d.", p.c, pos)
}

func (p *jsonParser) unexpectedEOF(pos int) {
	p.fail(pos, "Unexpected End Of File position %d: null", pos)
}

func (p *jsonParser) read() {
	p.pos++
	if p.pos >= len(p.in) {
		p.c = eoi
	} else {
		p.c = p.in[p.pos]
	}
}

func (p *jsonParser) readNoEnd() {
	p.pos++
	if p.pos >= len(p.in) {
		p.c = eoi
		p.fail(p.pos-1, "Unexpected End Of File position %d: EOF", p.pos-1)
	}
	p.c = p.in[p.pos]
}

// Stop sets for unquoted strings.
const (
	stopX = iota
	stopKey
	stopValue
	stopArray
	stopAll
)

func isStop(set int, c rune) bool {
	if c == eoi {
		return true
	}
	if c < 0 || c >= '~' {
		return false
	}
	switch set {
	case stopKey:
		return c == ':'
	case stopValue:
		return c == ',' || c == '}'
	case stopArray:
		return c == ',' || c == ']'
	case stopAll:
		return c == ',' || c == ':' || c == ']' || c == '}'
	}
	return false
}

func (p *jsonParser) skipSpace() {
	for p.c <= ' ' && p.c != eoi {
		p.read()
	}
}

func (p *jsonParser) skipDigits() {
	for p.c >= '0' && p.c <= '9' {
		p.read()
	}
}

func (p *jsonParser) skipNQString(set int) {
	for !isStop(set, p.c) {
		p.read()
	}
}

func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

func (p *jsonParser) extractTrim(start, end int) {
	if end > len(p.in) {
		end = len(p.in)
	}
	p.xs = javaTrim(string(p.in[start:end]))
}

func (p *jsonParser) readNQString(set int) {
	start := p.pos
	p.skipNQString(set)
	p.extractTrim(start, p.pos)
}

func (p *jsonParser) readFirst() any {
	return p.readMain(stopX)
}

func (p *jsonParser) readMain(set int) any {
	for {
		switch p.c {
		case '\t', '\n', '\r', ' ':
			p.read()
			continue
		case ':', ']', '}':
			p.unexpectedChar(p.pos)
		case '{':
			return p.readObject()
		case '[':
			return p.readArray()
		case '"', '\'':
			p.readString()
			return p.xs
		case 'n':
			p.readNQString(set)
			if p.xs == "null" {
				return nil
			}
			return p.xs
		case 'f':
			p.readNQString(set)
			if p.xs == "false" {
				return false
			}
			return p.xs
		case 't':
			p.readNQString(set)
			if p.xs == "true" {
				return true
			}
			return p.xs
		case 'N':
			p.readNQString(set)
			if p.xs == "NaN" {
				return math.NaN()
			}
			return p.xs
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return p.readNumber(set)
		default:
			p.readNQString(set)
			return p.xs
		}
	}
}

func (p *jsonParser) readArray() any {
	p.depth++
	if p.depth > 400 {
		p.fail(p.pos, "Malicious payload, having non natural depths, parsing stoped on %c at position %d.", p.c, p.pos)
	}
	l := &List{Kind: JSONArray, Items: []any{}}
	p.read()
	for {
		switch p.c {
		case '\t', '\n', '\r', ' ':
			p.read()
		case ']':
			p.depth--
			p.read()
			return l
		case ':', '}':
			p.unexpectedChar(p.pos)
		case ',':
			p.read()
		case eoi:
			p.fail(p.pos-1, "Unexpected End Of File position %d: EOF", p.pos-1)
		default:
			l.Items = append(l.Items, p.readMain(stopArray))
		}
	}
}

func (p *jsonParser) readObject() any {
	p.depth++
	if p.depth > 400 {
		p.fail(p.pos, "Malicious payload, having non natural depths, parsing stoped on %c at position %d.", p.c, p.pos)
	}
	m := NewMap()
	acceptData := true
	for {
		p.read()
		switch p.c {
		case '\t', '\n', '\r', ' ':
			continue
		case ':', '[', ']', '{':
			p.unexpectedChar(p.pos)
		case '}':
			p.depth--
			p.read()
			return m
		case ',':
			acceptData = true
			continue
		}
		if p.c == '"' || p.c == '\'' {
			p.readString()
		} else {
			p.readNQString(stopKey)
		}
		key := p.xs
		if !acceptData {
			p.fail(p.pos, "Unexpected token %s at position %d.", key, p.pos)
		}
		p.skipSpace()
		if p.c != ':' {
			if p.c == eoi {
				p.unexpectedEOF(p.pos - 1)
			}
			p.unexpectedChar(p.pos - 1)
		}
		p.readNoEnd()
		v := p.readMain(stopValue)
		m.Put(key, v)
		p.skipSpace()
		if p.c == '}' {
			// json-smart 2.2 forgets to decrement depth here, so a body
			// with more than 400 non-empty objects fails; so do we.
			p.read()
			return m
		}
		if p.c == eoi {
			p.unexpectedEOF(p.pos - 1)
		}
		if p.c == ',' {
			acceptData = true
			continue
		}
		p.fail(p.pos-1, "Unexpected token %c at position %d.", p.c, p.pos-1)
	}
}

func (p *jsonParser) readString() {
	q := p.c
	end := -1
	for i := p.pos + 1; i < len(p.in); i++ {
		if p.in[i] == q {
			end = i
			break
		}
	}
	if end < 0 {
		p.unexpectedEOF(len(p.in))
	}
	s := p.in[p.pos+1 : end]
	hasBackslash := false
	for _, r := range s {
		if r == '\\' {
			hasBackslash = true
			break
		}
	}
	if !hasBackslash {
		p.xs = string(s)
		p.pos = end
		p.read()
		return
	}
	p.readString2()
}

func (p *jsonParser) readString2() {
	sep := p.c
	var sb []rune
	for {
		p.read()
		switch p.c {
		case eoi:
			p.unexpectedEOF(p.pos - 1)
		case '"', '\'':
			if sep == p.c {
				p.read()
				p.xs = runesToString(sb)
				return
			}
			sb = append(sb, p.c)
		case '\\':
			p.read()
			switch p.c {
			case 't':
				sb = append(sb, '\t')
			case 'n':
				sb = append(sb, '\n')
			case 'r':
				sb = append(sb, '\r')
			case 'f':
				sb = append(sb, '\f')
			case 'b':
				sb = append(sb, '\b')
			case '\\':
				sb = append(sb, '\\')
			case '/':
				sb = append(sb, '/')
			case '\'':
				sb = append(sb, '\'')
			case '"':
				sb = append(sb, '"')
			case 'u':
				sb = append(sb, p.readUnicode(4))
			case 'x':
				sb = append(sb, p.readUnicode(2))
			}
		default:
			if (p.c >= 0 && p.c <= 0x1f) || p.c == 0x7f {
				continue // ignoreControlChar
			}
			sb = append(sb, p.c)
		}
	}
}

func (p *jsonParser) readUnicode(n int) rune {
	v := 0
	for i := 0; i < n; i++ {
		v *= 16
		p.read()
		d, ok := hexVal(byte(p.c))
		if p.c > 0x7f || !ok {
			if p.c == eoi {
				p.fail(p.pos, "Unexpected End Of File position %d: EOF", p.pos)
			}
			p.fail(p.pos, "Unexpected unicode escape sequence %c at position %d.", p.c, p.pos)
		}
		v += d
	}
	// A lone surrogate cannot live in a Go string; pairs are joined later.
	return rune(v)
}

func (p *jsonParser) readNumber(set int) any {
	start := p.pos
	p.read()
	p.skipDigits()
	if p.c != '.' && p.c != 'E' && p.c != 'e' {
		p.skipSpace()
		if isStop(set, p.c) {
			p.extractTrim(start, p.pos)
			return parseSmartNumber(p.xs)
		}
		p.skipNQString(set)
		p.extractTrim(start, p.pos)
		return p.xs
	}
	if p.c == '.' {
		p.read()
		p.skipDigits()
	}
	if p.c != 'E' && p.c != 'e' {
		p.skipSpace()
		if isStop(set, p.c) {
			p.extractTrim(start, p.pos)
			return p.extractFloat()
		}
		p.skipNQString(set)
		p.extractTrim(start, p.pos)
		return p.xs
	}
	p.read()
	if p.c == '+' || p.c == '-' || (p.c >= '0' && p.c <= '9') {
		p.read()
		p.skipDigits()
		p.skipSpace()
		if isStop(set, p.c) {
			p.extractTrim(start, p.pos)
			return p.extractFloat()
		}
	}
	p.skipNQString(set)
	p.extractTrim(start, p.pos)
	return p.xs
}

func (p *jsonParser) extractFloat() any {
	if len(p.xs) > 18 {
		if d, ok := parseBigDecimal(p.xs); ok {
			return d
		}
		p.fail(p.pos, "Unexpected token %s at position %d.", p.xs, p.pos)
	}
	f, err := strconv.ParseFloat(p.xs, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f
		}
		// Double.parseDouble throws NumberFormatException, e.g. for "1.e".
		p.fail(p.pos, "NumberFormatException: %s", p.xs)
	}
	return f
}

// runesToString joins UTF-16 surrogate pairs that came from \u escapes.
func runesToString(rs []rune) string {
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if utf16.IsSurrogate(r) && i+1 < len(rs) {
			if d := utf16.DecodeRune(r, rs[i+1]); d != unicode.ReplacementChar {
				b.WriteRune(d)
				i++
				continue
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseSmartNumber is JSONParserBase.parseNumber with integer storage.
func parseSmartNumber(s string) any {
	neg := strings.HasPrefix(s, "-")
	digits := s
	if neg {
		digits = s[1:]
	}
	if digits == "" {
		return int32(0)
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return int32(v)
		}
		return v
	}
	return parseBigInt(s)
}

// ---- writing (json-smart JSONValue.toJSONString) ----

// writeJSON writes v as json-smart does; web escapes "/" (NO_COMPRESS, the
// toString of a JSONArray) or not (LT_COMPRESS, what $input.json uses).
func writeJSON(w *bytes.Buffer, v any, web bool) {
	switch x := unlazy(v).(type) {
	case nil:
		w.WriteString("null")
	case string:
		w.WriteByte('"')
		escapeJSONSmart(w, x, web)
		w.WriteByte('"')
	case JChar:
		w.WriteByte('"')
		escapeJSONSmart(w, toJavaString(x), web)
		w.WriteByte('"')
	case float64:
		if math.IsInf(x, 0) {
			w.WriteString("null")
		} else {
			w.WriteString(javaDouble(x))
		}
	case *List:
		w.WriteByte('[')
		for i, e := range x.Items {
			if i > 0 {
				w.WriteByte(',')
			}
			writeJSON(w, e, web)
		}
		w.WriteByte(']')
	case *Map:
		w.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteByte('"')
			escapeJSONSmart(w, toJavaString(k), web)
			w.WriteString(`":`)
			writeJSON(w, x.Get(k), web)
		}
		w.WriteByte('}')
	default:
		writeJava(w, v)
	}
}

func escapeJSONSmart(w *bytes.Buffer, s string, web bool) {
	const hex = "0123456789ABCDEF"
	for _, r := range s {
		switch r {
		case '"':
			w.WriteString(`\"`)
		case '\\':
			w.WriteString(`\\`)
		case '\b':
			w.WriteString(`\b`)
		case '\f':
			w.WriteString(`\f`)
		case '\n':
			w.WriteString(`\n`)
		case '\r':
			w.WriteString(`\r`)
		case '\t':
			w.WriteString(`\t`)
		case '/':
			if web {
				w.WriteString(`\/`)
			} else {
				w.WriteByte('/')
			}
		default:
			if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || (r >= 0x2000 && r <= 0x20ff) {
				w.WriteString(`\u`)
				w.WriteByte(hex[r>>12&0xf])
				w.WriteByte(hex[r>>8&0xf])
				w.WriteByte(hex[r>>4&0xf])
				w.WriteByte(hex[r&0xf])
			} else {
				w.WriteRune(r)
			}
		}
	}
}
