package ddbscan

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	minidyn "github.com/truora/minidyn/server"
)

// entry is one item as the shadow keeps it: each attribute's value already
// in its wire form, so a scan page is written without re-encoding.
type entry struct {
	pos   position
	attrs map[string]json.RawMessage
	key   []byte // the item's primary key as a JSON object (a LastEvaluatedKey)
	size  int    // an approximation of the item's size, for the 1 MB page cap
}

// shadow is a copy of one table's items, ordered for scans: minidyn pages
// a scan by skipping from the table's first key (O(n) a page) and copies
// every item through its expression interpreter, too slow for a 100k-row
// parallel scan. Every write through the Handler refreshes the rows it
// touched, so the shadow is always what minidyn holds.
type shadow struct {
	schema  *schema
	byKey   map[string]*entry
	buckets [buckets][]*entry // each sorted by pos.key
}

func newShadow(s *schema) *shadow {
	return &shadow{schema: s, byKey: map[string]*entry{}}
}

func (sh *shadow) len() int { return len(sh.byKey) }

// set stores item (nil: removes the row at pos).
func (sh *shadow) set(pos position, item map[string]*minidyn.AttributeValue) error {
	b := sh.buckets[pos.bucket]
	i := sort.Search(len(b), func(i int) bool { return b[i].pos.key >= pos.key })
	found := i < len(b) && b[i].pos.key == pos.key
	if item == nil {
		if found {
			sh.buckets[pos.bucket] = slices.Delete(b, i, i+1)
			delete(sh.byKey, pos.key)
		}
		return nil
	}
	e, err := newEntry(sh.schema, pos, item)
	if err != nil {
		return err
	}
	if found {
		b[i] = e
	} else {
		sh.buckets[pos.bucket] = slices.Insert(b, i, e)
	}
	sh.byKey[pos.key] = e
	return nil
}

func newEntry(s *schema, pos position, item map[string]*minidyn.AttributeValue) (*entry, error) {
	e := &entry{pos: pos, attrs: make(map[string]json.RawMessage, len(item))}
	for name, v := range item {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode attribute %s: %w", name, err)
		}
		e.attrs[name] = raw
		e.size += len(name) + len(raw)
	}
	key := make(map[string]json.RawMessage, 2)
	for _, k := range s.keyAttrs() {
		key[k] = e.attrs[k]
	}
	var err error
	if e.key, err = json.Marshal(key); err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return e, nil
}

// each calls fn on the entries after start (all of them when start is
// nil) in buckets [lo, hi), in order, until fn returns false.
func (sh *shadow) each(lo, hi int, start *position, fn func(*entry) bool) {
	for bk := lo; bk < hi; bk++ {
		b := sh.buckets[bk]
		i := 0
		if start != nil {
			if bk < start.bucket {
				continue
			}
			if bk == start.bucket {
				i = sort.Search(len(b), func(i int) bool { return b[i].pos.key > start.key })
			}
		}
		for ; i < len(b); i++ {
			if !fn(b[i]) {
				return
			}
		}
	}
}
