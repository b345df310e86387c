package vtl

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Templates call Java's String.replaceAll/replaceFirst/split/matches, whose
// patterns are java.util.regex. Go's RE2 differs, so patterns are
// translated, and anything RE2 cannot express the Java way is refused with
// an error rather than silently matched differently:
//
//   - backreferences (\1), lookaround ((?=, (?!, (?<=, (?<!), atomic groups
//     ((?>) and possessive quantifiers (*+, ++, ?+, }+);
//   - class intersection and nested classes ([a-z&&[^b]], [a[b]]);
//   - \G, \Z, \R, \X, \h, \H, \V, \cX, \p{javaX}, \p{InBlock}, \p{IsX};
//   - inline flags other than i, m, s (Java's x, u, d, U);
//   - $ (end of input or before a final line terminator in Java) when the
//     input contains a line terminator, and \b/\B or (?i) when the input is
//     not ASCII (Java's notions of word characters and case folding differ).
//
// Translated: . (Java excludes \r, \u0085, \u2028 and \u2029 too), \s and
// \S (Java includes \x0B), \v (a class in Java), \e, \0ooo, \uXXXX, \Q..\E
// and the POSIX classes \p{Lower} ... \p{Space}.

// ErrUnsupportedRegex wraps patterns this engine refuses.
var ErrUnsupportedRegex = errors.New("unsupported Java regex")

type javaRegex struct {
	re        *regexp.Regexp
	anchored  *regexp.Regexp // \A(?:re), to find Java's extra empty matches
	dollar    bool           // uses $: refuse inputs with line terminators
	asciiOnly bool           // uses \b, \B or (?i): refuse non-ASCII inputs
	hasAssert bool           // uses ^, $, \b, \B, \A or \z
	canEmpty  bool           // may match the empty string
	literal   string         // the whole pattern is this literal text
	isLiteral bool
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

func unsupported(pat, what string) error {
	return fmt.Errorf("%w %q: %s", ErrUnsupportedRegex, pat, what)
}

func patternSyntax(pat, what string) error {
	return fmt.Errorf("java.util.regex.PatternSyntaxException: %s near %q", what, pat)
}

const javaDot = `[^\n\r\x{85}\x{2028}\x{2029}]`

var posixClasses = map[string]string{
	"Lower": `a-z`, "Upper": `A-Z`, "ASCII": `\x00-\x7F`, "Alpha": `a-zA-Z`,
	"Digit": `0-9`, "Alnum": `a-zA-Z0-9`, "Punct": `!-/:-@\[-` + "`" + `{-~`,
	"Graph": `!-~`, "Print": ` -~`, "Blank": ` \t`, "Cntrl": `\x00-\x1F\x7F`,
	"XDigit": `0-9a-fA-F`, "Space": ` \t\n\x0B\f\r`,
}

func translateJava(pat string) (*javaRegex, error) {
	jr := &javaRegex{}
	var b dualBuilder
	inClass := false
	classStart := 0
	flagS := false
	i := 0
	for i < len(pat) {
		c := pat[i]
		switch {
		case c == '\\':
			if i+1 >= len(pat) {
				return nil, patternSyntax(pat, "unexpected internal error")
			}
			e := pat[i+1]
			i += 2
			switch {
			case e == 'Q':
				end := strings.Index(pat[i:], `\E`)
				lit := pat[i:]
				if end >= 0 {
					lit = pat[i : i+end]
					i += end + 2
				} else {
					i = len(pat)
				}
				if inClass {
					for _, r := range lit {
						b.WriteString(regexp.QuoteMeta(string(r)))
					}
				} else {
					b.WriteString(regexp.QuoteMeta(lit))
				}
			case e >= '1' && e <= '9':
				return nil, unsupported(pat, "backreference")
			case e == '0':
				j := i
				for j < len(pat) && j < i+3 && pat[j] >= '0' && pat[j] <= '7' {
					j++
				}
				if j == i {
					return nil, patternSyntax(pat, "illegal octal escape sequence")
				}
				v, _ := strconv.ParseUint(pat[i:j], 8, 32)
				if v > 0377 {
					j--
					v, _ = strconv.ParseUint(pat[i:j], 8, 32)
				}
				fmt.Fprintf(&b, `\x{%X}`, v)
				i = j
			case e == 'u':
				if i+4 > len(pat) {
					return nil, patternSyntax(pat, "illegal Unicode escape sequence")
				}
				v, err := strconv.ParseUint(pat[i:i+4], 16, 32)
				if err != nil {
					return nil, patternSyntax(pat, "illegal Unicode escape sequence")
				}
				fmt.Fprintf(&b, `\x{%X}`, v)
				i += 4
			case e == 'x':
				if i+2 <= len(pat) && pat[i] != '{' {
					v, err := strconv.ParseUint(pat[i:i+2], 16, 32)
					if err != nil {
						return nil, patternSyntax(pat, "illegal hexadecimal escape sequence")
					}
					fmt.Fprintf(&b, `\x{%X}`, v)
					i += 2
				} else {
					end := strings.IndexByte(pat[i:], '}')
					if end < 0 {
						return nil, patternSyntax(pat, "unclosed hexadecimal escape sequence")
					}
					b.WriteString(`\x` + pat[i:i+end+1])
					i += end + 1
				}
			case e == 'e':
				b.WriteString(`\x1B`)
			case e == 'a' || e == 't' || e == 'n' || e == 'r' || e == 'f':
				b.WriteByte('\\')
				b.WriteByte(e)
			case e == 'd' || e == 'D' || e == 'w' || e == 'W':
				b.WriteByte('\\')
				b.WriteByte(e)
			case e == 's':
				if inClass {
					b.WriteString(`\t\n\x0B\f\r `)
				} else {
					b.WriteString(`[\t\n\x0B\f\r ]`)
				}
			case e == 'S':
				if inClass {
					return nil, unsupported(pat, `\S inside a class`)
				}
				b.WriteString(`[^\t\n\x0B\f\r ]`)
			case e == 'v':
				if inClass {
					b.WriteString(`\n\x0B\f\r\x{85}\x{2028}\x{2029}`)
				} else {
					b.WriteString(`[\n\x0B\f\r\x{85}\x{2028}\x{2029}]`)
				}
			case e == 'b' || e == 'B':
				if inClass {
					return nil, patternSyntax(pat, "illegal escape in class")
				}
				jr.asciiOnly = true
				jr.hasAssert = true
				b.assertion(`\` + string(e))
			case e == 'A' || e == 'z':
				jr.hasAssert = true
				b.assertion(`\` + string(e))
			case e == 'p' || e == 'P':
				name := ""
				if i < len(pat) && pat[i] == '{' {
					end := strings.IndexByte(pat[i:], '}')
					if end < 0 {
						return nil, patternSyntax(pat, "unclosed character family")
					}
					name = pat[i+1 : i+end]
					i += end + 1
				} else if i < len(pat) {
					name = pat[i : i+1]
					i++
				}
				if cls, ok := posixClasses[name]; ok {
					neg := ""
					if e == 'P' {
						neg = "^"
					}
					if inClass {
						if e == 'P' {
							return nil, unsupported(pat, `\P{...} inside a class`)
						}
						b.WriteString(cls)
					} else {
						b.WriteString("[" + neg + cls + "]")
					}
				} else if isUnicodeCategory(name) {
					b.WriteString(`\` + string(e) + `{` + name + `}`)
				} else {
					return nil, unsupported(pat, `\p{`+name+`}`)
				}
			case isLetter(e) || isDigit(e):
				if strings.IndexByte("GZRXhHVckK", e) >= 0 {
					return nil, unsupported(pat, `\`+string(e))
				}
				return nil, patternSyntax(pat, "illegal/unsupported escape sequence")
			default:
				// An escaped non-alphanumeric character is itself.
				b.WriteString(regexp.QuoteMeta(string(e)))
				if e >= 0x80 {
					return nil, unsupported(pat, "escaped non-ASCII")
				}
			}
			continue
		case inClass:
			switch c {
			case '[':
				return nil, unsupported(pat, "nested character class")
			case '&':
				if i+1 < len(pat) && pat[i+1] == '&' {
					return nil, unsupported(pat, "character class intersection")
				}
				b.WriteByte(c)
			case ']':
				if i == classStart {
					b.WriteString(`\]`)
				} else {
					inClass = false
					b.WriteByte(']')
				}
			default:
				b.WriteByte(c)
			}
			i++
			continue
		case c == '[':
			inClass = true
			b.WriteByte('[')
			i++
			if i < len(pat) && pat[i] == '^' {
				b.WriteByte('^')
				i++
			}
			classStart = i
			continue
		case c == '.':
			if flagS {
				b.WriteString(`(?s:.)`)
			} else {
				b.WriteString(javaDot)
			}
		case c == '$':
			jr.dollar = true
			jr.hasAssert = true
			b.assertion(`\z`)
		case c == '^':
			jr.hasAssert = true
			b.assertion("^")
		case c == '(':
			if strings.HasPrefix(pat[i:], "(?") {
				rest := pat[i+2:]
				switch {
				case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"), strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
					return nil, unsupported(pat, "lookaround")
				case strings.HasPrefix(rest, ">"):
					return nil, unsupported(pat, "atomic group")
				case strings.HasPrefix(rest, ":"), strings.HasPrefix(rest, "<"):
					b.WriteByte('(')
					i++
					continue
				}
				// Inline flags: (?imsx-imsx) or (?imsx-imsx:...)
				j := 0
				for j < len(rest) && rest[j] != ')' && rest[j] != ':' {
					f := rest[j]
					switch f {
					case 'i':
						jr.asciiOnly = true
					case 's':
						flagS = true
					case 'm':
						return nil, unsupported(pat, "multiline flag")
					case '-':
					default:
						return nil, unsupported(pat, "inline flag "+string(f))
					}
					j++
				}
				if strings.Contains(rest[:j], "-") {
					return nil, unsupported(pat, "negated inline flags")
				}
				b.WriteString("(?" + rest[:j])
				i += 2 + j
				continue
			}
			b.WriteByte('(')
		case c == '*' || c == '+' || c == '?' || c == '}':
			b.WriteByte(c)
			if i+1 < len(pat) && pat[i+1] == '+' {
				return nil, unsupported(pat, "possessive quantifier")
			}
		default:
			b.WriteByte(c)
		}
		i++
	}
	if inClass {
		return nil, patternSyntax(pat, "unclosed character class")
	}
	re, err := regexp.Compile(b.full.String())
	if err != nil {
		return nil, patternSyntax(pat, err.Error())
	}
	jr.re = re
	if lit, complete := re.LiteralPrefix(); complete && lit != "" {
		// A plain string (like the templates' "\\'"): no regexp needed.
		jr.literal, jr.isLiteral = lit, true
	}
	jr.anchored = regexp.MustCompile(`\A(?:` + b.full.String() + `)`)
	if bare, err := regexp.Compile(b.bare.String()); err == nil {
		jr.canEmpty = bare.MatchString("")
	} else {
		jr.canEmpty = true
	}
	return jr, nil
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

// check refuses inputs on which the translation would differ from Java.
func (jr *javaRegex) check(input string) error {
	if jr.dollar && strings.ContainsAny(input, "\n\r\u0085\u2028\u2029") {
		return fmt.Errorf("%w: $ on input with line terminators", ErrUnsupportedRegex)
	}
	if jr.asciiOnly && !isASCII(input) {
		return fmt.Errorf("%w: \\b or (?i) on non-ASCII input", ErrUnsupportedRegex)
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
	if err := jr.check(s); err != nil {
		return nil, err
	}
	loc := jr.re.FindStringIndex(s)
	if loc == nil {
		return false, nil
	}
	// Java's matches() needs the whole input; anchor and retry.
	full, err := regexp.Compile(`\A(?:` + jr.re.String() + `)\z`)
	if err != nil {
		return nil, err
	}
	return full.MatchString(s), nil
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
