package vtl

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// APIGatewayData is what API Gateway puts in a WebSocket request template's
// context: $context, $input, $util and $stageVariables.
type APIGatewayData struct {
	Context WebSocketContext
	// Body is the frame ($input.body). API Gateway frames are text; see
	// Input for what happens to invalid UTF-8.
	Body           string
	StageVariables map[string]string
}

// WebSocketContext holds the $context variables of AWS's WebSocket mapping
// template reference. Empty strings are absent variables (they render as
// the reference's own text, as API Gateway's null values do), zero epochs
// too.
type WebSocketContext struct {
	APIID             string
	ConnectedAt       int64 // epoch ms
	ConnectionID      string
	DomainName        string
	EventType         string // CONNECT, MESSAGE, DISCONNECT
	ExtendedRequestID string
	MessageDirection  string // IN
	MessageID         string // MESSAGE only
	RequestID         string
	RequestTime       string // CLF-formatted
	RequestTimeEpoch  int64  // epoch ms
	RouteKey          string
	Stage             string
	Status            string

	// Authorizer is $context.authorizer: principalId plus the context map
	// a Lambda authorizer returned (strings, numbers, booleans).
	Authorizer map[string]any

	Error    ErrorContext
	Identity Identity
}

// ErrorContext is $context.error.
type ErrorContext struct {
	Message               string
	MessageString         string
	ValidationErrorString string
}

// Identity is $context.identity.
type Identity struct {
	AccountID                     string
	APIKey                        string
	APIKeyID                      string
	Caller                        string
	CognitoAuthenticationProvider string
	CognitoAuthenticationType     string
	CognitoIdentityID             string
	CognitoIdentityPoolID         string
	SourceIP                      string
	User                          string
	UserAgent                     string
	UserArn                       string
}

// Map builds $context as an ordered map, as a template sees it.
func (c *WebSocketContext) Map() *Map { return newContextValue(c).asMap() }

func (d *APIGatewayData) bind(vars *env) {
	vars.set("context", newContextValue(&d.Context))
	vars.set("input", NewInput(d.Body))
	vars.set("util", Util{})
	sv := NewMap()
	for _, k := range slices.Sorted(maps.Keys(d.StageVariables)) {
		sv.Put(NormalizeUTF8(k), NormalizeUTF8(d.StageVariables[k]))
	}
	vars.set("stageVariables", sv)
}

// Vars returns the variables Render would bind, for callers that want to
// add their own to a map[string]any.
func (d *APIGatewayData) Vars() map[string]any {
	var e env
	d.bind(&e)
	m := make(map[string]any, len(e.entries))
	for _, en := range e.entries {
		m[en.name] = en.val
	}
	return m
}

// Input is $input. The body is parsed lazily, once, by $input.json/path.
//
// A frame that is not valid UTF-8 cannot reach a template (API Gateway
// frames are text); if one is given anyway it is normalised with
// NormalizeUTF8, which is what a Java String decoded from it would hold.
type Input struct {
	body   string
	parsed bool
	doc    any
	err    error
}

// NewInput returns $input for body.
func NewInput(body string) *Input {
	return &Input{body: NormalizeUTF8(body)}
}

// NormalizeUTF8 returns s as the Java String new String(bytes, UTF_8)
// would hold it: valid UTF-8 unchanged, each malformed sequence replaced
// by U+FFFD the way JDK 17's decoder groups them (a truncated sequence at
// the end is one replacement, an encoded surrogate is one replacement for
// its three bytes, a stray byte is one replacement).
func NormalizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	const repl = "\uFFFD"
	cont := func(b byte) bool { return b&0xc0 == 0x80 }
	var b strings.Builder
	sl := len(s)
	sp := 0
	for sp < sl {
		b1 := s[sp]
		sp++
		switch {
		case b1 < 0x80:
			b.WriteByte(b1)
		case b1>>5 == 0x6 && b1&0x1e != 0: // 110xxxxx, not C0/C1
			if sp < sl {
				if !cont(s[sp]) {
					b.WriteString(repl)
				} else {
					b.WriteString(s[sp-1 : sp+1])
					sp++
				}
				continue
			}
			b.WriteString(repl)
			return b.String()
		case b1>>4 == 0xe: // 1110xxxx
			if sp+1 < sl {
				b2, b3 := s[sp], s[sp+1]
				sp += 2
				if (b1 == 0xe0 && b2&0xe0 == 0x80) || !cont(b2) || !cont(b3) {
					b.WriteString(repl)
					sp -= 3
					// malformed3: how many bytes the replacement covers.
					if (b1 == 0xe0 && b2&0xe0 == 0x80) || !cont(b2) {
						sp++
					} else {
						sp += 2
					}
				} else if b1 == 0xed && b2 >= 0xa0 {
					b.WriteString(repl) // a surrogate
				} else {
					b.WriteString(s[sp-3 : sp])
				}
				continue
			}
			if sp < sl && ((b1 == 0xe0 && s[sp]&0xe0 == 0x80) || !cont(s[sp])) {
				b.WriteString(repl)
				continue
			}
			b.WriteString(repl)
			return b.String()
		case b1>>3 == 0x1e: // 11110xxx
			if sp+2 < sl {
				b2, b3, b4 := s[sp], s[sp+1], s[sp+2]
				sp += 3
				uc := rune(b1&0x07)<<18 | rune(b2&0x3f)<<12 | rune(b3&0x3f)<<6 | rune(b4&0x3f)
				if !cont(b2) || !cont(b3) || !cont(b4) || uc < 0x10000 || uc > 0x10ffff {
					b.WriteString(repl)
					sp -= 4
					sp++ // past b1
					// malformed4: 1, 2 or 3 bytes.
					if b1 > 0xf4 || (b1 == 0xf0 && (b2 < 0x90 || b2 > 0xbf)) || (b1 == 0xf4 && b2&0xf0 != 0x80) || !cont(b2) {
						continue
					}
					sp++
					if !cont(s[sp]) {
						continue
					}
					sp++
				} else {
					b.WriteString(s[sp-4 : sp])
				}
				continue
			}
			if b1 > 0xf4 || (sp < sl && ((b1 == 0xf0 && (s[sp] < 0x90 || s[sp] > 0xbf)) || (b1 == 0xf4 && s[sp]&0xf0 != 0x80) || !cont(s[sp]))) {
				b.WriteString(repl)
				continue
			}
			sp++
			b.WriteString(repl)
			if sp < sl && !cont(s[sp]) {
				continue
			}
			return b.String()
		default:
			b.WriteString(repl)
		}
	}
	return b.String()
}

func (in *Input) document() (any, error) {
	if !in.parsed {
		in.parsed = true
		in.doc, in.err = parseJSONPermissive(in.body)
		if in.err == nil && in.doc == nil {
			in.err = errors.New("java.lang.IllegalArgumentException: root can not be null")
		}
	}
	return in.doc, in.err
}

func (in *Input) method(name string, args []any) (any, error) {
	switch {
	case name == "getBody" && len(args) == 0:
		return in.body, nil
	case (name == "json" || name == "path") && len(args) == 1:
		p, ok := args[0].(string)
		if !ok && args[0] != nil {
			return nil, errNoMethod
		}
		if !ok {
			return nil, errors.New("java.lang.NullPointerException")
		}
		doc, err := in.document()
		if err != nil {
			return nil, fmt.Errorf("com.jayway.jsonpath.InvalidJsonException: %w", err)
		}
		res, found, err := evalJSONPath(doc, p)
		if err != nil {
			return nil, err
		}
		if !found {
			return "", nil
		}
		if name == "path" {
			return res, nil
		}
		var b bytes.Buffer
		writeJSON(&b, res, false)
		return b.String(), nil
	case name == "params":
		return nil, errors.New("$input.params is not available in WebSocket templates")
	}
	return nil, errNoMethod
}

// Util is $util; bind Util{} as "util" when rendering with a plain map.
type Util struct{}

func utilMethod(name string, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errNoMethod
	}
	s, isStr := args[0].(string)
	if !isStr && args[0] != nil {
		return nil, errNoMethod
	}
	switch name {
	case "escapeJavaScript":
		if !isStr {
			return nil, nil
		}
		return EscapeJavaScript(s), nil
	case "parseJson":
		if !isStr {
			return nil, errors.New("java.lang.NullPointerException")
		}
		v, err := parseJSONPermissive(s)
		if err != nil {
			return nil, err
		}
		return v, nil
	case "urlEncode":
		if !isStr {
			return nil, errors.New("java.lang.NullPointerException")
		}
		return URLEncode(s), nil
	case "urlDecode":
		if !isStr {
			return nil, errors.New("java.lang.NullPointerException")
		}
		return URLDecode(s)
	case "base64Encode":
		if !isStr {
			return nil, errors.New("java.lang.NullPointerException")
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "base64Decode":
		if !isStr {
			return nil, errors.New("java.lang.NullPointerException")
		}
		b, err := javaBase64Decode(s)
		if err != nil {
			return nil, err
		}
		return NormalizeUTF8(string(b)), nil
	}
	return nil, errNoMethod
}

// javaBase64Decode is java.util.Base64.getDecoder().decode: padding is
// optional, but line breaks and other characters outside the alphabet are
// errors (Go's decoder would skip \r and \n).
func javaBase64Decode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("java.lang.IllegalArgumentException: Illegal base64 character")
	}
	enc := base64.StdEncoding
	if !strings.Contains(s, "=") {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("java.lang.IllegalArgumentException: %v", err)
	}
	return b, nil
}

// jsEscLen is the escaped length of each ASCII byte (0 for non-ASCII).
var jsEscLen = func() (t [256]uint8) {
	for c := 0; c < 0x80; c++ {
		switch {
		case c == '\'' || c == '"' || c == '\\' || c == '/' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			t[c] = 2
		case c < 0x20:
			t[c] = 6
		default:
			t[c] = 1
		}
	}
	return t
}()

// EscapeJavaScript is commons-lang 2.6 StringEscapeUtils.escapeJavaScript:
// ' " \ / get a backslash, \b \f \n \r \t their escapes, other control
// characters and everything above 0x7F (0x7F itself stays) \uXXXX with
// uppercase hex, characters outside the BMP as two escaped UTF-16 units.
func EscapeJavaScript(s string) string {
	// First pass: the exact output length, so the result is one allocation.
	i := 0
	for i < len(s) && jsEscLen[s[i]] == 1 {
		i++
	}
	if i == len(s) {
		return s
	}
	n := i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			n += int(jsEscLen[c])
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xffff {
			n += 12
		} else {
			n += 6
		}
		i += size
	}
	if n == len(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(n)
	unit := func(u rune) {
		b.WriteByte('\\')
		b.WriteByte('u')
		b.WriteByte(hex[u>>12&0xf])
		b.WriteByte(hex[u>>8&0xf])
		b.WriteByte(hex[u>>4&0xf])
		b.WriteByte(hex[u&0xf])
	}
	start := 0 // start of the pending run of unescaped ASCII
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc byte
			switch c {
			case '\'', '"', '\\', '/':
				esc = c
			case '\b':
				esc = 'b'
			case '\f':
				esc = 'f'
			case '\n':
				esc = 'n'
			case '\r':
				esc = 'r'
			case '\t':
				esc = 't'
			}
			if esc == 0 && c >= 0x20 {
				i++
				continue
			}
			b.WriteString(s[start:i])
			if esc != 0 {
				b.WriteByte('\\')
				b.WriteByte(esc)
			} else {
				unit(rune(c))
			}
			i++
			start = i
			continue
		}
		b.WriteString(s[start:i])
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xffff {
			r -= 0x10000
			unit(0xd800 + r>>10)
			unit(0xdc00 + r&0x3ff)
		} else {
			unit(r)
		}
		i += size
		start = i
	}
	b.WriteString(s[start:])
	return b.String()
}

// URLEncode is java.net.URLEncoder.encode(s, "UTF-8").
func URLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c) || isDigit(c) || c == '.' || c == '-' || c == '*' || c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

// URLDecode is java.net.URLDecoder.decode(s, "UTF-8").
func URLDecode(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '+':
			b.WriteByte(' ')
			i++
		case '%':
			var raw []byte
			for i < len(s) && s[i] == '%' {
				if i+3 > len(s) {
					return "", errors.New("java.lang.IllegalArgumentException: URLDecoder: Incomplete trailing escape (%) pattern")
				}
				h, ok1 := hexVal(s[i+1])
				l, ok2 := hexVal(s[i+2])
				if !ok1 || !ok2 {
					return "", errors.New("java.lang.IllegalArgumentException: URLDecoder: Illegal hex characters in escape (%) pattern")
				}
				raw = append(raw, byte(h<<4|l))
				i += 3
			}
			b.WriteString(NormalizeUTF8(string(raw)))
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}
