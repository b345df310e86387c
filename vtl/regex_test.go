package vtl_test

import (
	"errors"
	"strings"
	"testing"

	"wsapi/vtl"
)

// TestCompileJavaRegex: the exported API. What the translation means is
// proven against Java by the differential corpus (testdata/corpus/regex.txt);
// this tests the API's contract: whole-input and partial matching, the
// errors, and the input restrictions.
func TestCompileJavaRegex(t *testing.T) {
	cases := []struct {
		pattern        string
		match, noMatch []string
		find           map[string]string // input: first match
	}{
		{pattern: `[\s\S]+`, match: []string{"x", "a\nb", "\x0B", "\u2028", "ü😀"}, noMatch: []string{""}},
		{pattern: `[^\s\S]*`, match: []string{""}, noMatch: []string{"x", " "}},
		{pattern: `[^\s]+`, match: []string{"abc"}, noMatch: []string{"a\x0Bc", "a c"}},
		{pattern: `[\S]+`, match: []string{"abc", "\u00a0"}, noMatch: []string{"a\x0Bc"}},
		{pattern: `[^\S\d]+`, match: []string{" \t\x0B"}, noMatch: []string{"1", "x"}},
		{pattern: `[\s-a]+`, match: []string{" -a\x0B"}, noMatch: []string{"!"}},
		{pattern: `[\v-a]+`, match: []string{"\x0B-a"}, noMatch: []string{"\n"}},
		{pattern: `[a\-z]+`, match: []string{"a-z"}, noMatch: []string{"b"}},
		{pattern: `.+`, match: []string{"boom"}, noMatch: []string{"a\nb", "a\rb", "a\u2028b", "a\u0085b"}},
		{pattern: `(?s:a.)b.`, match: []string{"a\nbc"}, noMatch: []string{"a\nb\n"}},
		{pattern: `^boom$`, match: []string{"boom"}, noMatch: []string{"boom\n"}},
		{pattern: `boom`, match: []string{"boom"}, noMatch: []string{"a boom"},
			find: map[string]string{"a boom!": "boom", "x": ""}},
		{pattern: `\d+`, find: map[string]string{"ab12c3": "12"}},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			r, err := vtl.CompileJavaRegex(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tc.pattern {
				t.Errorf("String() = %q", r.String())
			}
			for _, s := range tc.match {
				if ok, err := r.MatchString(s); !ok || err != nil {
					t.Errorf("MatchString(%q) = %v, %v, want true", s, ok, err)
				}
			}
			for _, s := range tc.noMatch {
				if ok, err := r.MatchString(s); ok || err != nil {
					t.Errorf("MatchString(%q) = %v, %v, want false", s, ok, err)
				}
			}
			for s, want := range tc.find {
				got, found, err := r.FindString(s)
				if err != nil || got != want || found != (want != "") {
					t.Errorf("FindString(%q) = %q, %v, %v, want %q", s, got, found, err, want)
				}
			}
		})
	}
}

func TestCompileJavaRegexErrors(t *testing.T) {
	cases := []struct {
		pattern     string
		unsupported bool
		want        string // substring of the error
	}{
		{`(?!x).*`, true, "lookaround"},
		{`(?>ab)`, true, "atomic group"},
		{`(a)\1`, true, "backreference"},
		{`(?<n>a)\k<n>`, true, "backreference"},
		{`a*+`, true, "possessive quantifier"},
		{`a{2}+`, true, "possessive quantifier"},
		{`[a-z&&[^b]]`, true, "intersection"},
		{`[a[b]]`, true, "nested character class"},
		{`(?m)^a`, true, "inline flag 'm'"},
		{`\Z`, true, `\Z`},
		{`\N{LATIN SMALL LETTER A}`, true, `\N`},
		{`\p{javaLowerCase}`, true, `\p{javaLowerCase}`},
		{`a{1001}`, true, "over 1000"},
		{`\uD83D\uDE00`, true, "surrogate"},
		{`(?i)ſ`, true, "(?i) with non-ASCII"},
		{`(?i)[\x{212A}]`, true, "(?i) with non-ASCII"},
		{`[\P{Alpha}](?i)`, true, `(?i) with \P{Alpha} in a class`},
		{`(?i)\p{Lt}`, true, `(?i) with \p{Lt}`},
		{`{"a"}`, false, "Illegal repetition"},
		{`a{1`, false, "Unclosed counted closure"},
		{`[a`, false, "Unclosed character class"},
		{`[!-\s]`, false, "Illegal character range"},
		{`[\x00-\s]`, false, "Illegal character range"},
		{`[\x00-\h]`, false, "Illegal character range"},
		{`[a-\d]`, false, "Illegal character range"},
		{`(?<a_b>a)`, false, "named capturing group"},
		{`[\b]`, false, "Illegal/unsupported escape sequence"},
		{`\y`, false, "Illegal/unsupported escape sequence"},
		{`(`, false, "missing closing )"},
	}
	for _, tc := range cases {
		_, err := vtl.CompileJavaRegex(tc.pattern)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, vtl.ErrUnsupportedRegex) != tc.unsupported {
			t.Errorf("CompileJavaRegex(%q) = %v, want an error with %q (unsupported: %v)", tc.pattern, err, tc.want, tc.unsupported)
		}
	}
	for _, p := range []string{`(?)ab`, `(?-)ab`, `(?s-)ab`, `(?i-i)a`, `[]a]`, `[^]a]`} {
		if _, err := vtl.CompileJavaRegex(p); err != nil {
			t.Errorf("CompileJavaRegex(%q): %v (Java accepts it)", p, err)
		}
	}
}

// TestJavaRegexRestrictions: features exact on some inputs only are
// reported, and refuse the other inputs.
func TestJavaRegexRestrictions(t *testing.T) {
	cases := []struct {
		pattern      string
		match, find  string // substrings of the restriction, "" for none
		refusedInput string
	}{
		{pattern: `[\s\S]+`},
		{pattern: `boom$`, find: "$", refusedInput: "boom\n"},
		{pattern: `(x|boom$)`, find: "$", refusedInput: "boom\n"},
		{pattern: `a$b`, match: "$ before the end", find: "$", refusedInput: "a\n"},
		{pattern: `\bboom\b`, match: `\b and \B`, find: `\b and \B`, refusedInput: "é boom"},
		{pattern: `(?i)boom`, match: "(?i)", find: "(?i)", refusedInput: "BOOMé"},
	}
	for _, tc := range cases {
		r, err := vtl.CompileJavaRegex(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		check := func(kind string, err error, want string) {
			switch {
			case want == "" && err != nil:
				t.Errorf("%s restriction of %q: %v, want none", kind, tc.pattern, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, vtl.ErrUnsupportedRegex)):
				t.Errorf("%s restriction of %q: %v, want one with %q", kind, tc.pattern, err, want)
			}
		}
		check("match", r.MatchRestriction(), tc.match)
		check("find", r.FindRestriction(), tc.find)
		if tc.refusedInput == "" {
			continue
		}
		_, errM := r.MatchString(tc.refusedInput)
		_, _, errF := r.FindString(tc.refusedInput)
		if (errM != nil) != (tc.match != "") || (errF != nil) != (tc.find != "") {
			t.Errorf("%q on %q: MatchString error %v, FindString error %v", tc.pattern, tc.refusedInput, errM, errF)
		}
	}
}
