package vtl

import (
	"fmt"
	"unicode/utf8"
)

// The lexer reproduces the JavaCC token manager that Velocity 1.7 generates
// from Parser.jjt: the same lexical states, the same token kinds (numbered as
// in ParserConstants, because JavaCC breaks ties between equally long matches
// by declaration order), the same MORE/SPECIAL_TOKEN/SKIP handling and the
// same state-stack actions. Velocity's whitespace gobbling and escape rules
// are consequences of these token definitions, so emulating them is the only
// way to match its output byte for byte.

// Lexical states, numbered as in ParserConstants.
const (
	stReference = iota
	stRefModifier
	stRefIndex
	stDirective
	stRefMod2
	stDefault
	stRefMod
	stInTextblock
	stInMultiLineComment
	stInFormalComment
	stInSingleLineComment
	stPreDirective
)

// Token kinds, numbered as in ParserConstants.
const (
	tkEOF                 = 0
	tkIndexLBracket       = 1
	tkIndexRBracket       = 2
	tkLBracket            = 3
	tkRBracket            = 4
	tkComma               = 5
	tkDoubleDot           = 6
	tkColon               = 7
	tkLeftCurley          = 8
	tkRightCurley         = 9
	tkLParen              = 10
	tkRParen              = 11
	tkRefMod2RParen       = 12
	tkEscapeDirective     = 13
	tkSetDirective        = 14
	tkDollar              = 15
	tkDollarBang          = 16
	tkTextblockStart      = 17
	tkFormalCommentStart  = 18
	tkMultiCommentStart   = 19
	tkHash                = 20
	tkSingleLineComStart  = 21
	tkDoubleEscape        = 22
	tkEscape              = 23
	tkText                = 24
	tkSingleLineComment   = 25
	tkFormalComment       = 26
	tkMultiLineComment    = 27
	tkTextblock           = 28
	tkCommentSkip         = 29
	tkTextblockMore       = 30
	tkWhitespace          = 31
	tkStringLiteral       = 32
	tkTrue                = 33
	tkFalse               = 34
	tkNewline             = 35
	tkMinus               = 36
	tkPlus                = 37
	tkMultiply            = 38
	tkDivide              = 39
	tkModulus             = 40
	tkLogicalAnd          = 41
	tkLogicalOr           = 42
	tkLogicalLT           = 43
	tkLogicalLE           = 44
	tkLogicalGT           = 45
	tkLogicalGE           = 46
	tkLogicalEquals       = 47
	tkLogicalNotEquals    = 48
	tkLogicalNot          = 49
	tkEquals              = 50
	tkEnd                 = 51
	tkIfDirective         = 52
	tkElseIfDirective     = 53
	tkElseDirective       = 54
	tkIntegerLiteral      = 56
	tkFloatLiteral        = 57
	tkWord                = 61
	tkBracketedWord       = 62
	tkIdentifier          = 66
	tkDot                 = 67
	tkLCurly              = 68
	tkRCurly              = 69
	tkReferenceTerminator = 70
	tkDirectiveTerminator = 71
	tkEmptyIndex          = 72
)

// Token classes.
const (
	clsToken = iota
	clsMore
	clsSpecial
	clsSkip
)

func tokenClass(kind int) int {
	switch kind {
	case tkDollar, tkDollarBang, tkTextblockStart, tkFormalCommentStart, tkMultiCommentStart, tkHash, tkTextblockMore:
		return clsMore
	case tkReferenceTerminator, tkDirectiveTerminator:
		return clsSpecial
	case tkCommentSkip:
		return clsSkip
	}
	return clsToken
}

// stateKinds lists, per lexical state, the token kinds that can match there,
// in ascending kind order. Checked against the 1.7 token manager state by
// state: "##" (21) only starts a comment in REFERENCE, DIRECTIVE, DEFAULT
// and PRE_DIRECTIVE.
var stateKinds = [...][]int{
	stReference:           {1, 14, 15, 16, 17, 18, 19, 20, 21, 33, 34, 66, 67, 68, 69, 70, 72},
	stRefModifier:         {1, 10, 14, 15, 16, 17, 18, 19, 20, 33, 34, 66, 67, 68, 69, 70},
	stRefIndex:            {2, 15, 16, 17, 18, 19, 20, 31, 32, 33, 34, 56, 57},
	stDirective:           {3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 17, 18, 19, 20, 21, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 56, 57, 61, 62},
	stRefMod2:             {3, 4, 5, 6, 7, 8, 9, 12, 14, 15, 16, 17, 18, 19, 20, 31, 32, 33, 34, 56, 57, 66, 67},
	stDefault:             {13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 72},
	stRefMod:              {15, 16, 17, 18, 19, 20, 70},
	stInTextblock:         {15, 16, 17, 18, 19, 20, 28, 30},
	stInMultiLineComment:  {15, 16, 17, 18, 19, 20, 27, 29},
	stInFormalComment:     {15, 16, 17, 18, 19, 20, 26, 29},
	stInSingleLineComment: {15, 16, 17, 18, 19, 20, 25, 29},
	stPreDirective:        {15, 16, 17, 18, 19, 20, 21, 51, 52, 53, 54, 56, 57, 61, 62, 71},
}

type token struct {
	kind    int
	image   string
	orig    string // image as lexed (references rewrite image, as Velocity does)
	off     int    // byte offset of the first character
	special *token // last special token before this one (chained backwards)
	next    *token // next token; for special tokens, the next special token
}

type lexState struct {
	lparen, rparen, state int
}

type lexer struct {
	src   string
	pos   int
	state int
	stack []lexState

	lparen, rparen int
	inComment      bool
	inSet          bool
	inDirective    bool
	inReference    bool
}

// lexError is a TokenMgrError: no token matches.
type lexError struct {
	off int
	msg string
}

func newLexer(src string) *lexer {
	return &lexer{src: src, state: stDefault}
}

func (lx *lexer) push() {
	lx.stack = append(lx.stack, lexState{lx.lparen, lx.rparen, lx.state})
	lx.lparen = 0
}

func (lx *lexer) pop() bool {
	if len(lx.stack) == 0 {
		lx.lparen = 0
		lx.state = stDefault
		return false
	}
	s := lx.stack[len(lx.stack)-1]
	lx.stack = lx.stack[:len(lx.stack)-1]
	lx.lparen, lx.rparen, lx.state = s.lparen, s.rparen, s.state
	return true
}

func (lx *lexer) rparenHandler() {
	closed := lx.inComment
	for !closed {
		if lx.lparen > 0 {
			if lx.lparen == lx.rparen+1 {
				lx.pop()
			} else {
				lx.rparen++
			}
			closed = true
		} else if !lx.pop() {
			break
		}
	}
}

// next returns the next token, as ParserTokenManager.getNextToken does.
func (lx *lexer) next() (*token, *lexError) {
	var special *token
	for {
		if lx.pos >= len(lx.src) {
			return &token{kind: tkEOF, off: lx.pos, special: special}, nil
		}
		begin := lx.pos
		for {
			kind, n := lx.match(lx.pos)
			if kind < 0 {
				return nil, &lexError{off: lx.pos, msg: fmt.Sprintf("Encountered: %q after : %q", lx.charAt(lx.pos), lx.src[begin:lx.pos])}
			}
			end := lx.pos + n
			switch tokenClass(kind) {
			case clsToken:
				lx.pos = end
				t := &token{kind: kind, image: lx.src[begin:end], off: begin, special: special}
				lx.tokenAction(t)
				t.orig = t.image
				return t, nil
			case clsMore:
				lx.pos = end
				lx.moreAction(kind)
				if lx.pos >= len(lx.src) {
					return nil, &lexError{off: lx.pos, msg: fmt.Sprintf("Encountered: <EOF> after : %q", lx.src[begin:lx.pos])}
				}
				continue
			case clsSpecial:
				lx.pos = end
				t := &token{kind: kind, image: lx.src[begin:end], off: begin}
				if special != nil {
					t.special = special
					special.next = t
				}
				special = t
				// Both special tokens push their character back and pop.
				lx.pos -= n
				if kind == tkReferenceTerminator {
					lx.inReference = false
				} else {
					lx.inDirective = false
				}
				lx.pop()
			case clsSkip:
				lx.pos = end
			}
			break
		}
	}
}

func (lx *lexer) charAt(i int) string {
	if i >= len(lx.src) {
		return "<EOF>"
	}
	r := []rune(lx.src[i:min(i+4, len(lx.src))])
	return string(r[0])
}

func (lx *lexer) moreAction(kind int) {
	switch kind {
	case tkDollar, tkDollarBang:
		if !lx.inComment {
			if lx.state == stReference {
				lx.inReference = false
				lx.pop()
			}
			lx.inReference = true
			lx.push()
			lx.state = stReference
		}
	case tkTextblockStart:
		if !lx.inComment {
			lx.inComment = true
			lx.push()
			lx.state = stInTextblock
		}
	case tkFormalCommentStart:
		if !lx.inComment {
			lx.pos--
			lx.inComment = true
			lx.push()
			lx.state = stInFormalComment
		}
	case tkMultiCommentStart:
		if !lx.inComment {
			lx.inComment = true
			lx.push()
			lx.state = stInMultiLineComment
		}
	case tkHash:
		if !lx.inComment {
			if lx.state == stReference || lx.state == stRefModifier {
				lx.inReference = false
				lx.pop()
			}
			lx.inDirective = true
			lx.push()
			lx.state = stPreDirective
		}
	}
}

func (lx *lexer) tokenAction(t *token) {
	switch t.kind {
	case tkIndexLBracket:
		lx.push()
		lx.state = stRefIndex
	case tkIndexRBracket:
		lx.pop()
	case tkLParen:
		if !lx.inComment {
			lx.lparen++
		}
		if lx.state == stRefModifier {
			lx.state = stRefMod2
		}
	case tkRParen:
		lx.rparenHandler()
	case tkRefMod2RParen:
		lx.state = stReference
	case tkSetDirective:
		if !lx.inComment {
			lx.inDirective = true
			lx.push()
			lx.inSet = true
			lx.state = stDirective
			lx.lparen++
		}
	case tkSingleLineComStart:
		if !lx.inComment {
			if lx.state == stReference {
				lx.inReference = false
				lx.pop()
			}
			lx.inComment = true
			lx.push()
			lx.state = stInSingleLineComment
		}
	case tkSingleLineComment, tkFormalComment, tkMultiLineComment, tkTextblock:
		lx.inComment = false
		lx.pop()
	case tkStringLiteral:
		if lx.state == stDirective && !lx.inSet && lx.lparen == 0 {
			lx.pop()
		}
	case tkNewline:
		lx.pop()
		lx.inSet = false
		lx.inDirective = false
	case tkEnd, tkElseDirective:
		lx.inDirective = false
		lx.pop()
	case tkIfDirective, tkElseIfDirective:
		lx.state = stDirective
	case tkIntegerLiteral:
		if len(t.image) >= 2 && t.image[len(t.image)-2:] == ".." {
			lx.pos -= 2
			t.image = t.image[:len(t.image)-2]
		}
		if lx.lparen == 0 && !lx.inSet && lx.state != stRefMod2 && lx.state != stRefIndex {
			lx.pop()
		}
	case tkFloatLiteral:
		if lx.lparen == 0 && !lx.inSet && lx.state != stRefMod2 {
			lx.pop()
		}
	case tkDot:
		lx.pos--
		t.image = "."
		lx.state = stRefModifier
	case tkRCurly:
		lx.pop()
	}
}

// match finds the longest match at i in the current state; ties go to the
// lowest kind, as in JavaCC.
func (lx *lexer) match(i int) (kind, n int) {
	kind, n = -1, 0
	for _, k := range stateKinds[lx.state] {
		if l := lx.matchKind(k, i); l > n {
			kind, n = k, l
		}
	}
	return kind, n
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isDirectiveChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_' || c == '@'
}
func isIdentChar(c byte) bool { return isLetter(c) || isDigit(c) || c == '-' || c == '_' }

func (lx *lexer) lit(i int, s string) int {
	if len(lx.src)-i >= len(s) && lx.src[i:i+len(s)] == s {
		return len(s)
	}
	return 0
}

// optNewline matches ( " " | "\t" )* ( "\n" | "\r" | "\r\n" ), or nothing.
func (lx *lexer) optNewline(i int) int {
	j := i
	for j < len(lx.src) && (lx.src[j] == ' ' || lx.src[j] == '\t') {
		j++
	}
	if n := lx.newline(j); n > 0 {
		return j + n - i
	}
	return 0
}

func (lx *lexer) newline(i int) int {
	if i >= len(lx.src) {
		return 0
	}
	switch lx.src[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(lx.src) && lx.src[i+1] == '\n' {
			return 2
		}
		return 1
	}
	return 0
}

func (lx *lexer) word(i int) int {
	s := lx.src
	if i >= len(s) || !(isLetter(s[i]) || s[i] == '_' || s[i] == '@') {
		return 0
	}
	j := i + 1
	for j < len(s) && isDirectiveChar(s[j]) {
		j++
	}
	return j - i
}

func (lx *lexer) bracketedWord(i int) int {
	s := lx.src
	if i+1 >= len(s) || s[i] != '{' || !(isLetter(s[i+1]) || s[i+1] == '_') {
		return 0
	}
	j := i + 2
	for j < len(s) && isDirectiveChar(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '}' {
		return j + 1 - i
	}
	return 0
}

// stringLiteral matches "..." with "" inside, or '...' with ” inside;
// anything else, newlines and backslashes included, is literal.
func (lx *lexer) stringLiteral(i int) int {
	s := lx.src
	if i >= len(s) || (s[i] != '"' && s[i] != '\'') {
		return 0
	}
	q := s[i]
	best := 0
	j := i + 1
	for j < len(s) {
		if s[j] != q {
			j++
			continue
		}
		r := 0
		for j+r < len(s) && s[j+r] == q {
			r++
		}
		if r%2 == 1 {
			return j + r - i
		}
		best = j + r - 1 - i
		j += r
	}
	return best
}

func (lx *lexer) digits(i int) int {
	j := i
	for j < len(lx.src) && isDigit(lx.src[j]) {
		j++
	}
	return j - i
}

func (lx *lexer) exponent(i int) int {
	s := lx.src
	if i >= len(s) || (s[i] != 'e' && s[i] != 'E') {
		return 0
	}
	j := i + 1
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	d := lx.digits(j)
	if d == 0 {
		return 0
	}
	return j + d - i
}

func (lx *lexer) integerLiteral(i int) int {
	j := i
	if j < len(lx.src) && lx.src[j] == '-' {
		j++
	}
	d := lx.digits(j)
	if d == 0 {
		return 0
	}
	j += d
	j += lx.lit(j, "..")
	return j - i
}

func (lx *lexer) floatLiteral(i int) int {
	s := lx.src
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	best := 0
	d := lx.digits(j)
	if d > 0 {
		k := j + d
		if k < len(s) && s[k] == '.' {
			k++
			k += lx.digits(k)
			k += lx.exponent(k)
			best = max(best, k-i)
		}
		if e := lx.exponent(j + d); e > 0 {
			best = max(best, j+d+e-i)
		}
	}
	if j < len(s) && s[j] == '.' {
		if d2 := lx.digits(j + 1); d2 > 0 {
			k := j + 1 + d2
			k += lx.exponent(k)
			best = max(best, k-i)
		}
	}
	return best
}

func (lx *lexer) matchKind(k, i int) int {
	s := lx.src
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch k {
	case tkIndexLBracket, tkLBracket:
		return lx.lit(i, "[")
	case tkIndexRBracket, tkRBracket:
		return lx.lit(i, "]")
	case tkComma:
		return lx.lit(i, ",")
	case tkDoubleDot:
		return lx.lit(i, "..")
	case tkColon:
		return lx.lit(i, ":")
	case tkLeftCurley, tkLCurly:
		return lx.lit(i, "{")
	case tkRightCurley, tkRCurly:
		return lx.lit(i, "}")
	case tkLParen:
		return lx.lit(i, "(")
	case tkRParen:
		if c != ')' {
			return 0
		}
		return 1 + lx.optNewline(i+1)
	case tkRefMod2RParen:
		return lx.lit(i, ")")
	case tkEscapeDirective:
		j := i
		for j < len(s) && s[j] == '\\' {
			j++
		}
		if (j-i)%2 == 0 || j >= len(s) || s[j] != '#' {
			return 0
		}
		j++
		if w := lx.word(j); w > 0 {
			return j + w - i
		}
		if w := lx.bracketedWord(j); w > 0 {
			return j + w - i
		}
		return 0
	case tkSetDirective:
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if n := lx.lit(j, "#set"); n > 0 {
			j += n
		} else if n := lx.lit(j, "#{set}"); n > 0 {
			j += n
		} else {
			return 0
		}
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && s[j] == '(' {
			return j + 1 - i
		}
		return 0
	case tkDollar, tkDollarBang:
		j := i
		for j < len(s) && s[j] == '\\' {
			j++
		}
		if j >= len(s) || s[j] != '$' {
			return 0
		}
		j++
		if k == tkDollar {
			return j - i
		}
		for j < len(s) && s[j] == '\\' {
			j++
		}
		if j < len(s) && s[j] == '!' {
			return j + 1 - i
		}
		return 0
	case tkTextblockStart:
		return lx.lit(i, "#[[")
	case tkFormalCommentStart:
		if lx.lit(i, "#**") > 0 && i+3 < len(s) && s[i+3] != '#' {
			return 4
		}
		return 0
	case tkMultiCommentStart:
		return lx.lit(i, "#*")
	case tkHash:
		return lx.lit(i, "#")
	case tkSingleLineComStart:
		return lx.lit(i, "##")
	case tkDoubleEscape:
		return lx.lit(i, `\\`)
	case tkEscape:
		return lx.lit(i, `\`)
	case tkText:
		j := i
		for j < len(s) && s[j] != '$' && s[j] != '#' && s[j] != '\\' {
			j++
		}
		return j - i
	case tkSingleLineComment, tkNewline:
		return lx.newline(i)
	case tkFormalComment, tkMultiLineComment:
		return lx.lit(i, "*#")
	case tkTextblock:
		return lx.lit(i, "]]#")
	case tkCommentSkip, tkTextblockMore, tkReferenceTerminator, tkDirectiveTerminator:
		// ~[]: one character (a Java char; a whole UTF-8 sequence here).
		if c < utf8.RuneSelf {
			return 1
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		return n
	case tkWhitespace:
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
			j++
		}
		return j - i
	case tkStringLiteral:
		return lx.stringLiteral(i)
	case tkTrue:
		return lx.lit(i, "true")
	case tkFalse:
		return lx.lit(i, "false")
	case tkMinus:
		return lx.lit(i, "-")
	case tkPlus:
		return lx.lit(i, "+")
	case tkMultiply:
		return lx.lit(i, "*")
	case tkDivide:
		return lx.lit(i, "/")
	case tkModulus:
		return lx.lit(i, "%")
	case tkLogicalAnd:
		return max(lx.lit(i, "&&"), lx.lit(i, "and"))
	case tkLogicalOr:
		return max(lx.lit(i, "||"), lx.lit(i, "or"))
	case tkLogicalLT:
		return max(lx.lit(i, "<"), lx.lit(i, "lt"))
	case tkLogicalLE:
		return max(lx.lit(i, "<="), lx.lit(i, "le"))
	case tkLogicalGT:
		return max(lx.lit(i, ">"), lx.lit(i, "gt"))
	case tkLogicalGE:
		return max(lx.lit(i, ">="), lx.lit(i, "ge"))
	case tkLogicalEquals:
		return max(lx.lit(i, "=="), lx.lit(i, "eq"))
	case tkLogicalNotEquals:
		return max(lx.lit(i, "!="), lx.lit(i, "ne"))
	case tkLogicalNot:
		return max(lx.lit(i, "!"), lx.lit(i, "not"))
	case tkEquals:
		return lx.lit(i, "=")
	case tkEnd, tkElseDirective:
		w := "end"
		if k == tkElseDirective {
			w = "else"
		}
		if n := lx.lit(i, w); n > 0 {
			return n + lx.optNewline(i+n)
		}
		if n := lx.lit(i, "{"+w+"}"); n > 0 {
			return n + lx.optNewline(i+n)
		}
		return 0
	case tkIfDirective:
		return max(lx.lit(i, "if"), lx.lit(i, "{if}"))
	case tkElseIfDirective:
		return max(lx.lit(i, "elseif"), lx.lit(i, "{elseif}"))
	case tkIntegerLiteral:
		return lx.integerLiteral(i)
	case tkFloatLiteral:
		return lx.floatLiteral(i)
	case tkWord:
		return lx.word(i)
	case tkBracketedWord:
		return lx.bracketedWord(i)
	case tkIdentifier:
		if !(isLetter(c) || c == '_') {
			return 0
		}
		j := i + 1
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		return j - i
	case tkDot:
		if c == '.' && i+1 < len(s) && isLetter(s[i+1]) {
			return 2
		}
		return 0
	case tkEmptyIndex:
		return max(lx.lit(i, "$["), lx.lit(i, "$!["), lx.lit(i, `$\![`), lx.lit(i, "$."))
	}
	return 0
}
