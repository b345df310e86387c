package gateway

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Integration response keys other than $default are patterns, written
// /regex/, that API Gateway matches against a Lambda function error's
// errorMessage (websocket-api-data-transformations; the selection
// expression summary of apigateway-websocket-api-selection-expressions).
// API Gateway runs on Java, so a key is a java.util.regex pattern; Go's RE2
// differs, so a key is translated, and what cannot be matched the Java way
// is refused when the gateway starts rather than matched differently:
//
//   - backreferences, lookaround, atomic groups, possessive quantifiers;
//   - class unions and intersections ([a[b]], [a&&b]), a class that starts
//     with ] (escape it);
//   - \b, \B and (?i) (Java's word characters and case folding are not
//     RE2's outside ASCII), other inline flags than s;
//   - \G, \Z, \R, \X, \h, \H, \V, \cX, \k<name>, \N{...}, \p{javaX},
//     \p{InX}, \p{IsX};
//   - $ anywhere but at the very end (Java's $ also matches before a final
//     line terminator; at the end of a whole-input match that cannot
//     matter);
//   - { that starts no quantifier (Java: "Illegal repetition").
//
// Translated: . (Java's excludes \r, \u0085, \u2028 and \u2029 as well as
// \n), \s and \S (Java's include \x0B), \v (a class in Java), \e, \0ooo,
// \uXXXX, \Q...\E and the POSIX classes \p{Lower} ... \p{Space}.
//
// Whether API Gateway requires the pattern to match the whole errorMessage
// (Java's String.matches) or only part of it (Matcher.find) is not
// documented. The emulator matches the whole message, as REST API Lambda
// selection patterns do (their documentation suggests `.+`, warning that it
// does not match a message with a newline); see FIDELITY.md. Keys on which
// the two readings differ for a likely message are reported at startup.

// errUnsupportedKey wraps keys the emulator refuses.
var errUnsupportedKey = errors.New("integration response key not supported by the local run")

// responseKey is one /regex/ integration response key, compiled.
type responseKey struct {
	key  string
	full *regexp.Regexp // \A(?:re)\z: the whole errorMessage
	find *regexp.Regexp // re: anywhere in it, for the startup warning only
}

// parseResponseKey parses an integration response key of the form /regex/.
func parseResponseKey(key string) (*responseKey, error) {
	if len(key) < 3 || key[0] != '/' || key[len(key)-1] != '/' {
		return nil, fmt.Errorf("integration response key %q: want $default or /regex/", key)
	}
	re, err := translateJavaRegex(key[1 : len(key)-1])
	if err != nil {
		return nil, fmt.Errorf("integration response key %q: %w", key, err)
	}
	full, err := regexp.Compile(`\A(?:` + re + `)\z`)
	if err != nil {
		return nil, fmt.Errorf("integration response key %q: %w", key, err)
	}
	return &responseKey{key: key, full: full, find: regexp.MustCompile(re)}, nil
}

// matches reports whether the key selects a function error with message.
func (k *responseKey) matches(message string) bool { return k.full.MatchString(message) }

// probes are error messages a Lambda function is likely to report, on
// which a key that means different things as a whole-message match and as
// a partial match shows it.
var probes = []string{
	"",
	"x",
	"boom",
	"error",
	"Error: boom",
	"Unauthorized",
	"Task timed out after 25.00 seconds",
	"RequestId: 6f1e2c4a-0b7d-4c3e-9a51-2d8f0e7b3c91 Error: Runtime exited with error: exit status 2",
	"line one\nline two",
}

// ambiguity returns a message on which matching the whole message and
// matching part of it disagree, if one of the probes (and the key's own
// literal prefix with text around it) is such a message.
func (k *responseKey) ambiguity() (probe string, ok bool) {
	candidates := append([]string(nil), probes...)
	if prefix, _ := k.find.LiteralPrefix(); prefix != "" {
		candidates = append(candidates, prefix, prefix+" and more", "more "+prefix, prefix+"\n")
	}
	for _, p := range candidates {
		if k.full.MatchString(p) != k.find.MatchString(p) {
			return p, true
		}
	}
	return "", false
}

const javaDot = `[^\n\r\x{85}\x{2028}\x{2029}]`

// In-class forms of Java's \s and \S, exact in positive and negated
// classes alike.
const (
	javaSpaceInClass    = `\t\n\x0B\f\r `
	javaNonSpaceInClass = `\x00-\x08\x0E-\x1F\x21-\x{10FFFF}`
)

var posixClasses = map[string]string{
	"Lower": `a-z`, "Upper": `A-Z`, "ASCII": `\x00-\x7F`, "Alpha": `a-zA-Z`,
	"Digit": `0-9`, "Alnum": `a-zA-Z0-9`, "Punct": `!-/:-@\[-` + "`" + `{-~`,
	"Graph": `!-~`, "Print": ` -~`, "Blank": ` \t`, "Cntrl": `\x00-\x1F\x7F`,
	"XDigit": `0-9a-fA-F`, "Space": ` \t\n\x0B\f\r`,
}

var (
	quantifierBrace = regexp.MustCompile(`^\{\d+(,\d*)?\}`)
	groupName       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*>`)
)

func unsupportedKey(what string) error { return fmt.Errorf("%w: %s", errUnsupportedKey, what) }

func keySyntax(what string) error {
	return fmt.Errorf("java.util.regex.PatternSyntaxException: %s", what)
}

// translateJavaRegex turns a java.util.regex pattern into an RE2 pattern
// that matches the same strings, or refuses it.
func translateJavaRegex(pat string) (string, error) {
	var b strings.Builder
	// dotAll is the s flag of each open group, innermost last.
	dotAll := []bool{false}
	inClass := false
	classStart := 0
	for i := 0; i < len(pat); {
		c := pat[i]
		if c == '\\' {
			n, err := translateEscape(&b, pat, i, inClass)
			if err != nil {
				return "", err
			}
			i += n
			continue
		}
		if inClass {
			switch {
			case c == '[':
				return "", unsupportedKey("a class inside a class (Java's union)")
			case c == '&' && strings.HasPrefix(pat[i:], "&&"):
				return "", unsupportedKey("class intersection (&&)")
			case c == ']' && i == classStart:
				return "", unsupportedKey("a class that starts with ]: escape it as \\]")
			case c == ']':
				inClass = false
			}
			b.WriteByte(c)
			i++
			continue
		}
		switch c {
		case '[':
			inClass = true
			b.WriteByte('[')
			i++
			if i < len(pat) && pat[i] == '^' {
				b.WriteByte('^')
				i++
			}
			classStart = i
			continue
		case '.':
			if dotAll[len(dotAll)-1] {
				b.WriteString(`(?s:.)`)
			} else {
				b.WriteString(javaDot)
			}
		case '$':
			if i != len(pat)-1 || len(dotAll) != 1 {
				return "", unsupportedKey("$ before the end of the pattern (Java's $ also matches before a final line terminator)")
			}
			b.WriteString(`\z`)
		case '(':
			n, err := translateGroup(&b, pat[i:], &dotAll)
			if err != nil {
				return "", err
			}
			i += n
			continue
		case ')':
			if len(dotAll) > 1 {
				dotAll = dotAll[:len(dotAll)-1]
			}
			b.WriteByte(')')
		case '*', '+', '?':
			b.WriteByte(c)
			if i+1 < len(pat) && pat[i+1] == '+' {
				return "", unsupportedKey("possessive quantifier")
			}
		case '{':
			m := quantifierBrace.FindString(pat[i:])
			if m == "" {
				return "", keySyntax(fmt.Sprintf("Illegal repetition near index %d", i))
			}
			b.WriteString(m)
			i += len(m)
			if i < len(pat) && pat[i] == '+' {
				return "", unsupportedKey("possessive quantifier")
			}
			continue
		default:
			b.WriteByte(c)
		}
		i++
	}
	if inClass {
		return "", keySyntax("Unclosed character class")
	}
	return b.String(), nil
}

// translateGroup translates the group opening at the start of s and
// returns how many bytes it read.
func translateGroup(b *strings.Builder, s string, dotAll *[]bool) (int, error) {
	outer := (*dotAll)[len(*dotAll)-1]
	if !strings.HasPrefix(s, "(?") {
		*dotAll = append(*dotAll, outer)
		b.WriteByte('(')
		return 1, nil
	}
	rest := s[2:]
	switch {
	case strings.HasPrefix(rest, ":"):
		*dotAll = append(*dotAll, outer)
		b.WriteString("(?:")
		return 3, nil
	case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"),
		strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
		return 0, unsupportedKey("lookaround")
	case strings.HasPrefix(rest, ">"):
		return 0, unsupportedKey("atomic group")
	case strings.HasPrefix(rest, "<"):
		name := groupName.FindString(rest[1:])
		if name == "" {
			return 0, keySyntax("named capturing group is missing trailing '>'")
		}
		*dotAll = append(*dotAll, outer)
		b.WriteString("(?P<" + name)
		return 3 + len(name), nil
	}
	// Inline flags: (?s), (?-s), (?s:...), (?-s:...).
	end := strings.IndexAny(rest, ":)")
	if end < 0 {
		return 0, keySyntax("unclosed group")
	}
	flags := rest[:end]
	on := true
	set := outer
	for _, f := range flags {
		switch f {
		case '-':
			on = false
		case 's':
			set = on
		case 'i':
			return 0, unsupportedKey("(?i): Java folds case in ASCII only")
		default:
			return 0, unsupportedKey(fmt.Sprintf("inline flag %q", f))
		}
	}
	if rest[end] == ':' {
		*dotAll = append(*dotAll, set)
		b.WriteString("(?:")
	} else {
		(*dotAll)[len(*dotAll)-1] = set
	}
	return 2 + end + 1, nil
}

// translateEscape translates the escape at pat[i] and returns how many
// bytes it read.
func translateEscape(b *strings.Builder, pat string, i int, inClass bool) (int, error) {
	if i+1 >= len(pat) {
		return 0, keySyntax("Unexpected internal error (a trailing backslash)")
	}
	e := pat[i+1]
	rest := pat[i+2:]
	switch {
	case e == 'Q':
		lit, _, _ := strings.Cut(rest, `\E`)
		n := 2 + len(lit)
		if strings.HasPrefix(rest[len(lit):], `\E`) {
			n += 2
		}
		for _, r := range lit {
			writeLiteral(b, r)
		}
		return n, nil
	case e >= '1' && e <= '9', e == 'k':
		return 0, unsupportedKey("backreference")
	case e == '0':
		j := 0
		for j < len(rest) && j < 3 && rest[j] >= '0' && rest[j] <= '7' {
			j++
		}
		if j == 0 {
			return 0, keySyntax("Illegal octal escape sequence")
		}
		v, _ := strconv.ParseUint(rest[:j], 8, 32)
		if v > 0o377 {
			j--
			v, _ = strconv.ParseUint(rest[:j], 8, 32)
		}
		fmt.Fprintf(b, `\x{%X}`, v)
		return 2 + j, nil
	case e == 'u':
		if len(rest) < 4 {
			return 0, keySyntax("Illegal Unicode escape sequence")
		}
		v, err := strconv.ParseUint(rest[:4], 16, 32)
		if err != nil {
			return 0, keySyntax("Illegal Unicode escape sequence")
		}
		fmt.Fprintf(b, `\x{%X}`, v)
		return 6, nil
	case e == 'x':
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, keySyntax("Unclosed hexadecimal escape sequence")
			}
			b.WriteString(`\x` + rest[:end+1])
			return 2 + end + 1, nil
		}
		if len(rest) < 2 {
			return 0, keySyntax("Illegal hexadecimal escape sequence")
		}
		v, err := strconv.ParseUint(rest[:2], 16, 32)
		if err != nil {
			return 0, keySyntax("Illegal hexadecimal escape sequence")
		}
		fmt.Fprintf(b, `\x{%X}`, v)
		return 4, nil
	case e == 'e':
		b.WriteString(`\x1B`)
	case strings.IndexByte("tnrfadDwW", e) >= 0:
		b.WriteByte('\\')
		b.WriteByte(e)
	case e == 's':
		if inClass {
			b.WriteString(javaSpaceInClass)
		} else {
			b.WriteString("[" + javaSpaceInClass + "]")
		}
	case e == 'S':
		if inClass {
			b.WriteString(javaNonSpaceInClass)
		} else {
			b.WriteString("[^" + javaSpaceInClass + "]")
		}
	case e == 'v':
		const vertical = `\n\x0B\f\r\x{85}\x{2028}\x{2029}`
		if inClass {
			b.WriteString(vertical)
		} else {
			b.WriteString("[" + vertical + "]")
		}
	case e == 'A' || e == 'z':
		if inClass {
			return 0, keySyntax("Illegal/unsupported escape sequence")
		}
		b.WriteString(`\` + string(e))
	case e == 'b' || e == 'B':
		return 0, unsupportedKey(`\b and \B: Java's word boundaries differ from RE2's outside ASCII`)
	case e == 'p' || e == 'P':
		name, n := "", 0
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, keySyntax("Unclosed character family")
			}
			name, n = rest[1:end], end+1
		} else if rest != "" {
			name, n = rest[:1], 1
		}
		cls, posix := posixClasses[name]
		switch {
		case posix && inClass && e == 'P':
			return 0, unsupportedKey(`\P{...} inside a class`)
		case posix && inClass:
			b.WriteString(cls)
		case posix && e == 'P':
			b.WriteString("[^" + cls + "]")
		case posix:
			b.WriteString("[" + cls + "]")
		case isUnicodeCategory(name):
			b.WriteString(`\` + string(e) + `{` + name + `}`)
		default:
			return 0, unsupportedKey(`\p{` + name + `}`)
		}
		return 2 + n, nil
	case isASCIILetter(e) || e >= '0' && e <= '9':
		if strings.IndexByte("GZRXhHVcN", e) >= 0 {
			return 0, unsupportedKey(`\` + string(e))
		}
		return 0, keySyntax(`Illegal/unsupported escape sequence \` + string(e))
	case e >= 0x80:
		return 0, unsupportedKey("an escaped non-ASCII character")
	default:
		// An escaped non-alphanumeric character is itself, in both.
		b.WriteByte('\\')
		b.WriteByte(e)
	}
	return 2, nil
}

// writeLiteral writes r so that it matches itself, in a class or not.
func writeLiteral(b *strings.Builder, r rune) {
	if r < 0x80 && !isASCIILetter(byte(r)) && (r < '0' || r > '9') {
		b.WriteByte('\\')
	}
	b.WriteRune(r)
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isUnicodeCategory(name string) bool {
	switch name {
	case "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
		"P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So",
		"Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co", "Cs":
		return true
	}
	return false
}
