package vtl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// node is a template statement.
type node interface {
	render(r *renderer, w *bytes.Buffer) error
}

// expr is an expression: a directive argument, a #set right side, an
// operand. value mirrors Node.value, truth mirrors Node.evaluate.
type expr interface {
	value(r *renderer) (any, error)
	truth(r *renderer) (bool, error)
	literal() string
}

// Control flow signals, as Velocity's StopCommand.
type stopSignal struct {
	all   bool
	scope *foreachScope // nil: nearest loop
}

func (s *stopSignal) Error() string { return "vtl: #stop/#break outside of its scope" }

// RenderError is an error raised while rendering (a failed method call, a
// body that is not JSON, ...), with the position of the expression.
type RenderError struct {
	Template     string
	Line, Column int
	Err          error
}

func (e *RenderError) Error() string {
	return fmt.Sprintf("vtl: %s:%d:%d: %v", e.Template, e.Line, e.Column, e.Err)
}

func (e *RenderError) Unwrap() error { return e.Err }

// ---- statements ----

type textNode struct{ text string }

func (n *textNode) render(_ *renderer, w *bytes.Buffer) error {
	w.WriteString(n.text)
	return nil
}

type ifNode struct {
	conds     []expr
	blocks    [][]node
	elseBlock []node
	hasElse   bool
}

func (n *ifNode) render(r *renderer, w *bytes.Buffer) error {
	for i, c := range n.conds {
		ok, err := c.truth(r)
		if err != nil {
			return err
		}
		if ok {
			return r.renderNodes(n.blocks[i], w)
		}
	}
	if n.hasElse {
		return r.renderNodes(n.elseBlock, w)
	}
	return nil
}

type setNode struct {
	left  *refNode
	right expr
	off   int
}

func (n *setNode) render(r *renderer, _ *bytes.Buffer) error {
	v, err := n.right.value(r)
	if err != nil {
		return err
	}
	if v == nil {
		// directive.set.null.allowed=false: a null right side leaves the
		// left side as it was.
		return nil
	}
	if len(n.left.parts) == 0 {
		r.vars.set(n.left.root, v)
		return nil
	}
	return n.left.setValue(r, v)
}

type foreachNode struct {
	key  string
	list expr
	body []node
	off  int
}

type foreachScope struct {
	index   int
	hasNext bool
	parent  *foreachScope
	// replaced is what $foreach held before, when it was not a scope.
	replaced any
}

func (n *foreachNode) render(r *renderer, w *bytes.Buffer) error {
	lv, err := n.list.value(r)
	if err != nil {
		return err
	}
	if lv == nil {
		return nil
	}
	items, ok := iterable(lv)
	if !ok {
		return nil // directive.foreach.skip.invalid
	}
	saved, hadSaved := r.vars.get(n.key)
	savedCount, hadCount := r.vars.get("velocityCount")
	savedNext, hadNext := r.vars.get("velocityHasNext")
	prev := r.vars.lookup("foreach")
	scope := &foreachScope{index: -1}
	if ps, ok := prev.(*foreachScope); ok {
		scope.parent = ps
	} else if prev != nil {
		scope.replaced = prev
	}
	r.vars.set("foreach", scope)
	var loopErr error
	for i, v := range items {
		hasNext := i+1 < len(items)
		r.vars.set("velocityCount", int32(i+1))
		r.vars.set("velocityHasNext", hasNext)
		r.vars.set(n.key, v)
		scope.index++
		scope.hasNext = hasNext
		if err := r.renderNodes(n.body, w); err != nil {
			var st *stopSignal
			if errors.As(err, &st) && !st.all && (st.scope == nil || st.scope == scope) {
				break
			}
			loopErr = err
			break
		}
	}
	restore(r, n.key, saved, hadSaved && saved != nil)
	restore(r, "velocityCount", savedCount, hadCount && savedCount != nil)
	restore(r, "velocityHasNext", savedNext, hadNext && savedNext != nil)
	switch {
	case scope.parent != nil:
		r.vars.set("foreach", scope.parent)
	case scope.replacedValue() != nil:
		r.vars.set("foreach", scope.replacedValue())
	default:
		r.vars.del("foreach")
	}
	return loopErr
}

func (s *foreachScope) replacedValue() any {
	if s.replaced == nil && s.parent != nil {
		return s.parent.replacedValue()
	}
	return s.replaced
}

func restore(r *renderer, k string, v any, had bool) {
	if had {
		r.vars.set(k, v)
	} else {
		r.vars.del(k)
	}
}

// iterable is UberspectImpl.getIterator: lists, arrays and map values.
func iterable(v any) ([]any, bool) {
	switch x := unlazy(v).(type) {
	case *List:
		return x.Items, true
	case *Map:
		return append([]any(nil), x.vals...), true
	}
	return nil, false
}

type breakNode struct {
	args []expr
	off  int
}

func (n *breakNode) render(r *renderer, _ *bytes.Buffer) error {
	if len(n.args) == 0 {
		return &stopSignal{}
	}
	v, err := n.args[0].value(r)
	if err != nil {
		return err
	}
	if s, ok := v.(*foreachScope); ok {
		return &stopSignal{scope: s}
	}
	return r.errorAt(n.off, fmt.Errorf("%s is not a valid scope", n.args[0].literal()))
}

type stopNode struct{ args []expr }

func (n *stopNode) render(*renderer, *bytes.Buffer) error { return &stopSignal{all: true} }

// ---- expressions ----

type constExpr struct {
	v   any
	lit string
}

func (e constExpr) value(*renderer) (any, error) { return e.v, nil }
func (e constExpr) truth(*renderer) (bool, error) {
	// Only ASTTrue evaluates to true; other literals use SimpleNode.evaluate.
	b, ok := e.v.(bool)
	return ok && b, nil
}
func (e constExpr) literal() string { return e.lit }

// wordExpr is a bare word directive argument (the "in" of #foreach).
type wordExpr struct{ word string }

func (e *wordExpr) value(*renderer) (any, error)  { return nil, nil }
func (e *wordExpr) truth(*renderer) (bool, error) { return false, nil }
func (e *wordExpr) literal() string               { return e.word }

type stringExpr struct {
	raw         string
	image       string
	boxed       any    // image as an interface, boxed once
	nodes       []node // interpolated
	interpolate bool
	lineComment bool
	single      *refNode // the literal is exactly one reference
}

func (e *stringExpr) value(r *renderer) (any, error) {
	if !e.interpolate {
		return e.boxed, nil
	}
	if e.single != nil && e.single.plain {
		// "$ref": the common case, without a buffer. The reference renders
		// as its value's toString, or its null string.
		v, err := e.single.value(r)
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case nil:
			return e.single.nullString, nil
		case string:
			return v, nil // already boxed
		}
		return toJavaString(v), nil
	}
	var b bytes.Buffer
	if err := r.renderNodes(e.nodes, &b); err != nil {
		return nil, err
	}
	s := b.String()
	if !e.lineComment && len(s) > 0 {
		s = s[:len(s)-1] // the blank added before parsing
	}
	return s, nil
}
func (e *stringExpr) truth(*renderer) (bool, error) { return false, nil }
func (e *stringExpr) literal() string               { return e.raw }

func (p *parser) makeString(t *token) expr {
	img := t.image
	e := &stringExpr{raw: tokenLiteral(t)}
	e.interpolate = img[0] == '"' && strings.ContainsAny(img, "$#")
	image := img[1 : len(img)-1]
	if img[0] == '"' {
		u, ok := unescapeUnicode(image)
		if !ok {
			p.errAt(t.off, "invalid \\u escape in string literal")
		}
		image = u
	}
	q := string(img[0])
	image = strings.ReplaceAll(image, q+q, q)
	e.image = image
	e.boxed = image
	e.lineComment = strings.Contains(image, "##")
	if e.interpolate {
		src := image
		if !e.lineComment {
			src += " "
		}
		sub := &parser{name: p.name, src: src, lx: newLexer(src)}
		sub.cur = &token{kind: -1}
		func() {
			defer func() {
				if r := recover(); r != nil {
					if pp, ok := r.(parsePanic); ok {
						// Report the position in the enclosing template.
						line, col := lineCol(p.src, t.off)
						pp.err.Line, pp.err.Column = line, col
						pp.err.Msg = "in string literal: " + pp.err.Msg
						panic(pp)
					}
					panic(r)
				}
			}()
			e.nodes = mergeText(sub.process())
		}()
		// "$ref" parses as the reference and the appended blank.
		if len(e.nodes) == 2 && !e.lineComment {
			if ref, ok := e.nodes[0].(*refNode); ok {
				if t, ok := e.nodes[1].(*textNode); ok && t.text == " " {
					e.single = ref
				}
			}
		}
	}
	return e
}

// unescapeUnicode is ASTStringLiteral.unescape: only \uXXXX.
func unescapeUnicode(s string) (string, bool) {
	if !strings.Contains(s, `\u`) {
		return s, true
	}
	var units []uint16
	var b strings.Builder
	flush := func() {
		if len(units) > 0 {
			b.WriteString(utf16ToString(units))
			units = units[:0]
		}
	}
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], `\u`) {
			if i+6 > len(s) {
				return "", false
			}
			var v uint16
			for _, c := range []byte(s[i+2 : i+6]) {
				d, ok := hexVal(c)
				if !ok {
					return "", false
				}
				v = v<<4 | uint16(d)
			}
			units = append(units, v)
			i += 6
			continue
		}
		flush()
		b.WriteByte(s[i])
		i++
	}
	flush()
	return b.String(), true
}

func hexVal(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

type mapExpr struct {
	keys, vals []expr
	lit        string
}

func (e *mapExpr) value(r *renderer) (any, error) {
	m := NewMap()
	for i := range e.keys {
		k, err := e.keys[i].value(r)
		if err != nil {
			return nil, err
		}
		v, err := e.vals[i].value(r)
		if err != nil {
			return nil, err
		}
		m.Put(k, v)
	}
	return m, nil
}
func (e *mapExpr) truth(*renderer) (bool, error) { return false, nil }
func (e *mapExpr) literal() string               { return e.lit }

type listExpr struct {
	items []expr
	lit   string
}

func (e *listExpr) value(r *renderer) (any, error) {
	l := &List{Items: make([]any, 0, len(e.items))}
	for _, it := range e.items {
		v, err := it.value(r)
		if err != nil {
			return nil, err
		}
		l.Items = append(l.Items, v)
	}
	return l, nil
}
func (e *listExpr) truth(*renderer) (bool, error) { return false, nil }
func (e *listExpr) literal() string               { return e.lit }

type rangeExpr struct {
	l, r expr
	lit  string
}

func (e *rangeExpr) value(r *renderer) (any, error) {
	lv, err := e.l.value(r)
	if err != nil {
		return nil, err
	}
	rv, err := e.r.value(r)
	if err != nil {
		return nil, err
	}
	if lv == nil || rv == nil || !isNumber(lv) || !isNumber(rv) {
		return nil, nil
	}
	a, b := intValue(lv), intValue(rv)
	n := a - b
	if n < 0 {
		n = -n
	}
	delta := int32(1)
	if a >= b {
		delta = -1
	}
	// Velocity would build any range; a template has no business with
	// more than a million elements.
	if n >= 1_000_000 {
		return nil, fmt.Errorf("range [%d..%d] too large", a, b)
	}
	l := &List{Items: make([]any, 0, n+1)}
	v := a
	for i := int32(0); i <= n; i++ {
		l.Items = append(l.Items, v)
		v += delta
	}
	return l, nil
}
func (e *rangeExpr) truth(*renderer) (bool, error) { return false, nil }
func (e *rangeExpr) literal() string               { return e.lit }

// span is the token range JJTree gives a node; its literal() is what
// Velocity substitutes for a null operand of "+" with a string. For binary
// and unary operators JJTree opens the node after the operator, so the
// range is the right operand's.
type span struct{ first, last *token }

func (s span) literal() string { return literalOf(s.first, s.last) }

type parenExpr struct {
	e expr
	span
}

func (e *parenExpr) value(r *renderer) (any, error)  { return e.e.value(r) }
func (e *parenExpr) truth(r *renderer) (bool, error) { return e.e.truth(r) }

type notExpr struct {
	e expr
	span
}

func (e *notExpr) value(r *renderer) (any, error) {
	b, err := e.e.truth(r)
	return !b, err
}
func (e *notExpr) truth(r *renderer) (bool, error) {
	b, err := e.e.truth(r)
	return !b, err
}

type logicExpr struct {
	op   int
	l, r expr
	span
}

func (e *logicExpr) truth(r *renderer) (bool, error) {
	a, err := e.l.truth(r)
	if err != nil {
		return false, err
	}
	if e.op == tkLogicalOr && a {
		return true, nil
	}
	if e.op == tkLogicalAnd && !a {
		return false, nil
	}
	return e.r.truth(r)
}
func (e *logicExpr) value(r *renderer) (any, error) { return e.truth(r) }

type cmpExpr struct {
	op   int
	l, r expr
	span
}

func (e *cmpExpr) value(r *renderer) (any, error) { return e.truth(r) }
func (e *cmpExpr) truth(r *renderer) (bool, error) {
	a, err := e.l.value(r)
	if err != nil {
		return false, err
	}
	b, err := e.r.value(r)
	if err != nil {
		return false, err
	}
	switch e.op {
	case tkLogicalEquals:
		return javaLooseEquals(a, b), nil
	case tkLogicalNotEquals:
		if isNumber(a) && isNumber(b) {
			return compareNumbers(a, b) != 0, nil
		}
		if a == nil && b == nil {
			return false, nil
		}
		return !javaLooseEquals(a, b), nil
	}
	if a == nil || b == nil || !isNumber(a) || !isNumber(b) {
		return false, nil
	}
	c := compareNumbers(a, b)
	switch e.op {
	case tkLogicalLT:
		return c == -1, nil
	case tkLogicalGT:
		return c == 1, nil
	case tkLogicalLE:
		return c <= 0, nil
	default:
		return c >= 0, nil
	}
}

// javaLooseEquals is ASTEQNode.evaluate.
func javaLooseEquals(a, b any) bool {
	if isNumber(a) && isNumber(b) {
		return compareNumbers(a, b) == 0
	}
	if a != nil && b != nil && sameJavaHierarchy(a, b) {
		return javaEquals(a, b)
	}
	if a == nil && b == nil {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return toJavaString(a) == toJavaString(b)
}

type mathExpr struct {
	op   int
	l, r expr
	span
}

func (e *mathExpr) truth(*renderer) (bool, error) { return false, nil }
func (e *mathExpr) value(r *renderer) (any, error) {
	a, err := e.l.value(r)
	if err != nil {
		return nil, err
	}
	b, err := e.r.value(r)
	if err != nil {
		return nil, err
	}
	if e.op == tkPlus {
		_, as := a.(string)
		_, bs := b.(string)
		if as || bs {
			if a == nil {
				return e.l.literal() + b.(string), nil
			}
			if b == nil {
				return a.(string) + e.r.literal(), nil
			}
			return toJavaString(a) + toJavaString(b), nil
		}
	}
	if !isNumber(a) || !isNumber(b) {
		return nil, nil
	}
	return arith(e.op, a, b)
}

// ---- references ----

const (
	refNormal = iota + 1
	refFormal
	refQuiet
	refRunt
)

const (
	partProperty = iota
	partMethod
	partIndex
)

type refPart struct {
	kind  int
	name  string
	args  []expr
	index expr
}

type refNode struct {
	first, last *token
	parts       []refPart

	refType    int
	root       string
	escaped    bool
	computable bool
	escPrefix  string
	morePrefix string
	nullString string
	lit        string
	// plain: rendering a non-null value writes just its toString (no
	// escape or prefix characters), so a string value renders as itself.
	plain bool
}

// init is ASTReference.getRoot: it sorts out escapes and the null string.
func (n *refNode) init() {
	t := n.first
	n.computable = true
	if strings.Contains(t.image, `\!`) {
		img := t.image
		i := strings.IndexByte(img, '$')
		if i < 0 {
			n.computable = false
			n.nullString = img
			n.root = img
			n.lit = literalOf(n.first, n.last)
			return
		}
		for i < len(img) && img[i] != '\\' {
			i++
		}
		start := i
		count := 0
		for i < len(img) && img[i] == '\\' {
			i++
			count++
		}
		n.nullString = img[:start] + img[start:start+count-1] + img[start+count:]
		n.computable = false
		n.root = n.nullString
		n.lit = literalOf(n.first, n.last)
		return
	}
	img := t.image
	if strings.HasPrefix(img, `\`) {
		i := 0
		for i < len(img) && img[i] == '\\' {
			i++
		}
		n.escaped = i%2 != 0
		n.escPrefix = img[:i/2]
		img = img[i:]
	}
	if loc := strings.LastIndexByte(img, '$'); loc > 0 {
		n.morePrefix = img[:loc]
		img = img[loc:]
	}
	t.image = img
	n.lit = literalOf(n.first, n.last)
	n.nullString = n.lit
	switch {
	case strings.HasPrefix(img, "$!"):
		n.refType = refQuiet
		if !n.escaped {
			n.nullString = ""
		}
		if strings.HasPrefix(img, "$!{") {
			n.root = t.next.image
		} else {
			n.root = img[2:]
		}
	case img == "${":
		n.refType = refFormal
		n.root = t.next.image
	case strings.HasPrefix(img, "$"):
		n.refType = refNormal
		n.root = img[1:]
	default:
		n.refType = refRunt
		n.root = img
	}
	n.plain = n.refType != refRunt && !n.escaped && n.escPrefix == "" && n.morePrefix == "" && n.computable
}

func (n *refNode) literal() string { return n.lit }

func (n *refNode) value(r *renderer) (any, error) {
	if !n.computable {
		return nil, nil
	}
	return n.execute(r)
}

func (n *refNode) execute(r *renderer) (any, error) {
	if n.refType == refRunt {
		return nil, nil
	}
	v := r.vars.lookup(n.root)
	if v == nil {
		return nil, nil
	}
	for i := range n.parts {
		var err error
		v, err = n.applyPart(r, v, &n.parts[i])
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
	}
	return v, nil
}

func (n *refNode) applyPart(r *renderer, v any, p *refPart) (any, error) {
	switch p.kind {
	case partProperty:
		res, err := getProperty(r, v, p.name)
		if err != nil {
			return nil, r.errorAt(n.first.off, err)
		}
		return res, nil
	case partMethod:
		args := make([]any, len(p.args))
		for i, a := range p.args {
			av, err := a.value(r)
			if err != nil {
				return nil, err
			}
			args[i] = av
		}
		res, err := callMethod(r, v, p.name, args)
		if err != nil {
			return nil, r.errorAt(n.first.off, err)
		}
		return res, nil
	default:
		iv, err := p.index.value(r)
		if err != nil {
			return nil, err
		}
		res, err := indexValue(v, iv)
		if err != nil {
			return nil, r.errorAt(n.first.off, err)
		}
		return res, nil
	}
}

func (n *refNode) truth(r *renderer) (bool, error) {
	v, err := n.value(r)
	if err != nil || v == nil {
		return false, err
	}
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return true, nil
}

func (n *refNode) render(r *renderer, w *bytes.Buffer) error {
	if n.refType == refRunt {
		w.WriteString(n.root)
		return nil
	}
	v, err := n.value(r)
	if err != nil {
		return err
	}
	if n.escaped {
		w.WriteString(n.escPrefix)
		if v == nil {
			w.WriteByte('\\')
		}
		w.WriteString(n.nullString)
		return nil
	}
	if v != nil {
		w.WriteString(n.escPrefix)
		w.WriteString(n.morePrefix)
		writeJava(w, v)
		return nil
	}
	w.WriteString(n.escPrefix)
	w.WriteString(n.escPrefix)
	w.WriteString(n.morePrefix)
	w.WriteString(n.nullString)
	return nil
}

// setValue is ASTReference.setValue for #set($a.b = ...) and #set($a[0] = ...).
func (n *refNode) setValue(r *renderer, v any) error {
	obj := unlazy(r.vars.lookup(n.root))
	if obj == nil {
		return nil
	}
	for i := 0; i < len(n.parts)-1; i++ {
		var err error
		obj, err = n.applyPart(r, obj, &n.parts[i])
		if err != nil {
			return err
		}
		if obj == nil {
			return nil
		}
	}
	obj = unlazy(obj)
	last := &n.parts[len(n.parts)-1]
	switch last.kind {
	case partProperty:
		if m, ok := obj.(*Map); ok {
			m.Put(last.name, v)
		}
		return nil
	case partIndex:
		iv, err := last.index.value(r)
		if err != nil {
			return err
		}
		switch x := obj.(type) {
		case *Map:
			x.Put(iv, v)
		case *List:
			i, ok := iv.(int32)
			if !ok {
				return nil
			}
			if i < 0 {
				i += int32(len(x.Items))
			}
			if i < 0 || int(i) >= len(x.Items) {
				return r.errorAt(n.first.off, fmt.Errorf("java.lang.IndexOutOfBoundsException: Index %d out of bounds for length %d", i, len(x.Items)))
			}
			x.Items[i] = v
		}
	}
	return nil
}

// mergeText joins adjacent text nodes so rendering writes fewer, longer strings.
func mergeText(nodes []node) []node {
	out := nodes[:0:0]
	for _, n := range nodes {
		if t, ok := n.(*textNode); ok && len(out) > 0 {
			if prev, ok := out[len(out)-1].(*textNode); ok {
				out[len(out)-1] = &textNode{text: prev.text + t.text}
				continue
			}
		}
		switch x := n.(type) {
		case *ifNode:
			for i := range x.blocks {
				x.blocks[i] = mergeText(x.blocks[i])
			}
			x.elseBlock = mergeText(x.elseBlock)
		case *foreachNode:
			x.body = mergeText(x.body)
		}
		out = append(out, n)
	}
	return out
}
