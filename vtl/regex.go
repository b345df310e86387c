package vtl

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Templates call Java's String.replaceAll/replaceFirst/split/matches, whose
// patterns are java.util.regex. Go's RE2 differs, so patterns are
// translated, and anything RE2 cannot express the Java way is refused with
// an error rather than silently matched differently. The same translation
// serves other packages through CompileJavaRegex (javaregex.go). Refused:
//
//   - backreferences (\1, \k<name>), lookaround ((?=, (?!, (?<=, (?<!),
//     atomic groups ((?>) and possessive quantifiers (*+, ++, ?+, }+);
//   - class intersection and nested classes ([a-z&&[^b]], [a[b]]);
//   - \G, \Z, \R, \X, \cX, \N{name}, \p{javaX}, \p{InBlock}, \p{IsX};
//     repetition counts over 1000 (RE2's limit); \u escapes of surrogates;
//   - inline flags other than i and s (Java's m, x, u, d, U, c); (?i) in
//     a pattern with non-ASCII characters, \P{Posix} inside a class or
//     \p{Lt} (RE2 folds ſ into s and the Kelvin sign into k, Java without
//     UNICODE_CASE does not, and Java's \p{Lt} is any cased letter then);
//   - $ (end of input or before a final line terminator in Java) when the
//     input contains a line terminator, unless $ ends the pattern and the
//     whole input must match (String.matches); \b/\B or (?i) when the
//     input is not ASCII (Java's notions of word characters and case
//     folding differ).
//
// Translated: . (Java excludes \r, \u0085, \u2028 and \u2029 too); \s
// (Java's includes \x0B), \v, \h (classes in Java), their complements \S,
// \V, \H and the POSIX classes \p{Lower} ... \p{Space} and \P{...}, in a
// class or not: inside a class a complement is written out as ranges, so
// that [\s\S], [^\s], [\S\d] and [^\S] mean what they mean in Java (since
// Java 9 a negated class is the complement of the union of its members,
// as in RE2); \e, \0ooo, \xhh, \x{h...}, \uXXXX; \Q..\E (in a class too);
// escaped punctuation (\- is a character, never a range); the scope of
// inline flags (to the end of the enclosing group); a ] first in a class.
// Java's syntax errors (an unclosed class, { that starts no repetition, a
// range ending in a class escape...) are errors here too.

// ErrUnsupportedRegex wraps patterns this engine refuses.
var ErrUnsupportedRegex = errors.New("unsupported Java regex")

type javaRegex struct {
	re           *regexp.Regexp
	anchored     *regexp.Regexp // \A(?:re), to find Java's extra empty matches
	whole        *regexp.Regexp // \A(?:re)\z, for String.matches
	dollar       bool           // uses $: refuse inputs with line terminators
	dollarInside bool           // uses $ elsewhere than at the very end
	wordBoundary bool           // uses \b or \B: refuse non-ASCII inputs
	foldCase     bool           // uses (?i): refuse non-ASCII inputs
	hasAssert    bool           // uses ^, $, \b, \B, \A or \z
	canEmpty     bool           // may match the empty string
	literal      string         // the whole pattern is this literal text
	isLiteral    bool
}

// dualBuilder builds the translated pattern and, alongside, the same
// pattern without assertions, which tells whether it can match empty.
type dualBuilder struct{ full, bare strings.Builder }

func (d *dualBuilder) WriteString(s string) {
	d.full.WriteString(s)
	d.bare.WriteString(s)
}

func (d *dualBuilder) WriteByte(c byte) error {
	d.full.WriteByte(c)
	return d.bare.WriteByte(c)
}

func (d *dualBuilder) Write(p []byte) (int, error) {
	d.full.Write(p)
	return d.bare.Write(p)
}

func (d *dualBuilder) assertion(s string) { d.full.WriteString(s) }

// regexCache holds translated patterns: templates are parsed once and
// rendered many times with the same few patterns.
var regexCache memo[*javaRegex]

func compileJava(pat string) (*javaRegex, error) { return regexCache.get(pat, translateJava) }

// memo caches the result of compiling a string, errors included. Keys come
// from templates, not from request bodies, so the cache stays small.
type memo[T any] struct{ m sync.Map }

type memoEntry[T any] struct {
	v   T
	err error
}

func (c *memo[T]) get(key string, compile func(string) (T, error)) (T, error) {
	if e, ok := c.m.Load(key); ok {
		e := e.(memoEntry[T])
		return e.v, e.err
	}
	v, err := compile(key)
	c.m.Store(key, memoEntry[T]{v, err})
	return v, err
}

// UnsupportedRegexError is a valid Java pattern that is refused, or a
// restriction on the inputs it is matched against; it wraps
// ErrUnsupportedRegex.
type UnsupportedRegexError struct {
	Pattern string // the Java pattern
	Feature string // what is not supported, such as "lookaround"
}

func (e *UnsupportedRegexError) Error() string {
	return fmt.Sprintf("%v %q: %s", ErrUnsupportedRegex, e.Pattern, e.Feature)
}

func (e *UnsupportedRegexError) Unwrap() error { return ErrUnsupportedRegex }

func unsupported(pat, what string) error { return &UnsupportedRegexError{Pattern: pat, Feature: what} }

func patternSyntax(pat, what string) error {
	return fmt.Errorf("java.util.regex.PatternSyntaxException: %s near %q", what, pat)
}

const javaDot = `[^\n\r\x{85}\x{2028}\x{2029}]`

// runeRanges is a set of code points: sorted, disjoint, inclusive ranges.
type runeRanges [][2]rune

// classBody writes the set as the inside of an RE2 character class.
func (rs runeRanges) classBody() string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, `\x{%X}`, r[0])
		if r[1] != r[0] {
			fmt.Fprintf(&b, `-\x{%X}`, r[1])
		}
	}
	return b.String()
}

// complement is every code point not in rs.
func (rs runeRanges) complement() runeRanges {
	var out runeRanges
	next := rune(0)
	for _, r := range rs {
		if r[0] > next {
			out = append(out, [2]rune{next, r[0] - 1})
		}
		next = r[1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, [2]rune{next, unicode.MaxRune})
	}
	return out
}

// javaSets are the classes of java.util.regex.Pattern (without
// UNICODE_CHARACTER_CLASS) that RE2 lacks or defines otherwise: \s, \v,
// \h and the POSIX \p{Name}. Their complements (\S, \V, \H, \P{Name}) are
// written out as ranges inside a class, so that [\S\d], [^\s] and [\s\S]
// mean in RE2 what they mean in Java (since Java 9 a negated class is the
// complement of the union of its members, as in RE2). \d and \w are RE2's.
var javaSets = map[string]runeRanges{
	"s":      {{'\t', '\r'}, {' ', ' '}}, // Java's \s has \x0B, RE2's has not
	"v":      {{'\n', '\r'}, {0x85, 0x85}, {0x2028, 0x2029}},
	"h":      {{'\t', '\t'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x180E, 0x180E}, {0x2000, 0x200A}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}},
	"Lower":  {{'a', 'z'}},
	"Upper":  {{'A', 'Z'}},
	"ASCII":  {{0, 0x7F}},
	"Alpha":  {{'A', 'Z'}, {'a', 'z'}},
	"Digit":  {{'0', '9'}},
	"Alnum":  {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}},
	"Punct":  {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}},
	"Graph":  {{'!', '~'}},
	"Print":  {{' ', '~'}},
	"Blank":  {{'\t', '\t'}, {' ', ' '}},
	"Cntrl":  {{0, 0x1F}, {0x7F, 0x7F}},
	"XDigit": {{'0', '9'}, {'A', 'F'}, {'a', 'f'}},
	"Space":  {{'\t', '\r'}, {' ', ' '}},
}

var (
	quantifierBrace = regexp.MustCompile(`^\{(\d+)(?:,(\d*))?\}`)
	groupName       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*>`)
)

// translator turns a java.util.regex pattern into an RE2 one.
type translator struct {
	pat string
	i   int
	b   dualBuilder
	jr  *javaRegex
	// dotAll is the s flag of each open group, innermost last.
	dotAll []bool

	inClass    bool
	classStart int
	// In a class: the last item was one character, which a - makes the
	// start of a range; inRange: that - was read and the range wants its
	// end, which must be one character.
	afterChar, inRange bool
	// foldRisk names what (?i) would make RE2 match differently from
	// Java even on ASCII input: RE2 folds ſ (U+017F) into s and the Kelvin
	// sign into k, Java without UNICODE_CASE does not; Java's \p{Lt} is
	// all cased letters under (?i).
	foldRisk string
}

func translateJava(pat string) (*javaRegex, error) {
	t := &translator{pat: pat, jr: &javaRegex{}, dotAll: []bool{false}}
	if err := t.run(); err != nil {
		return nil, err
	}
	if t.jr.foldCase && t.foldRisk != "" {
		return nil, unsupported(pat, "(?i) with "+t.foldRisk+" (Java folds case in ASCII only)")
	}
	jr := t.jr
	full := t.b.full.String()
	re, err := regexp.Compile(full)
	if err != nil {
		return nil, patternSyntax(pat, err.Error())
	}
	jr.re = re
	if lit, complete := re.LiteralPrefix(); complete && lit != "" {
		// A plain string (like the templates' "\\'"): no regexp needed.
		jr.literal, jr.isLiteral = lit, true
	}
	jr.anchored = regexp.MustCompile(`\A(?:` + full + `)`)
	jr.whole = regexp.MustCompile(`\A(?:` + full + `)\z`)
	if bare, err := regexp.Compile(t.b.bare.String()); err == nil {
		jr.canEmpty = bare.MatchString("")
	} else {
		jr.canEmpty = true
	}
	return jr, nil
}

func (t *translator) run() error {
	pat := t.pat
	for t.i < len(pat) {
		c := pat[t.i]
		if c == '\\' {
			if err := t.escape(); err != nil {
				return err
			}
			continue
		}
		if t.inClass {
			if err := t.classChar(); err != nil {
				return err
			}
			continue
		}
		switch c {
		case '[':
			t.inClass, t.afterChar, t.inRange = true, false, false
			t.b.WriteByte('[')
			t.i++
			if t.i < len(pat) && pat[t.i] == '^' {
				t.b.WriteByte('^')
				t.i++
			}
			t.classStart = t.i
			continue
		case '.':
			if t.dotAll[len(t.dotAll)-1] {
				t.b.WriteString(`(?s:.)`)
			} else {
				t.b.WriteString(javaDot)
			}
		case '$':
			t.jr.dollar = true
			if strings.Trim(pat[t.i+1:], ")") != "" {
				// Not the end of every match: Java's $ may match there
				// before a final line terminator.
				t.jr.dollarInside = true
			}
			t.jr.hasAssert = true
			t.b.assertion(`\z`)
		case '^':
			t.jr.hasAssert = true
			t.b.assertion("^")
		case '(':
			if err := t.group(); err != nil {
				return err
			}
			continue
		case ')':
			if len(t.dotAll) > 1 {
				t.dotAll = t.dotAll[:len(t.dotAll)-1]
			}
			t.b.WriteByte(')')
		case '*', '+', '?':
			t.b.WriteByte(c)
			if t.i+1 < len(pat) && pat[t.i+1] == '+' {
				return unsupported(pat, "possessive quantifier")
			}
		case '{':
			m := quantifierBrace.FindStringSubmatch(pat[t.i:])
			if m == nil {
				if t.i+1 < len(pat) && isDigit(pat[t.i+1]) {
					return patternSyntax(pat, "Unclosed counted closure")
				}
				return patternSyntax(pat, "Illegal repetition")
			}
			for _, n := range m[1:] {
				if v, err := strconv.Atoi(n); n != "" && (err != nil || v > 1000) {
					return unsupported(pat, "repetition count over 1000")
				}
			}
			t.b.WriteString(m[0])
			t.i += len(m[0])
			if t.i < len(pat) && pat[t.i] == '+' {
				return unsupported(pat, "possessive quantifier")
			}
			continue
		default:
			if c >= utf8.RuneSelf {
				t.foldRisk = "non-ASCII characters"
			}
			t.b.WriteByte(c)
		}
		t.i++
	}
	if t.inClass {
		return patternSyntax(pat, "Unclosed character class")
	}
	return nil
}

// classChar translates a character of a class that is not an escape.
func (t *translator) classChar() error {
	pat := t.pat
	c := pat[t.i]
	switch {
	case c == '[':
		return unsupported(pat, "nested character class (Java's class union)")
	case c == '&' && strings.HasPrefix(pat[t.i:], "&&"):
		return unsupported(pat, "character class intersection (&&)")
	case c == ']' && t.i == t.classStart:
		// Java: a ] with nothing before it in the class is itself.
		t.b.WriteString(`\]`)
		t.char()
	case c == ']':
		t.inClass = false
		t.b.WriteByte(']')
	case c == '-' && t.afterChar && t.i+1 < len(pat) && pat[t.i+1] != ']':
		t.afterChar, t.inRange = false, true
		t.b.WriteByte('-')
	case c == '-':
		t.b.WriteString(`\-`)
		t.char()
	default:
		r, n := utf8.DecodeRuneInString(pat[t.i:])
		if r >= utf8.RuneSelf {
			t.foldRisk = "non-ASCII characters"
		}
		t.b.WriteString(quoteClassRune(r))
		t.i += n
		t.char()
		return nil
	}
	t.i++
	return nil
}

// char notes one character written: in a class, it may start or end a range.
func (t *translator) char() {
	if t.inRange {
		t.afterChar, t.inRange = false, false
	} else {
		t.afterChar = true
	}
}

// set notes a class of characters (\s, \d, \p{L} ...): in a class it
// cannot end a range (Java: "Illegal character range").
func (t *translator) set() error {
	if t.inClass && t.inRange {
		return patternSyntax(t.pat, "Illegal character range")
	}
	t.afterChar = false
	return nil
}

// writeSet writes one of javaSets, or its complement.
func (t *translator) writeSet(rs runeRanges, negated bool) error {
	if err := t.set(); err != nil {
		return err
	}
	if !t.inClass {
		open := "["
		if negated {
			open = "[^"
		}
		t.b.WriteString(open + rs.classBody() + "]")
		return nil
	}
	if negated {
		rs = rs.complement()
	}
	t.b.WriteString(rs.classBody())
	// Java reads a - after a class escape as a character: keep RE2 from
	// reading a range from the last character written above.
	if t.i < len(t.pat) && t.pat[t.i] == '-' {
		t.b.WriteString(`\-`)
		t.i++
		t.char()
	}
	return nil
}

// writeChar writes the code point v, from an escape.
func (t *translator) writeChar(v uint64) error {
	if v >= 0xD800 && v <= 0xDFFF {
		return unsupported(t.pat, "a surrogate escape (Go strings hold no UTF-16 halves)")
	}
	if v >= utf8.RuneSelf {
		t.foldRisk = "non-ASCII characters"
	}
	fmt.Fprintf(&t.b, `\x{%X}`, v)
	t.char()
	return nil
}

// quoteClassRune writes r so that it is itself, in a class or not.
func quoteClassRune(r rune) string {
	if r < utf8.RuneSelf && !isLetter(byte(r)) && !isDigit(byte(r)) {
		return `\` + string(r)
	}
	return string(r)
}

// group translates the group opening at t.i.
func (t *translator) group() error {
	pat := t.pat
	outer := t.dotAll[len(t.dotAll)-1]
	if !strings.HasPrefix(pat[t.i:], "(?") {
		t.dotAll = append(t.dotAll, outer)
		t.b.WriteByte('(')
		t.i++
		return nil
	}
	rest := pat[t.i+2:]
	switch {
	case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"), strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
		return unsupported(pat, "lookaround")
	case strings.HasPrefix(rest, ">"):
		return unsupported(pat, "atomic group")
	case strings.HasPrefix(rest, ":"):
		t.dotAll = append(t.dotAll, outer)
		t.b.WriteString("(?:")
		t.i += 3
		return nil
	case strings.HasPrefix(rest, "<"):
		name := groupName.FindString(rest[1:])
		if name == "" {
			return patternSyntax(pat, "named capturing group is missing trailing '>'")
		}
		t.dotAll = append(t.dotAll, outer)
		t.b.WriteString("(?P<" + name)
		t.i += 3 + len(name)
		return nil
	}
	// Inline flags: (?is-is) or (?is-is:X); they hold to the end of the
	// enclosing group, in Java as in RE2.
	end := strings.IndexAny(rest, ":)")
	if end < 0 {
		return patternSyntax(pat, "Unknown inline modifier")
	}
	on, set := true, outer
	var plus, minus string
	for _, f := range rest[:end] {
		switch f {
		case '-':
			on = false
			continue
		case 's':
			set = on
		case 'i':
			if on {
				t.jr.foldCase = true
			}
		case 'm':
			return unsupported(pat, "inline flag 'm' (multiline)")
		default:
			return unsupported(pat, fmt.Sprintf("inline flag %q", f))
		}
		if on {
			plus += string(f)
		} else {
			minus += string(f)
		}
	}
	flags := plus
	if minus != "" {
		flags += "-" + minus
	}
	if rest[end] == ':' {
		t.dotAll = append(t.dotAll, set)
		t.b.WriteString("(?" + flags + ":")
	} else {
		t.dotAll[len(t.dotAll)-1] = set
		if flags != "" {
			t.b.WriteString("(?" + flags + ")")
		}
	}
	t.i += 2 + end + 1
	return nil
}

// escape translates the escape at t.i.
func (t *translator) escape() error {
	pat := t.pat
	if t.i+1 >= len(pat) {
		return patternSyntax(pat, "Unexpected internal error")
	}
	e := pat[t.i+1]
	t.i += 2
	rest := pat[t.i:]
	switch {
	case e == 'Q':
		lit, _, found := strings.Cut(rest, `\E`)
		t.i += len(lit)
		if found {
			t.i += 2
		}
		if !t.inClass {
			if !isASCII(lit) {
				t.foldRisk = "non-ASCII characters"
			}
			t.b.WriteString(regexp.QuoteMeta(lit))
			return nil
		}
		for _, r := range lit {
			if r >= utf8.RuneSelf {
				t.foldRisk = "non-ASCII characters"
			}
			t.b.WriteString(quoteClassRune(r))
			t.char()
		}
	case e >= '1' && e <= '9', e == 'k':
		return unsupported(pat, "backreference")
	case e == '0':
		j := 0
		for j < len(rest) && j < 3 && rest[j] >= '0' && rest[j] <= '7' {
			j++
		}
		if j == 0 {
			return patternSyntax(pat, "Illegal octal escape sequence")
		}
		v, _ := strconv.ParseUint(rest[:j], 8, 32)
		if v > 0377 {
			j--
			v, _ = strconv.ParseUint(rest[:j], 8, 32)
		}
		t.i += j
		return t.writeChar(v)
	case e == 'u':
		if len(rest) < 4 {
			return patternSyntax(pat, "Illegal Unicode escape sequence")
		}
		v, err := strconv.ParseUint(rest[:4], 16, 32)
		if err != nil {
			return patternSyntax(pat, "Illegal Unicode escape sequence")
		}
		t.i += 4
		return t.writeChar(v)
	case e == 'x':
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return patternSyntax(pat, "Unclosed hexadecimal escape sequence")
			}
			v, err := strconv.ParseUint(rest[1:end], 16, 32)
			if err != nil || v > unicode.MaxRune {
				return patternSyntax(pat, "Hexadecimal codepoint is too big")
			}
			t.i += end + 1
			return t.writeChar(v)
		}
		if len(rest) < 2 {
			return patternSyntax(pat, "Illegal hexadecimal escape sequence")
		}
		v, err := strconv.ParseUint(rest[:2], 16, 32)
		if err != nil {
			return patternSyntax(pat, "Illegal hexadecimal escape sequence")
		}
		t.i += 2
		return t.writeChar(v)
	case e == 'e':
		return t.writeChar(0x1B)
	case e == 'a' || e == 't' || e == 'n' || e == 'r' || e == 'f':
		t.b.WriteByte('\\')
		t.b.WriteByte(e)
		t.char()
	case e == 'd' || e == 'D' || e == 'w' || e == 'W':
		// RE2's \d and \w are Java's, in a class or not.
		if err := t.set(); err != nil {
			return err
		}
		t.b.WriteByte('\\')
		t.b.WriteByte(e)
	case e == 'v' && t.inClass && (t.inRange || strings.HasPrefix(rest, "-")):
		// Java (compatibility with Java 7's \v): an end of a range, or
		// followed by -, \v is the character \x0B, even in [\v-].
		return t.writeChar(0x0B)
	case e == 's' || e == 'S' || e == 'v' || e == 'V' || e == 'h' || e == 'H':
		lower := e | 0x20
		return t.writeSet(javaSets[string(lower)], e != lower)
	case e == 'b' || e == 'B':
		if t.inClass {
			return patternSyntax(pat, "Illegal/unsupported escape sequence")
		}
		t.jr.wordBoundary = true
		t.jr.hasAssert = true
		t.b.assertion(`\` + string(e))
	case e == 'A' || e == 'z':
		if t.inClass {
			return patternSyntax(pat, "Illegal/unsupported escape sequence")
		}
		t.jr.hasAssert = true
		t.b.assertion(`\` + string(e))
	case e == 'p' || e == 'P':
		name := ""
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return patternSyntax(pat, "Unclosed character family")
			}
			name = rest[1:end]
			t.i += end + 1
		} else if rest != "" {
			name = rest[:1]
			t.i++
		}
		if rs, ok := javaSets[name]; ok && len(name) > 1 {
			if e == 'P' && t.inClass {
				// RE2 folds the ranges written for it, Java does not.
				t.foldRisk = `\P{` + name + `} in a class`
			}
			return t.writeSet(rs, e == 'P')
		}
		if name == "Lt" {
			t.foldRisk = `\p{Lt}`
		}
		if !isUnicodeCategory(name) {
			return unsupported(pat, `\p{`+name+`}`)
		}
		if err := t.set(); err != nil {
			return err
		}
		t.b.WriteString(`\` + string(e) + `{` + name + `}`)
	case isLetter(e) || isDigit(e):
		if strings.IndexByte("GZRXcKN", e) >= 0 {
			return unsupported(pat, `\`+string(e))
		}
		return patternSyntax(pat, `Illegal/unsupported escape sequence \`+string(e))
	case e >= utf8.RuneSelf:
		return unsupported(pat, "escaped non-ASCII character")
	default:
		// An escaped non-alphanumeric character is itself, in both.
		t.b.WriteByte('\\')
		t.b.WriteByte(e)
		t.char()
	}
	return nil
}

func isUnicodeCategory(name string) bool {
	switch name {
	case "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
		"P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So",
		"Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co", "Cs":
		return true
	}
	return false
}

const lineTerminators = "\n\r\u0085\u2028\u2029"

// check refuses inputs on which finding matches (replaceAll, split,
// Matcher.find) could differ from Java.
func (jr *javaRegex) check(input string) error {
	if jr.dollar && strings.ContainsAny(input, lineTerminators) {
		return fmt.Errorf("%w: $ on input with line terminators", ErrUnsupportedRegex)
	}
	return jr.checkASCII(input)
}

// checkWhole refuses inputs on which matching the whole input
// (String.matches) could differ from Java. A $ that ends the pattern ends
// the match, which is the end of the input: there Java's $ is \z.
func (jr *javaRegex) checkWhole(input string) error {
	if jr.dollarInside && strings.ContainsAny(input, lineTerminators) {
		return fmt.Errorf("%w: $ before the end of the pattern on input with line terminators", ErrUnsupportedRegex)
	}
	return jr.checkASCII(input)
}

func (jr *javaRegex) checkASCII(input string) error {
	if (jr.wordBoundary || jr.foldCase) && !isASCII(input) {
		return fmt.Errorf("%w: \\b, \\B or (?i) on non-ASCII input", ErrUnsupportedRegex)
	}
	return nil
}

// findAll returns the match indexes as Java's Matcher.find loop finds
// them. Go's FindAll drops an empty match that abuts the previous match,
// Java keeps it; for patterns without assertions the match at a position
// depends only on the text from there, so the dropped matches are put
// back. Patterns with assertions that can match empty are refused when
// that could matter.
//
// Java also finds empty matches between the two UTF-16 halves of a
// character outside the BMP, producing lone surrogates; a Go string cannot
// hold those, so such inputs are refused.
func (jr *javaRegex) findAll(s string, limit int) ([][]int, error) {
	ms := jr.re.FindAllStringSubmatchIndex(s, limit)
	if !jr.canEmpty {
		return ms, nil
	}
	if hasNonBMP(s) {
		return nil, fmt.Errorf("%w: pattern matching empty on input with characters outside the BMP", ErrUnsupportedRegex)
	}
	var out [][]int
	for i, m := range ms {
		out = append(out, m)
		if m[0] == m[1] {
			continue
		}
		e := m[1]
		if i+1 < len(ms) && ms[i+1][0] == e {
			continue
		}
		if jr.hasAssert {
			return nil, fmt.Errorf("%w: pattern with anchors or \\b that can match empty", ErrUnsupportedRegex)
		}
		am := jr.anchored.FindStringSubmatchIndex(s[e:])
		if am == nil || am[1] != 0 {
			continue
		}
		for k := range am {
			if am[k] >= 0 {
				am[k] += e
			}
		}
		out = append(out, am)
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func hasNonBMP(s string) bool {
	for _, r := range s {
		if r > 0xffff {
			return true
		}
	}
	return false
}

func javaMatches(pat, s string) (any, error) {
	jr, err := compileJava(pat)
	if err != nil {
		return nil, err
	}
	if err := jr.checkWhole(s); err != nil {
		return nil, err
	}
	return jr.whole.MatchString(s), nil
}

func javaReplaceAll(s, pat, rep string, all bool) (any, error) {
	jr, err := compileJava(pat)
	if err != nil {
		return nil, err
	}
	if err := jr.check(s); err != nil {
		return nil, err
	}
	if jr.isLiteral && !strings.ContainsAny(rep, `$\`) {
		n := -1
		if !all {
			n = 1
		}
		return replaceLiteral(s, jr.literal, rep, n), nil
	}
	n := -1
	if !all {
		n = 1
	}
	matches, err := jr.findAll(s, n)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		if err := appendReplacement(&b, s, m, rep, jr.re.NumSubexp()); err != nil {
			return nil, err
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// replaceLiteral is strings.Replace in one pass (no counting pass first).
func replaceLiteral(s, old, repl string, n int) string {
	i := strings.Index(s, old)
	if i < 0 || n == 0 {
		return s
	}
	var b strings.Builder
	if len(repl) <= len(old) {
		b.Grow(len(s))
	} else {
		b.Grow(len(s) + 4*(len(repl)-len(old)))
	}
	last := 0
	for i >= 0 {
		b.WriteString(s[last : last+i])
		b.WriteString(repl)
		last += i + len(old)
		if n--; n == 0 {
			break
		}
		i = strings.Index(s[last:], old)
	}
	b.WriteString(s[last:])
	return b.String()
}

// appendReplacement is Matcher.appendReplacement's handling of $n and \x.
func appendReplacement(b *strings.Builder, s string, m []int, rep string, groups int) error {
	for i := 0; i < len(rep); i++ {
		c := rep[i]
		switch c {
		case '\\':
			i++
			if i >= len(rep) {
				return errors.New("java.lang.IllegalArgumentException: character to be escaped is missing")
			}
			b.WriteByte(rep[i])
		case '$':
			i++
			if i >= len(rep) {
				return errors.New("java.lang.IllegalArgumentException: Illegal group reference: group index is missing")
			}
			if rep[i] == '{' {
				return fmt.Errorf("%w: named group reference in replacement", ErrUnsupportedRegex)
			}
			if !isDigit(rep[i]) {
				return errors.New("java.lang.IllegalArgumentException: Illegal group reference")
			}
			g := int(rep[i] - '0')
			if g > groups {
				return fmt.Errorf("java.lang.IndexOutOfBoundsException: No group %d", g)
			}
			for i+1 < len(rep) && isDigit(rep[i+1]) {
				ng := g*10 + int(rep[i+1]-'0')
				if ng > groups {
					break
				}
				g = ng
				i++
			}
			if m[2*g] >= 0 {
				b.WriteString(s[m[2*g]:m[2*g+1]])
			}
		default:
			b.WriteByte(c)
		}
	}
	return nil
}

// javaSplit is String.split(regex, limit).
func javaSplit(s, pat string, limit int) (any, error) {
	jr, err := compileJava(pat)
	if err != nil {
		return nil, err
	}
	if err := jr.check(s); err != nil {
		return nil, err
	}
	var parts []any
	index := 0
	matchLimited := limit > 0
	ms, err := jr.findAll(s, -1)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if !matchLimited || len(parts) < limit-1 {
			if index == 0 && m[0] == 0 && m[1] == 0 {
				continue
			}
			parts = append(parts, s[index:m[0]])
			index = m[1]
		} else {
			break
		}
	}
	if index == 0 && len(parts) == 0 {
		return &List{Kind: JavaArray, Items: []any{s}}, nil
	}
	parts = append(parts, s[index:])
	if limit == 0 {
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
	}
	return &List{Kind: JavaArray, Items: parts}, nil
}
