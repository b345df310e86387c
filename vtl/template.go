package vtl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
)

// Template is a parsed mapping template. It is immutable and safe for
// concurrent use: parse once, render many.
type Template struct {
	name  string
	src   string
	nodes []node
}

// Parse parses a template. Syntax errors (including Velocity's lexical
// errors, such as a template ending in "$") come back as *ParseError with
// the line and column; Parse never panics.
func Parse(name, src string) (t *Template, err error) {
	p := &parser{name: name, src: src, lx: newLexer(src)}
	p.cur = &token{kind: -1}
	defer func() {
		if r := recover(); r != nil {
			if pp, ok := r.(parsePanic); ok {
				t, err = nil, pp.err
				return
			}
			t, err = nil, fmt.Errorf("vtl: %s: %w: %v", name, ErrInternal, r)
		}
	}()
	nodes := p.process()
	return &Template{name: name, src: src, nodes: mergeText(nodes)}, nil
}

// MustParse is Parse for templates known to be valid, such as embedded ones.
func MustParse(name, src string) *Template {
	t, err := Parse(name, src)
	if err != nil {
		panic(err)
	}
	return t
}

// Name returns the name given to Parse.
func (t *Template) Name() string { return t.name }

type renderer struct {
	tmpl *Template
	vars env
}

// env holds the template variables. Templates use a handful, so a slice
// searched linearly beats a map, and its first entries live in the
// renderer itself.
type env struct {
	entries []envEntry
	inline  [16]envEntry
}

type envEntry struct {
	name string
	val  any
}

func (e *env) get(name string) (any, bool) {
	for i := range e.entries {
		if e.entries[i].name == name {
			return e.entries[i].val, true
		}
	}
	return nil, false
}

func (e *env) lookup(name string) any {
	v, _ := e.get(name)
	return v
}

func (e *env) set(name string, v any) {
	for i := range e.entries {
		if e.entries[i].name == name {
			e.entries[i].val = v
			return
		}
	}
	if e.entries == nil {
		e.entries = e.inline[:0]
	}
	e.entries = append(e.entries, envEntry{name, v})
}

func (e *env) del(name string) {
	for i := range e.entries {
		if e.entries[i].name == name {
			e.entries = append(e.entries[:i], e.entries[i+1:]...)
			return
		}
	}
}

func (r *renderer) errorAt(off int, err error) error {
	var re *RenderError
	var st *stopSignal
	if errors.As(err, &re) || errors.As(err, &st) {
		return err
	}
	line, col := lineCol(r.tmpl.src, off)
	return &RenderError{Template: r.tmpl.name, Line: line, Column: col, Err: err}
}

func (r *renderer) renderNodes(nodes []node, w *bytes.Buffer) error {
	for _, n := range nodes {
		if err := n.render(r, w); err != nil {
			return err
		}
	}
	return nil
}

// ErrInternal marks a bug in this package: a panic turned into an error,
// so that a template can never take the caller down.
var ErrInternal = errors.New("internal error")

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render renders the template for one request. data is an *APIGatewayData
// (the variables API Gateway provides) or a map[string]any of variables,
// whose values may be strings, bools, numbers, []any, map[string]any, *List,
// *Map or nil.
//
// Output is written to w only when rendering succeeds: API Gateway answers
// the client with an error instead of a partial document, and so do we.
// #stop ends rendering successfully with the output so far.
func (t *Template) Render(w io.Writer, data any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &RenderError{Template: t.name, Line: 1, Column: 1, Err: fmt.Errorf("%w: %v", ErrInternal, r)}
		}
	}()
	r := &renderer{tmpl: t}
	switch d := data.(type) {
	case *APIGatewayData:
		d.bind(&r.vars)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(d)) {
			r.vars.set(k, fromGo(d[k]))
		}
	case nil:
	default:
		return errors.New("vtl: Render wants *APIGatewayData or map[string]any")
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := r.renderNodes(t.nodes, buf); err != nil {
		var st *stopSignal
		if !errors.As(err, &st) {
			return err
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// RenderString is Render into a string.
func (t *Template) RenderString(data any) (string, error) {
	var b bytes.Buffer
	if err := t.Render(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
