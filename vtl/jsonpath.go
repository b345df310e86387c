package vtl

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// API Gateway evaluates $input.json/$input.path with Jayway JsonPath, whose
// version-specific rules decide what a template renders: which paths are
// "definite" (one value) or not (a JSONArray of matches), when a missing
// property is "not found" rather than skipped, that [-1] is out of bounds
// while [-1:] is a slice, that ["a"] is not a valid path, that multi-name
// brackets build a map, and so on. This file ports the path compiler and
// the path tokens of Jayway JsonPath 2.0.0 (the version the differential
// suite runs) so the results match.
//
// We do not use github.com/ohler55/ojg/jp (v1.28.5) or
// github.com/PaesslerAG/jsonpath (v0.1.1). Evaluated against Jayway 2.0.0
// on the same document, both disagree where templates notice: $.arr[-1] is
// not found in Jayway but 3 in ojg (an error in PaesslerAG); $['a','b'] is
// a map in Jayway but a list in both; $["a"] is an invalid path in Jayway
// but accepted by both; $.obj[0] is an error in Jayway but [] in ojg; ojg
// returns a list even for definite paths, and PaesslerAG reports a missing
// key as an error where Jayway's "not found" makes $input.json give "".
// Neither takes json-smart's values either, and adding a module to the
// shared go.mod is not this package's call.
//
// Filters ([?(...)]) are not supported: Render fails with an error wrapping
// ErrUnsupportedJSONPath.

// ErrUnsupportedJSONPath wraps JSONPath features this engine refuses.
var ErrUnsupportedJSONPath = errors.New("unsupported JSONPath")

// errPathNotFound is Jayway's PathNotFoundException: $input.json and
// $input.path then give "".
var errPathNotFound = errors.New("com.jayway.jsonpath.PathNotFoundException")

func invalidPath(format string, a ...any) error {
	return fmt.Errorf("com.jayway.jsonpath.InvalidPathException: "+format, a...)
}

type jpKind uint8

const (
	jpRoot jpKind = iota
	jpProperty
	jpArray
	jpWildcard
	jpScan
)

type arrayOp uint8

const (
	opSingleIndex arrayOp = iota
	opIndexSequence
	opContextSize
	opSliceFrom
	opSliceTo
	opSliceBetween
)

type jpToken struct {
	kind  jpKind
	props []string
	op    arrayOp
	nums  []int
	next  *jpToken
	prev  *jpToken
}

func (t *jpToken) leaf() bool { return t.next == nil }

func (t *jpToken) tokenDefinite() bool {
	switch t.kind {
	case jpRoot, jpProperty:
		return true
	case jpArray:
		return t.op == opSingleIndex || t.op == opContextSize
	}
	return false
}

// pathDefinite: this token and all after it are definite.
func (t *jpToken) pathDefinite() bool {
	for x := t; x != nil; x = x.next {
		if !x.tokenDefinite() {
			return false
		}
	}
	return true
}

// upstreamDefinite reproduces PathToken.isUpstreamDefinite, which despite
// its name looks at the previous token and everything after it.
func (t *jpToken) upstreamDefinite() bool {
	if !t.tokenDefinite() {
		return false
	}
	if t.prev == nil {
		return true
	}
	return t.prev.pathDefinite()
}

var jpCache memo[*jpToken]

// compileJSONPath is PathCompiler.compile, cached.
func compileJSONPath(src string) (*jpToken, error) { return jpCache.get(src, compileJSONPathUncached) }

type jpOOB struct{}

func compileJSONPathUncached(src string) (root *jpToken, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(jpOOB); ok {
				root, err = nil, invalidPath("java.lang.StringIndexOutOfBoundsException in %q", src)
				return
			}
			if e, ok := r.(error); ok {
				root, err = nil, e
				return
			}
			panic(r)
		}
	}()
	path := javaTrim(src)
	if path == "" {
		return nil, errors.New("java.lang.IllegalArgumentException: Path may not be null empty")
	}
	if strings.HasSuffix(path, "..") {
		return nil, invalidPath("A path can not end with a scan.")
	}
	if path[0] != '$' && path[0] != '@' {
		path = "$." + path
	}
	if path[0] == '@' {
		path = "$" + path[1:]
	}
	if len(path) > 1 && path[1] != '.' && path[1] != '[' {
		return nil, invalidPath("Invalid path %s", path)
	}
	at := func(i int) byte {
		if i >= len(path) {
			panic(jpOOB{})
		}
		return path[i]
	}
	var last *jpToken
	i := 0
	for {
		var fragment string
		switch at(i) {
		case ' ':
			return nil, invalidPath("Space not allowed in path")
		case '$':
			fragment = "$"
			i++
		case '[':
			n := fastForwardUntilClosed(path, i)
			fragment = path[i : i+n]
			i += n
		case '.':
			i++
			if at(i) == '.' {
				fragment = ".."
				i++
				break
			}
			n := fastForward(path, i)
			if n == 0 {
				if i < len(path) {
					continue
				}
				return finishPath(root)
			}
			if n == 1 && path[i] == '*' {
				fragment = "[*]"
			} else {
				fragment = "['" + path[i:i+n] + "']"
			}
			i += n
		case '*':
			fragment = "[*]"
			i++
		default:
			n := fastForward(path, i)
			fragment = "['" + path[i:i+n] + "']"
			i += n
		}
		tok, err := analyzeFragment(fragment)
		if err != nil {
			return nil, err
		}
		if root == nil {
			if tok.kind != jpRoot {
				return nil, invalidPath("path must start with $")
			}
			root = tok
		} else {
			last.next = tok
			tok.prev = last
		}
		last = tok
		if i >= len(path) {
			return finishPath(root)
		}
	}
}

func finishPath(root *jpToken) (*jpToken, error) {
	return root, nil
}

func fastForward(s string, i int) int {
	n := 0
	for ; i < len(s); i, n = i+1, n+1 {
		if c := s[i]; c == '.' || c == '[' || c == ' ' {
			break
		}
	}
	return n
}

func fastForwardUntilClosed(s string, i int) int {
	n, nested := 1, 0
	i++
	for i < len(s) {
		c := s[i]
		i++
		n++
		if c == ']' && nested == 0 {
			break
		}
		if c == '[' {
			nested++
		}
		if c == ']' {
			nested--
		}
	}
	return n
}

var jpFilterPattern = regexp.MustCompile(`^\[\s*\?\s*[,\s*\?]*?\s*]$`)

// analyzeFragment is PathComponentAnalyzer.analyze.
func analyzeFragment(f string) (*jpToken, error) {
	switch f {
	case "$":
		return &jpToken{kind: jpRoot}, nil
	case "..":
		return &jpToken{kind: jpScan}, nil
	case "[*]", ".*":
		return &jpToken{kind: jpWildcard}, nil
	}
	if f == "[?]" || jpFilterPattern.MatchString(f) {
		return nil, fmt.Errorf("%w: filter %s", ErrUnsupportedJSONPath, f)
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '?':
			return nil, fmt.Errorf("%w: filter %s", ErrUnsupportedJSONPath, f)
		case c == '\'':
			return analyzeProperty(f, i), nil
		case isDigit(c) || c == ':' || c == '-' || c == '@':
			return analyzeArraySequence(f, i)
		}
	}
	return nil, invalidPath("Could not analyze path component: %s", f)
}

func fragAt(f string, i int) byte {
	if i >= len(f) {
		panic(jpOOB{})
	}
	return f[i]
}

func analyzeProperty(f string, i int) *jpToken {
	props := []string{}
	var buf strings.Builder
	open := false
	for c := fragAt(f, i); c != ']'; c = fragAt(f, i) {
		if c == '\'' {
			if open {
				props = append(props, buf.String())
				buf.Reset()
				open = false
			} else {
				open = true
			}
		} else if open {
			buf.WriteByte(c)
		}
		i++
	}
	return &jpToken{kind: jpProperty, props: props}
}

func parseJavaInt(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, invalidPath("java.lang.NumberFormatException: For input string: %q", s)
	}
	return int(n), nil
}

func analyzeArraySequence(f string, i int) (*jpToken, error) {
	var buf strings.Builder
	var nums []int
	cur := fragAt(f, i)
	contextSize := cur == '@'
	var sliceTo, sliceFrom, sliceBetween, indexSequence bool
	add := func() error {
		n, err := parseJavaInt(buf.String())
		if err != nil {
			return err
		}
		nums = append(nums, n)
		buf.Reset()
		return nil
	}
	next := func() byte {
		i++
		cur = fragAt(f, i)
		return cur
	}
	isNumChar := func(c byte) bool { return c < 0x80 && unicode.IsDigit(rune(c)) }
	if contextSize {
		next()
		next()
		for cur != '-' {
			if cur != ' ' && cur != '(' && cur != ')' {
				buf.WriteByte(cur)
			}
			next()
		}
		fn := buf.String()
		buf.Reset()
		if fn != "size" && fn != "length" {
			return nil, invalidPath("Invalid function: @.%s. Supported functions are: [(@.length - n)] and [(@.size() - n)]", fn)
		}
		for cur != ')' {
			if cur != ' ' {
				buf.WriteByte(cur)
			}
			next()
		}
	} else {
		for isNumChar(cur) || cur == ',' || cur == ' ' || cur == ':' || cur == '-' {
			switch cur {
			case ' ':
			case ':':
				if buf.Len() == 0 {
					sliceTo = true
					for next(); isNumChar(cur) || cur == ' ' || cur == '-'; next() {
						if cur != ' ' {
							buf.WriteByte(cur)
						}
					}
					if err := add(); err != nil {
						return nil, err
					}
					break
				}
				if err := add(); err != nil {
					return nil, err
				}
				for next(); isNumChar(cur) || cur == ' ' || cur == '-'; next() {
					if cur != ' ' {
						buf.WriteByte(cur)
					}
				}
				if buf.Len() == 0 {
					sliceFrom = true
					break
				}
				sliceBetween = true
				if err := add(); err != nil {
					return nil, err
				}
			case ',':
				if err := add(); err != nil {
					return nil, err
				}
				indexSequence = true
			default:
				buf.WriteByte(cur)
			}
			if cur == ']' {
				break
			}
			next()
		}
	}
	if buf.Len() > 0 {
		if err := add(); err != nil {
			return nil, err
		}
	}
	t := &jpToken{kind: jpArray, nums: nums}
	switch {
	case len(nums) == 1 && !sliceTo && !sliceFrom && !contextSize:
		t.op = opSingleIndex
	case indexSequence:
		t.op = opIndexSequence
	case sliceFrom:
		t.op = opSliceFrom
	case sliceTo:
		t.op = opSliceTo
	case sliceBetween:
		t.op = opSliceBetween
	case contextSize:
		t.op = opContextSize
	default:
		return nil, invalidPath("Could not analyze array component %s", f)
	}
	if len(t.nums) == 0 || (t.op == opSliceBetween && len(t.nums) < 2) {
		return nil, invalidPath("Could not analyze array component %s", f)
	}
	return t, nil
}

// ---- evaluation ----

type jpCtx struct {
	results []any
}

// evalJSONPath evaluates path on doc: the value (a *List of matches for an
// indefinite path) and whether the path was found.
func evalJSONPath(doc any, src string) (any, bool, error) {
	root, err := compileJSONPath(src)
	if err != nil {
		return nil, false, err
	}
	ctx := &jpCtx{}
	if err := root.evaluate(doc, ctx); err != nil {
		if errors.Is(err, errPathNotFound) {
			return nil, false, nil
		}
		return nil, false, err
	}
	if root.pathDefinite() {
		if len(ctx.results) == 0 {
			return nil, false, nil
		}
		return ctx.results[0], true, nil
	}
	return &List{Kind: JSONArray, Items: append([]any{}, ctx.results...)}, true, nil
}

func (t *jpToken) evaluate(model any, ctx *jpCtx) error {
	switch t.kind {
	case jpRoot:
		if t.leaf() {
			ctx.results = append(ctx.results, model)
			return nil
		}
		return t.next.evaluate(model, ctx)
	case jpProperty:
		m, ok := model.(*Map)
		if !ok {
			return errPathNotFound
		}
		return t.handleObjectProperty(m, t.props, ctx)
	case jpArray:
		return t.evaluateArray(model, ctx)
	case jpWildcard:
		switch x := model.(type) {
		case *Map:
			for _, k := range x.Keys() {
				if err := t.handleObjectProperty(x, []string{toJavaString(k)}, ctx); err != nil {
					return err
				}
			}
		case *List:
			for i := range x.Items {
				if err := t.handleArrayIndex(i, x, ctx); err != nil && !errors.Is(err, errPathNotFound) {
					return err
				}
			}
		}
		return nil
	case jpScan:
		return walk(t.next, model, ctx)
	}
	return nil
}

func (t *jpToken) handleObjectProperty(m *Map, props []string, ctx *jpCtx) error {
	if len(props) != 1 {
		if !t.leaf() {
			return invalidPath("Multi properties can only be used as path leafs")
		}
		merged := NewMap()
		for _, p := range props {
			if m.Has(p) {
				merged.Put(p, m.Get(p))
			}
		}
		ctx.results = append(ctx.results, merged)
		return nil
	}
	p := props[0]
	if !m.Has(p) {
		if t.leaf() {
			return errPathNotFound
		}
		if !t.upstreamDefinite() {
			return nil
		}
		return errPathNotFound
	}
	v := m.Get(p)
	if t.leaf() {
		ctx.results = append(ctx.results, v)
		return nil
	}
	return t.next.evaluate(v, ctx)
}

func (t *jpToken) handleArrayIndex(i int, l *List, ctx *jpCtx) error {
	if i < 0 || i >= len(l.Items) {
		return errPathNotFound
	}
	v := l.Items[i]
	if t.leaf() {
		ctx.results = append(ctx.results, v)
		return nil
	}
	return t.next.evaluate(v, ctx)
}

func (t *jpToken) evaluateArray(model any, ctx *jpCtx) error {
	if model == nil {
		return errPathNotFound
	}
	l, ok := model.(*List)
	if !ok {
		return invalidPath("Filter: %v can only be applied to arrays. Current context is: %s", t.nums, toJavaString(model))
	}
	n := len(l.Items)
	switch t.op {
	case opSingleIndex:
		return t.handleArrayIndex(t.nums[0], l, ctx)
	case opIndexSequence:
		for _, i := range t.nums {
			if err := t.handleArrayIndex(i, l, ctx); err != nil {
				return err
			}
		}
	case opContextSize:
		return t.handleArrayIndex(n+t.nums[0], l, ctx)
	case opSliceFrom:
		from := t.nums[0]
		if from < 0 {
			from += n
		}
		from = max(0, from)
		for i := from; i < n; i++ {
			if err := t.handleArrayIndex(i, l, ctx); err != nil {
				return err
			}
		}
	case opSliceTo:
		to := t.nums[0]
		if to < 0 {
			to += n
		}
		to = min(n, to)
		for i := 0; i < to; i++ {
			if err := t.handleArrayIndex(i, l, ctx); err != nil {
				return err
			}
		}
	case opSliceBetween:
		from, to := t.nums[0], min(n, t.nums[1])
		for i := from; i < to; i++ {
			if err := t.handleArrayIndex(i, l, ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanMatches is ScanPathToken's predicate for its target token.
func scanMatches(pt *jpToken, model any) bool {
	switch pt.kind {
	case jpProperty:
		m, ok := model.(*Map)
		if !ok {
			return false
		}
		for _, p := range pt.props {
			if !m.Has(p) {
				return false
			}
		}
		return true
	case jpArray:
		_, ok := model.(*List)
		return ok
	case jpWildcard:
		return true
	}
	return false
}

func walk(pt *jpToken, model any, ctx *jpCtx) error {
	switch x := model.(type) {
	case *Map:
		if scanMatches(pt, x) {
			if err := pt.evaluate(x, ctx); err != nil {
				return err
			}
		}
		for _, k := range x.Keys() {
			if err := walk(pt, x.Get(k), ctx); err != nil {
				return err
			}
		}
	case *List:
		if scanMatches(pt, x) {
			if pt.leaf() {
				if err := pt.evaluate(x, ctx); err != nil {
					return err
				}
			} else {
				// Jayway 2.0 applies the token after the target to every
				// element, skipping the target itself.
				for _, e := range x.Items {
					if err := pt.next.evaluate(e, ctx); err != nil {
						return err
					}
				}
			}
		}
		for _, e := range x.Items {
			if err := walk(pt, e, ctx); err != nil {
				return err
			}
		}
	}
	return nil
}
