package vtl

import (
	"fmt"
	"strconv"
	"strings"
)

// The parser follows the productions of Velocity 1.7's Parser.jjt one to
// one, including JavaCC's lookahead rules. Lookahead matters beyond choosing
// productions: the lexer is lazy and two productions (Directive and
// SetDirective) change its state, so the parser must fetch exactly as many
// tokens ahead as JavaCC's generated code does.

// ParseError is a template syntax error.
type ParseError struct {
	Template     string
	Line, Column int
	Msg          string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("vtl: %s:%d:%d: %s", e.Template, e.Line, e.Column, e.Msg)
}

// directives known to Velocity 1.7 (directive.properties); they decide
// escape handling and block structure even where we do not implement them.
var blockDirectives = map[string]bool{"foreach": true, "literal": true, "define": true, "macro": true}
var lineDirectives = map[string]bool{"include": true, "parse": true, "evaluate": true, "break": true, "stop": true}

func isDirectiveName(n string) bool { return blockDirectives[n] || lineDirectives[n] }

type parser struct {
	name  string
	src   string
	lx    *lexer
	cur   *token // last consumed token
	depth int
}

// maxDepth bounds nesting (blocks, parentheses, literals) so a hostile
// template cannot exhaust the stack; Velocity's recursive parser fails
// with StackOverflowError at some depth too.
const maxDepth = 500

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.errAt(p.peek().off, "nesting deeper than %d", maxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

type parsePanic struct{ err *ParseError }

type laSuccess struct{}

func (p *parser) errAt(off int, format string, args ...any) {
	line, col := lineCol(p.src, off)
	panic(parsePanic{&ParseError{Template: p.name, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}})
}

// lineCol converts a byte offset into 1-based line and column (in runes).
func lineCol(src string, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// fetchAfter returns t.next, lexing it if needed.
func (p *parser) fetchAfter(t *token) *token {
	if t.next == nil {
		nt, err := p.lx.next()
		if err != nil {
			p.errAt(err.off, "lexical error: %s", err.msg)
		}
		t.next = nt
	}
	return t.next
}

func (p *parser) peek() *token { return p.fetchAfter(p.cur) }

func (p *parser) kind() int { return p.peek().kind }

func (p *parser) consume(kind int) *token {
	t := p.peek()
	if t.kind != kind {
		p.unexpected(t)
	}
	p.cur = t
	return t
}

func (p *parser) unexpected(t *token) {
	if t.kind == tkEOF {
		p.errAt(t.off, "encountered end of template")
	}
	p.errAt(t.off, "encountered %q", t.image)
}

// scanner implements JavaCC's jj_scan_token bookkeeping for syntactic
// lookahead: a budget of tokens, success once it is used up.
type scanner struct {
	p         *parser
	pos, last *token
	la        int
}

func (p *parser) lookahead(la int, f func(s *scanner) bool) (ok bool) {
	s := &scanner{p: p, pos: p.cur, last: p.cur, la: la}
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(laSuccess); is {
				ok = true
				return
			}
			panic(r)
		}
	}()
	return f(s)
}

func (s *scanner) tok(kind int) bool {
	if s.pos == s.last {
		s.la--
		s.pos = s.p.fetchAfter(s.pos)
		s.last = s.pos
	} else {
		s.pos = s.pos.next
	}
	if s.pos.kind != kind {
		return false
	}
	if s.la == 0 && s.pos == s.last {
		panic(laSuccess{})
	}
	return true
}

// opt scans an optional single token.
func (s *scanner) opt(kind int) {
	x := s.pos
	if !s.tok(kind) {
		s.pos = x
	}
}

func (s *scanner) anyOf(fs ...func() bool) bool {
	x := s.pos
	for _, f := range fs {
		if f() {
			return true
		}
		s.pos = x
	}
	return false
}

func (s *scanner) reference() bool {
	x := s.pos
	if s.tok(tkIdentifier) {
		s.refTail()
		return true
	}
	s.pos = x
	if !s.tok(tkLCurly) || !s.tok(tkIdentifier) {
		return false
	}
	s.refTail()
	return s.tok(tkRCurly)
}

func (s *scanner) refTail() {
	for {
		x := s.pos
		if !s.index() {
			s.pos = x
			break
		}
	}
	for {
		x := s.pos
		if !s.dotPart() {
			s.pos = x
			break
		}
	}
}

func (s *scanner) dotPart() bool {
	if !s.tok(tkDot) {
		return false
	}
	x := s.pos
	if !s.method() {
		s.pos = x
		if !s.tok(tkIdentifier) {
			return false
		}
	}
	for {
		x := s.pos
		if !s.index() {
			s.pos = x
			break
		}
	}
	return true
}

func (s *scanner) index() bool {
	if !s.tok(tkIndexLBracket) {
		return false
	}
	s.opt(tkWhitespace)
	if !s.anyOf(
		func() bool { return s.tok(tkStringLiteral) },
		func() bool { return s.tok(tkIntegerLiteral) },
		func() bool { return s.tok(tkTrue) },
		func() bool { return s.tok(tkFalse) },
		s.reference,
	) {
		return false
	}
	s.opt(tkWhitespace)
	return s.tok(tkIndexRBracket)
}

func (s *scanner) method() bool {
	if !s.tok(tkIdentifier) || !s.tok(tkLParen) {
		return false
	}
	x := s.pos
	if s.parameter() {
		for {
			y := s.pos
			if !s.tok(tkComma) || !s.parameter() {
				s.pos = y
				break
			}
		}
	} else {
		s.pos = x
	}
	return s.tok(tkRefMod2RParen)
}

func (s *scanner) parameter() bool {
	s.opt(tkWhitespace)
	if !s.anyOf(
		func() bool { return s.tok(tkStringLiteral) },
		func() bool { return s.tok(tkIntegerLiteral) },
		s.integerRange,
		s.mapLit,
		s.objectArray,
		func() bool { return s.tok(tkTrue) },
		func() bool { return s.tok(tkFalse) },
		s.reference,
		func() bool { return s.tok(tkFloatLiteral) },
	) {
		return false
	}
	s.opt(tkWhitespace)
	return true
}

func (s *scanner) rangeBound() bool {
	return s.anyOf(s.reference, func() bool { return s.tok(tkIntegerLiteral) })
}

// rangeHead is the explicit lookahead of IntegerRange alternatives.
func (s *scanner) rangeHead() bool {
	if !s.tok(tkLBracket) {
		return false
	}
	s.opt(tkWhitespace)
	if !s.rangeBound() {
		return false
	}
	s.opt(tkWhitespace)
	return s.tok(tkDoubleDot)
}

func (s *scanner) integerRange() bool {
	if !s.rangeHead() {
		return false
	}
	s.opt(tkWhitespace)
	if !s.rangeBound() {
		return false
	}
	s.opt(tkWhitespace)
	return s.tok(tkRBracket)
}

func (s *scanner) mapLit() bool {
	if !s.tok(tkLeftCurley) {
		return false
	}
	x := s.pos
	if s.parameter() && s.tok(tkColon) && s.parameter() {
		for {
			y := s.pos
			if !(s.tok(tkComma) && s.parameter() && s.tok(tkColon) && s.parameter()) {
				s.pos = y
				break
			}
		}
	} else {
		s.pos = x
		s.opt(tkWhitespace)
	}
	return s.anyOf(func() bool { return s.tok(tkRightCurley) }, func() bool { return s.tok(tkRCurly) })
}

func (s *scanner) objectArray() bool {
	if !s.tok(tkLBracket) {
		return false
	}
	x := s.pos
	if s.parameter() {
		for {
			y := s.pos
			if !s.tok(tkComma) || !s.parameter() {
				s.pos = y
				break
			}
		}
	} else {
		s.pos = x
	}
	return s.tok(tkRBracket)
}

func (s *scanner) directiveArg() bool {
	return s.anyOf(
		s.reference,
		func() bool { return s.tok(tkWord) },
		func() bool { return s.tok(tkStringLiteral) },
		func() bool { return s.tok(tkIntegerLiteral) },
		s.integerRange,
		func() bool { return s.tok(tkFloatLiteral) },
		s.mapLit,
		s.objectArray,
		func() bool { return s.tok(tkTrue) },
		func() bool { return s.tok(tkFalse) },
	)
}

// ---- productions ----

func (p *parser) process() []node {
	nodes := p.statements()
	if t := p.peek(); t.kind != tkEOF {
		p.unexpected(t)
	}
	return nodes
}

func isStatementStart(k int) bool {
	switch k {
	case 10, 11, 13, 14, 21, 22, 23, 24, 26, 27, 28, 32, 52, 56, 57, 61, 62, 66, 67, 68, 69, 72:
		return true
	}
	return false
}

func (p *parser) statements() []node {
	var out []node
	for isStatementStart(p.kind()) {
		if n := p.statement(); n != nil {
			out = append(out, n)
		}
	}
	return out
}

func (p *parser) statement() node {
	p.enter()
	defer p.leave()
	k := p.kind()
	if k == tkIfDirective {
		return p.ifStatement()
	}
	if p.lookahead(2, func(s *scanner) bool { return s.reference() }) {
		return p.reference()
	}
	switch k {
	case tkSingleLineComStart, tkFormalComment, tkMultiLineComment:
		return p.comment()
	case tkTextblock:
		t := p.consume(tkTextblock)
		return &textNode{text: t.image[3 : len(t.image)-3]}
	case tkSetDirective:
		return p.setDirective()
	case tkEscapeDirective:
		t := p.consume(tkEscapeDirective)
		return &textNode{text: escapedDirective(t.image)}
	case tkDoubleEscape:
		return p.escape()
	case tkWord, tkBracketedWord:
		return p.directive()
	case tkLParen, tkRParen, tkEscape, tkText, tkStringLiteral, tkIntegerLiteral, tkFloatLiteral, tkDot, tkLCurly, tkRCurly, tkEmptyIndex:
		t := p.peek()
		p.cur = t
		return &textNode{text: tokenLiteral(t)}
	}
	p.unexpected(p.peek())
	return nil
}

// escapedDirective renders \#if and friends: a recognised directive loses
// half of its backslashes, anything else stays as written.
func escapedDirective(img string) string {
	iLast := strings.LastIndexByte(img, '\\')
	dir := img[iLast+1:]
	tag := dir[1:]
	if tag[0] == '{' {
		tag = tag[1 : len(tag)-1]
	}
	switch tag {
	case "if", "end", "set", "else", "elseif":
		return img[:iLast/2] + dir
	}
	if isDirectiveName(tag) {
		return img[:iLast/2] + dir
	}
	return img
}

func (p *parser) escape() node {
	var t *token
	count := 0
	for {
		t = p.consume(tkDoubleEscape)
		count++
		if !p.lookahead(2, func(s *scanner) bool { return s.tok(tkDoubleEscape) }) {
			break
		}
	}
	next := p.fetchAfter(t)
	control := false
	switch next.kind {
	case tkEnd, tkIfDirective, tkElseIfDirective, tkElseDirective:
		control = true
	}
	if next.kind != tkEOF && len(next.image) > 1 && isDirectiveName(next.image[1:]) {
		control = true
	}
	unit := `\\`
	if control {
		unit = `\`
	}
	return &textNode{text: strings.Repeat(unit, count)}
}

func (p *parser) comment() node {
	t := p.peek()
	p.cur = t
	if t.kind == tkSingleLineComStart && p.kind() == tkSingleLineComment {
		p.consume(tkSingleLineComment)
	}
	loc1 := strings.Index(t.image, "##")
	loc2 := strings.Index(t.image, "#*")
	switch {
	case loc1 < 0 && loc2 < 0:
		return nil
	case loc1 < 0:
		return textOrNil(t.image[:loc2])
	default:
		return textOrNil(t.image[:loc1])
	}
}

func textOrNil(s string) node {
	if s == "" {
		return nil
	}
	return &textNode{text: s}
}

func (p *parser) ifStatement() node {
	n := &ifNode{}
	p.consume(tkIfDirective)
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	p.consume(tkLParen)
	cond := p.expression()
	p.consume(tkRParen)
	n.conds = append(n.conds, cond)
	n.blocks = append(n.blocks, p.statements())
	for p.kind() == tkElseIfDirective {
		p.consume(tkElseIfDirective)
		if p.kind() == tkWhitespace {
			p.consume(tkWhitespace)
		}
		p.consume(tkLParen)
		c := p.expression()
		p.consume(tkRParen)
		n.conds = append(n.conds, c)
		n.blocks = append(n.blocks, p.statements())
	}
	if p.kind() == tkElseDirective {
		p.consume(tkElseDirective)
		n.elseBlock = p.statements()
		n.hasElse = true
	}
	p.consume(tkEnd)
	return n
}

func (p *parser) setDirective() node {
	st := p.consume(tkSetDirective)
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	left := p.reference()
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	p.consume(tkEquals)
	right := p.expression()
	p.consume(tkRParen)
	p.lx.inSet = false
	if p.kind() == tkNewline {
		p.consume(tkNewline)
	}
	if left.escaped || left.refType == refRunt {
		p.errAt(st.off, "#set needs a reference on its left side")
	}
	return &setNode{left: left, right: right, off: st.off}
}

func (p *parser) directive() node {
	t := p.peek()
	p.cur = t
	var name string
	if t.kind == tkBracketedWord {
		name = t.image[2 : len(t.image)-1]
	} else {
		name = t.image[1:]
	}
	block := blockDirectives[name] || strings.HasPrefix(name, "@")
	p.lx.state = stDirective
	if !p.isLeftParenthesis() {
		p.lx.pop()
		p.lx.inDirective = false
		return p.makeDirective(t, t, name, nil, nil, false)
	}
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	p.consume(tkLParen)
	var args []expr
	for p.lookahead(2, func(s *scanner) bool {
		s.opt(tkWhitespace)
		x := s.pos
		if s.tok(tkComma) {
			s.opt(tkWhitespace)
		} else {
			s.pos = x
		}
		return s.directiveArg()
	}) {
		if p.kind() == tkWhitespace {
			p.consume(tkWhitespace)
		}
		if p.kind() == tkComma {
			p.consume(tkComma)
			if p.kind() == tkWhitespace {
				p.consume(tkWhitespace)
			}
		}
		a := p.directiveArg()
		if _, isWord := a.(*wordExpr); isWord && isDirectiveName(name) && !(name == "foreach" && len(args) == 1) && !(name == "macro" && len(args) == 0) {
			p.errAt(t.off, "invalid arg #%d in directive %s", len(args), t.image)
		}
		args = append(args, a)
	}
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	last := p.consume(tkRParen)
	if !block {
		return p.makeDirective(t, last, name, args, nil, true)
	}
	body := p.statements()
	last = p.consume(tkEnd)
	return p.makeDirective(t, last, name, args, body, true)
}

// isLeftParenthesis looks past blanks in the raw input for "(", as the
// semantic lookahead of Velocity's Directive production does.
func (p *parser) isLeftParenthesis() bool {
	s := p.src
	for i := p.lx.pos; i < len(s); i++ {
		switch s[i] {
		case '(':
			return true
		case ' ', '\n', '\r', '\t':
			continue
		}
		return false
	}
	return false
}

func (p *parser) makeDirective(first, last *token, name string, args []expr, body []node, parens bool) node {
	switch name {
	case "foreach":
		if !parens {
			p.errAt(first.off, "#foreach needs arguments")
		}
		if len(args) != 3 {
			p.errAt(first.off, "#foreach needs three arguments")
		}
		ref, ok := args[0].(*refNode)
		if !ok {
			p.errAt(first.off, "#foreach needs a reference as its first argument")
		}
		if w, ok := args[1].(*wordExpr); !ok || w.word != "in" {
			p.errAt(first.off, "#foreach needs 'in' as its second argument")
		}
		return &foreachNode{key: ref.root, list: args[2], body: body, off: first.off}
	case "break":
		if len(args) > 1 {
			p.errAt(first.off, "#break takes at most one argument")
		}
		return &breakNode{args: args, off: first.off}
	case "stop":
		return &stopNode{args: args}
	case "include", "parse", "evaluate", "literal", "define", "macro":
		p.errAt(first.off, "directive #%s is not supported by this engine", name)
	}
	if strings.HasPrefix(name, "@") && body != nil {
		p.errAt(first.off, "block macro #%s is not supported by this engine", name)
	}
	// Not a directive and no macros: Velocity writes the directive's tokens
	// back out (RuntimeMacro.getLiteral).
	var b strings.Builder
	for t := first; ; t = t.next {
		b.WriteString(t.image)
		if t == last {
			break
		}
	}
	return &textNode{text: b.String()}
}

func (p *parser) directiveArg() expr {
	switch p.kind() {
	case tkIdentifier, tkLCurly:
		return p.reference()
	case tkWord:
		t := p.consume(tkWord)
		return &wordExpr{word: t.image}
	case tkStringLiteral:
		return p.stringLiteral()
	case tkIntegerLiteral:
		return p.integerLiteral()
	}
	if p.lookahead(1<<30, func(s *scanner) bool { return s.rangeHead() }) {
		return p.integerRange()
	}
	switch p.kind() {
	case tkFloatLiteral:
		return p.floatLiteral()
	case tkLeftCurley:
		return p.mapLiteral()
	case tkLBracket:
		return p.objectArray()
	case tkTrue:
		t := p.consume(tkTrue)
		return constExpr{v: true, lit: tokenLiteral(t)}
	case tkFalse:
		t := p.consume(tkFalse)
		return constExpr{v: false, lit: tokenLiteral(t)}
	}
	p.unexpected(p.peek())
	return nil
}

func (p *parser) stringLiteral() expr {
	t := p.consume(tkStringLiteral)
	return p.makeString(t)
}

func (p *parser) integerLiteral() expr {
	t := p.consume(tkIntegerLiteral)
	return constExpr{v: parseIntegerLiteral(t.image), lit: tokenLiteral(t)}
}

func parseIntegerLiteral(s string) any {
	if v, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int32(v)
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v
	}
	return parseBigInt(s)
}

func (p *parser) floatLiteral() expr {
	t := p.consume(tkFloatLiteral)
	f, _ := strconv.ParseFloat(t.image, 64)
	return constExpr{v: f, lit: tokenLiteral(t)}
}

func (p *parser) mapLiteral() expr {
	first := p.consume(tkLeftCurley)
	m := &mapExpr{}
	if p.lookahead(2, func(s *scanner) bool { return s.parameter() && s.tok(tkColon) }) {
		k := p.parameter()
		p.consume(tkColon)
		v := p.parameter()
		m.keys = append(m.keys, k)
		m.vals = append(m.vals, v)
		for p.kind() == tkComma {
			p.consume(tkComma)
			k := p.parameter()
			p.consume(tkColon)
			v := p.parameter()
			m.keys = append(m.keys, k)
			m.vals = append(m.vals, v)
		}
	} else if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	var last *token
	if p.kind() == tkRightCurley {
		last = p.consume(tkRightCurley)
	} else {
		last = p.consume(tkRCurly)
	}
	m.lit = literalOf(first, last)
	return m
}

func (p *parser) objectArray() expr {
	first := p.consume(tkLBracket)
	a := &listExpr{}
	switch p.kind() {
	case tkWhitespace, tkStringLiteral, tkIntegerLiteral, tkLBracket, tkLeftCurley, tkTrue, tkFalse, tkIdentifier, tkLCurly, tkFloatLiteral:
		a.items = append(a.items, p.parameter())
		for p.kind() == tkComma {
			p.consume(tkComma)
			a.items = append(a.items, p.parameter())
		}
	}
	last := p.consume(tkRBracket)
	a.lit = literalOf(first, last)
	return a
}

func (p *parser) rangeBound() expr {
	if k := p.kind(); k == tkIdentifier || k == tkLCurly {
		return p.reference()
	}
	return p.integerLiteral()
}

func (p *parser) integerRange() expr {
	first := p.consume(tkLBracket)
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	l := p.rangeBound()
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	p.consume(tkDoubleDot)
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	r := p.rangeBound()
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	last := p.consume(tkRBracket)
	return &rangeExpr{l: l, r: r, lit: literalOf(first, last)}
}

func (p *parser) parameter() expr {
	p.enter()
	defer p.leave()
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	var e expr
	switch p.kind() {
	case tkStringLiteral:
		e = p.stringLiteral()
	case tkIntegerLiteral:
		e = p.integerLiteral()
	default:
		if p.lookahead(1<<30, func(s *scanner) bool { return s.rangeHead() }) {
			e = p.integerRange()
			break
		}
		switch p.kind() {
		case tkLeftCurley:
			e = p.mapLiteral()
		case tkLBracket:
			e = p.objectArray()
		case tkTrue:
			t := p.consume(tkTrue)
			e = constExpr{v: true, lit: tokenLiteral(t)}
		case tkFalse:
			t := p.consume(tkFalse)
			e = constExpr{v: false, lit: tokenLiteral(t)}
		case tkIdentifier, tkLCurly:
			e = p.reference()
		case tkFloatLiteral:
			e = p.floatLiteral()
		default:
			p.unexpected(p.peek())
		}
	}
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	return e
}

func (p *parser) indexParameter() expr {
	p.enter()
	defer p.leave()
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	var e expr
	switch p.kind() {
	case tkStringLiteral:
		e = p.stringLiteral()
	case tkIntegerLiteral:
		e = p.integerLiteral()
	case tkTrue:
		t := p.consume(tkTrue)
		e = constExpr{v: true, lit: tokenLiteral(t)}
	case tkFalse:
		t := p.consume(tkFalse)
		e = constExpr{v: false, lit: tokenLiteral(t)}
	case tkIdentifier, tkLCurly:
		e = p.reference()
	default:
		p.unexpected(p.peek())
	}
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	return e
}

func (p *parser) reference() *refNode {
	r := &refNode{}
	first := p.peek()
	r.first = first
	formal := false
	if first.kind == tkLCurly {
		p.consume(tkLCurly)
		p.consume(tkIdentifier)
		formal = true
	} else {
		p.consume(tkIdentifier)
	}
	for {
		for p.kind() == tkIndexLBracket {
			p.consume(tkIndexLBracket)
			r.parts = append(r.parts, refPart{kind: partIndex, index: p.indexParameter()})
			p.consume(tkIndexRBracket)
		}
		if !p.lookahead(2, func(s *scanner) bool { return s.dotPart() }) {
			break
		}
		p.consume(tkDot)
		if p.lookahead(3, func(s *scanner) bool { return s.method() }) {
			id := p.consume(tkIdentifier)
			p.consume(tkLParen)
			var args []expr
			if p.kind() != tkRefMod2RParen {
				args = append(args, p.parameter())
				for p.kind() == tkComma {
					p.consume(tkComma)
					args = append(args, p.parameter())
				}
			}
			p.consume(tkRefMod2RParen)
			r.parts = append(r.parts, refPart{kind: partMethod, name: id.image, args: args})
		} else {
			id := p.consume(tkIdentifier)
			r.parts = append(r.parts, refPart{kind: partProperty, name: id.image})
		}
	}
	if formal {
		p.consume(tkRCurly)
	}
	r.last = p.cur
	r.init()
	return r
}

// expression = ConditionalOrExpression, wrapped like ASTExpression.
func (p *parser) expression() expr {
	return p.orExpr()
}

func (p *parser) orExpr() expr {
	l := p.andExpr()
	for p.kind() == tkLogicalOr {
		p.consume(tkLogicalOr)
		first := p.peek()
		r := p.andExpr()
		l = &logicExpr{op: tkLogicalOr, l: l, r: r, span: span{first, p.cur}}
	}
	return l
}

func (p *parser) andExpr() expr {
	l := p.eqExpr()
	for p.kind() == tkLogicalAnd {
		p.consume(tkLogicalAnd)
		first := p.peek()
		r := p.eqExpr()
		l = &logicExpr{op: tkLogicalAnd, l: l, r: r, span: span{first, p.cur}}
	}
	return l
}

func (p *parser) eqExpr() expr {
	l := p.relExpr()
	for {
		switch k := p.kind(); k {
		case tkLogicalEquals, tkLogicalNotEquals:
			p.consume(k)
			first := p.peek()
			r := p.relExpr()
			l = &cmpExpr{op: k, l: l, r: r, span: span{first, p.cur}}
		default:
			return l
		}
	}
}

func (p *parser) relExpr() expr {
	l := p.addExpr()
	for {
		switch k := p.kind(); k {
		case tkLogicalLT, tkLogicalGT, tkLogicalLE, tkLogicalGE:
			p.consume(k)
			first := p.peek()
			r := p.addExpr()
			l = &cmpExpr{op: k, l: l, r: r, span: span{first, p.cur}}
		default:
			return l
		}
	}
}

func (p *parser) addExpr() expr {
	l := p.mulExpr()
	for {
		switch k := p.kind(); k {
		case tkPlus, tkMinus:
			p.consume(k)
			first := p.peek()
			r := p.mulExpr()
			l = &mathExpr{op: k, l: l, r: r, span: span{first, p.cur}}
		default:
			return l
		}
	}
}

func (p *parser) mulExpr() expr {
	l := p.unaryExpr()
	for {
		switch k := p.kind(); k {
		case tkMultiply, tkDivide, tkModulus:
			p.consume(k)
			first := p.peek()
			r := p.unaryExpr()
			l = &mathExpr{op: k, l: l, r: r, span: span{first, p.cur}}
		default:
			return l
		}
	}
}

func (p *parser) unaryExpr() expr {
	p.enter()
	defer p.leave()
	if p.lookahead(2, func(s *scanner) bool {
		s.opt(tkWhitespace)
		return s.tok(tkLogicalNot)
	}) {
		if p.kind() == tkWhitespace {
			p.consume(tkWhitespace)
		}
		p.consume(tkLogicalNot)
		first := p.peek()
		e := p.unaryExpr()
		return &notExpr{e: e, span: span{first, p.cur}}
	}
	return p.primaryExpr()
}

func (p *parser) primaryExpr() expr {
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	var e expr
	switch p.kind() {
	case tkStringLiteral:
		e = p.stringLiteral()
	case tkIdentifier, tkLCurly:
		e = p.reference()
	case tkIntegerLiteral:
		e = p.integerLiteral()
	default:
		if p.lookahead(1<<30, func(s *scanner) bool { return s.rangeHead() }) {
			e = p.integerRange()
			break
		}
		switch p.kind() {
		case tkFloatLiteral:
			e = p.floatLiteral()
		case tkLeftCurley:
			e = p.mapLiteral()
		case tkLBracket:
			e = p.objectArray()
		case tkTrue:
			t := p.consume(tkTrue)
			e = constExpr{v: true, lit: tokenLiteral(t)}
		case tkFalse:
			t := p.consume(tkFalse)
			e = constExpr{v: false, lit: tokenLiteral(t)}
		case tkLParen:
			p.consume(tkLParen)
			first := p.peek()
			inner := p.expression()
			e = &parenExpr{e: inner, span: span{first, p.cur}}
			p.consume(tkRParen)
		default:
			p.unexpected(p.peek())
		}
	}
	if p.kind() == tkWhitespace {
		p.consume(tkWhitespace)
	}
	return e
}

// ---- token text helpers (NodeUtils) ----

// specialText is NodeUtils.getSpecialText: of the special tokens before t it
// keeps only the $ and # characters and \...\$ runs.
func specialText(t *token) string {
	if t.special == nil || strings.HasPrefix(t.special.image, "##") {
		return ""
	}
	first := t.special
	for first.special != nil {
		first = first.special
	}
	var b strings.Builder
	for st := first; st != nil; st = st.next {
		s := st.image
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '#' || c == '$' {
				b.WriteByte(c)
			}
			if c == '\\' {
				j := i
				term := false
				for ; j < len(s); j++ {
					if s[j] == '\\' {
						continue
					}
					if s[j] == '$' {
						term = true
					}
					j++
					break
				}
				if term {
					b.WriteString(s[i:j])
					i = j
				}
			}
		}
	}
	return b.String()
}

// tokenLiteral is NodeUtils.tokenLiteral.
func tokenLiteral(t *token) string {
	if t.kind == tkMultiLineComment {
		return ""
	}
	if sp := specialText(t); sp != "" {
		return sp + t.image
	}
	return t.image
}

// literalOf is SimpleNode.literal: the literals of first..last.
func literalOf(first, last *token) string {
	if first == last {
		return tokenLiteral(first)
	}
	var b strings.Builder
	for t := first; ; t = t.next {
		b.WriteString(tokenLiteral(t))
		if t == last {
			break
		}
	}
	return b.String()
}
