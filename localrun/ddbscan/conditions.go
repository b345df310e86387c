package ddbscan

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	minidyn "github.com/truora/minidyn/server"
)

// minidyn fails a condition with contains(path, operand) on an item
// without path ("contains is not supported for path=NULL"), and evaluates
// both sides of an OR, so "attribute_not_exists(s) OR NOT contains(s, :v)"
// (the fan-out's once-per-segment condition) fails on a new item. In
// DynamoDB contains is a function of the attribute's value, false when
// there is none ("contains (path, operand): True if the attribute
// specified by path is ... a set that contains a particular element", the
// Developer Guide's Expressions.OperatorsAndFunctions page,
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html).
// fixContains rewrites such a contains, for the item as it is, into
// attribute_exists(path), which is false there too, and drops the values
// only it used (minidyn refuses unused values).

// conditional is a write's condition and what else mentions its values.
type conditional struct {
	cond   **string
	names  map[string]string
	values *map[string]*minidyn.AttributeValue
	others []string // the write's other expressions
}

func hasContains(cond *string) bool { return cond != nil && strings.Contains(*cond, "contains(") }

// fixContains rewrites c for the current row (none: an empty map).
func fixContains(c conditional, item map[string]*minidyn.AttributeValue) {
	if !hasContains(*c.cond) {
		return
	}
	expr := **c.cond
	var out strings.Builder
	changed := false
	for {
		i := indexFunc(expr, "contains(")
		if i < 0 {
			out.WriteString(expr)
			break
		}
		args, end := callArgs(expr, i+len("contains("))
		if end < 0 || len(args) != 2 {
			out.WriteString(expr)
			break
		}
		path := strings.TrimSpace(args[0])
		top := path
		if j := strings.IndexAny(top, ".["); j >= 0 {
			top = top[:j]
		}
		if strings.HasPrefix(top, "#") {
			top = c.names[top]
		}
		out.WriteString(expr[:i])
		if _, ok := item[top]; ok || top == "" {
			out.WriteString(expr[i:end])
		} else {
			out.WriteString("attribute_exists(" + path + ")")
			changed = true
		}
		expr = expr[end:]
	}
	if !changed {
		return
	}
	*c.cond = aws.String(out.String())
	*c.values = used(*c.values, strings.Join(append([]string{out.String()}, c.others...), " "))
}

// indexFunc finds a function call name, not the tail of a longer name.
func indexFunc(expr, call string) int {
	for from := 0; ; {
		i := strings.Index(expr[from:], call)
		if i < 0 {
			return -1
		}
		i += from
		if i == 0 || !isNameByte(expr[i-1]) {
			return i
		}
		from = i + len(call)
	}
}

// callArgs splits the arguments of a call whose "(" ends at start and
// returns the index after its ")" (-1: unbalanced).
func callArgs(expr string, start int) ([]string, int) {
	depth, last := 0, start
	var args []string
	for i := start; i < len(expr); i++ {
		switch expr[i] {
		case '(', '[':
			depth++
		case ']':
			depth--
		case ')':
			if depth == 0 {
				return append(args, expr[last:i]), i + 1
			}
			depth--
		case ',':
			if depth == 0 {
				args = append(args, expr[last:i])
				last = i + 1
			}
		}
	}
	return nil, -1
}

// fixContainsOfRow applies fixContains to a write's condition for the row
// of av in shard, which it reads only when the condition has a contains().
func (h *Handler) fixContainsOfRow(ctx context.Context, c conditional, shard *string, s *schema, av map[string]*minidyn.AttributeValue) {
	if !hasContains(*c.cond) {
		return
	}
	item, err := h.row(ctx, shard, s, av)
	if err != nil || item == nil {
		item = map[string]*minidyn.AttributeValue{}
	}
	fixContains(c, item)
}
