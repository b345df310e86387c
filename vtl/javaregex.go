package vtl

// JavaRegex is a java.util.regex pattern compiled for Go: the translation
// to RE2 that the template methods (replaceAll, matches, split) use, proven
// against Java by the differential corpus. Patterns RE2 cannot match the
// Java way are refused when compiled; a few features are exact only on
// some inputs (see MatchRestriction and FindRestriction), and inputs
// outside those are refused when matched. The rules are in regex.go and,
// for what is refused, DIFFERENCES.md (D2).
type JavaRegex struct {
	pattern string
	jr      *javaRegex
}

// CompileJavaRegex translates and compiles a java.util.regex pattern (the
// flags of Pattern.compile(pattern), none). A valid Java pattern that is
// not supported gets an *UnsupportedRegexError naming the feature;
// other errors are Java's syntax errors ("java.util.regex.Pattern
// SyntaxException: ..."). Each call compiles anew; nothing is cached.
func CompileJavaRegex(pattern string) (*JavaRegex, error) {
	jr, err := translateJava(pattern)
	if err != nil {
		return nil, err
	}
	return &JavaRegex{pattern: pattern, jr: jr}, nil
}

// String returns the Java pattern.
func (r *JavaRegex) String() string { return r.pattern }

// MatchString reports whether the whole of s matches, as Java's
// String.matches and Matcher.matches. The error, wrapping
// ErrUnsupportedRegex, refuses an input on which the answer could differ
// from Java's; MatchRestriction says which.
func (r *JavaRegex) MatchString(s string) (bool, error) {
	if err := r.jr.checkWhole(s); err != nil {
		return false, err
	}
	return r.jr.whole.MatchString(s), nil
}

// FindStringIndex returns the first match in s, as Java's Matcher.find,
// as byte offsets into s (Java counts UTF-16 units), or nil. The error,
// wrapping ErrUnsupportedRegex, refuses an input on which the match could
// differ from Java's; FindRestriction says which.
func (r *JavaRegex) FindStringIndex(s string) ([]int, error) {
	if err := r.jr.check(s); err != nil {
		return nil, err
	}
	return r.jr.re.FindStringIndex(s), nil
}

// FindString returns the text of the first match in s, as Java's
// Matcher.find then group(); found is false when there is none.
func (r *JavaRegex) FindString(s string) (match string, found bool, err error) {
	loc, err := r.FindStringIndex(s)
	if loc == nil || err != nil {
		return "", false, err
	}
	return s[loc[0]:loc[1]], true, nil
}

// MatchRestriction returns nil when MatchString answers for every input,
// or an *UnsupportedRegexError that names the feature for which it
// refuses some inputs, and which inputs.
func (r *JavaRegex) MatchRestriction() error {
	return r.restriction(r.jr.dollarInside, "$ before the end of the pattern")
}

// FindRestriction is MatchRestriction for FindString and FindStringIndex.
func (r *JavaRegex) FindRestriction() error { return r.restriction(r.jr.dollar, "$") }

func (r *JavaRegex) restriction(dollar bool, dollarWhat string) error {
	var what string
	switch {
	case dollar:
		what = dollarWhat + " (Java's $ also matches before a final line terminator): exact only on input without line terminators"
	case r.jr.wordBoundary:
		what = `\b and \B (Java's word characters are not RE2's outside ASCII): exact only on ASCII input`
	case r.jr.foldCase:
		what = "(?i) (Java folds case in ASCII only): exact only on ASCII input"
	default:
		return nil
	}
	return unsupported(r.pattern, what)
}

// LiteralPrefix returns a literal string that must begin any match, and
// whether it is the whole pattern.
func (r *JavaRegex) LiteralPrefix() (prefix string, complete bool) {
	return r.jr.re.LiteralPrefix()
}
