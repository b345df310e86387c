package gateway

import (
	"errors"
	"fmt"

	"wsapi/vtl"
)

// Integration response keys other than $default are patterns, written
// /regex/, that API Gateway matches against a Lambda function error's
// errorMessage (websocket-api-data-transformations; the selection
// expression summary of apigateway-websocket-api-selection-expressions).
// API Gateway runs on Java, so a key is a java.util.regex pattern. Keys are
// translated to RE2 by package vtl (vtl.CompileJavaRegex), the translation
// the mapping templates' replaceAll/matches/split use, checked against Java
// by vtl's differential corpus; vtl's regex.go has the rules. What cannot
// be matched the Java way on every errorMessage is refused when the
// gateway starts rather than matched differently: backreferences,
// lookaround, atomic groups, possessive quantifiers, class unions and
// intersections, \G \Z \R \X \cX \N, \p{javaX} \p{InX} \p{IsX}, inline
// flags other than i and s, and, since a message may hold any text, \b, \B
// and (?i) (Java's word characters and case folding are not RE2's outside
// ASCII) and $ before the end of the pattern (Java's $ also matches before
// a final line terminator; at the end of a whole-message match it cannot
// matter). Java's own syntax errors are errors too.
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
	key string
	re  *vtl.JavaRegex
}

// parseResponseKey parses an integration response key of the form /regex/.
func parseResponseKey(key string) (*responseKey, error) {
	if len(key) < 3 || key[0] != '/' || key[len(key)-1] != '/' {
		return nil, fmt.Errorf("integration response key %q: want $default or /regex/", key)
	}
	re, err := vtl.CompileJavaRegex(key[1 : len(key)-1])
	if err == nil {
		// Refuse now what would be refused on some messages later.
		err = re.MatchRestriction()
	}
	var unsupported *vtl.UnsupportedRegexError
	if errors.As(err, &unsupported) {
		return nil, fmt.Errorf("integration response key %q: %w: %s", key, errUnsupportedKey, unsupported.Feature)
	}
	if err != nil {
		return nil, fmt.Errorf("integration response key %q: %w", key, err)
	}
	return &responseKey{key: key, re: re}, nil
}

// matches reports whether the key selects a function error with message.
// MatchString cannot fail: parseResponseKey refused keys with restrictions.
func (k *responseKey) matches(message string) bool {
	ok, err := k.re.MatchString(message)
	return ok && err == nil
}

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
// literal prefix with text around it) is such a message. Probes on which
// the partial match cannot be told the Java way ($ and a line terminator)
// are skipped.
func (k *responseKey) ambiguity() (probe string, ok bool) {
	candidates := append([]string(nil), probes...)
	if prefix, _ := k.re.LiteralPrefix(); prefix != "" {
		candidates = append(candidates, prefix, prefix+" and more", "more "+prefix, prefix+"\n")
	}
	for _, p := range candidates {
		whole, errWhole := k.re.MatchString(p)
		_, found, errFind := k.re.FindString(p)
		if errWhole == nil && errFind == nil && whole != found {
			return p, true
		}
	}
	return "", false
}
