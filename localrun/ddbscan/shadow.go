package ddbscan

import (
	"slices"
	"sort"

	minidyn "github.com/truora/minidyn/server"
)

// entry is one item as the shadow keeps it: the attributes already in
// their wire form, `"name":value` one after the other in data, so a scan
// page is written without re-encoding and with few pointers for the GC.
type entry struct {
	pos   position
	names []string
	ends  []int32 // attribute i is data[ends[i-1]+1 : ends[i]] (a comma between)
	data  []byte
	key   []byte // the item's primary key as a JSON object (a LastEvaluatedKey)
}

// attr returns the `"name":value` of the named attribute.
func (e *entry) attr(name string) ([]byte, bool) {
	for i, n := range e.names {
		if n == name {
			from := int32(0)
			if i > 0 {
				from = e.ends[i-1] + 1
			}
			return e.data[from:e.ends[i]], true
		}
	}
	return nil, false
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
	// inIndex counts, for each global index with a string or binary
	// partition key, the items of each shard by that key's value (its
	// `"name":value` wire form), so a query on the index reads only the
	// shards that hold the value instead of all of them.
	inIndex map[string]map[string]map[int]int
}

func newShadow(s *schema) *shadow {
	sh := &shadow{schema: s, byKey: map[string]*entry{}, inIndex: map[string]map[string]map[int]int{}}
	for name, ix := range s.indexes {
		if ix.global && (ix.hashType == "S" || ix.hashType == "B") {
			sh.inIndex[name] = map[string]map[int]int{}
		}
	}
	return sh
}

// count adds n to e's count in every index its partition key value is in.
func (sh *shadow) count(e *entry, n int) {
	shard := shardOfBucket(e.pos.bucket)
	for name, values := range sh.inIndex {
		v, ok := e.attr(sh.schema.indexes[name].hash)
		if !ok {
			continue // not in the (sparse) index
		}
		byShard := values[string(v)]
		if byShard == nil {
			byShard = map[int]int{}
			values[string(v)] = byShard
		}
		if byShard[shard] += n; byShard[shard] <= 0 {
			delete(byShard, shard)
			if len(byShard) == 0 {
				delete(values, string(v))
			}
		}
	}
}

// indexShards returns the shards holding items whose partition key in
// index is one of values, sorted; ok is false when the index is not
// counted (all shards may hold them).
func (sh *shadow) indexShards(index string, values []*minidyn.AttributeValue) (out []int, ok bool) {
	counted, ok := sh.inIndex[index]
	if !ok {
		return nil, false
	}
	name := sh.schema.indexes[index].hash
	for _, v := range values {
		for shard := range counted[string(appendAttr(nil, name, v))] {
			if !slices.Contains(out, shard) {
				out = append(out, shard)
			}
		}
	}
	slices.Sort(out)
	return out, true
}

func (sh *shadow) len() int { return len(sh.byKey) }

// set stores item (nil: removes the row at pos).
func (sh *shadow) set(pos position, item map[string]*minidyn.AttributeValue) {
	b := sh.buckets[pos.bucket]
	i := sort.Search(len(b), func(i int) bool { return b[i].pos.key >= pos.key })
	found := i < len(b) && b[i].pos.key == pos.key
	if found {
		sh.count(b[i], -1)
	}
	if item == nil {
		if found {
			sh.buckets[pos.bucket] = slices.Delete(b, i, i+1)
			delete(sh.byKey, pos.key)
		}
		return
	}
	e := newEntry(sh.schema, pos, item)
	sh.count(e, 1)
	if found {
		b[i] = e
	} else {
		sh.buckets[pos.bucket] = slices.Insert(b, i, e)
	}
	sh.byKey[pos.key] = e
}

func newEntry(s *schema, pos position, item map[string]*minidyn.AttributeValue) *entry {
	e := &entry{pos: pos, names: make([]string, 0, len(item)), ends: make([]int32, 0, len(item))}
	key := []byte{'{'}
	for name, v := range item {
		if len(e.names) > 0 {
			e.data = append(e.data, ',')
		}
		start := len(e.data)
		e.data = appendAttr(e.data, name, v)
		e.names = append(e.names, name)
		e.ends = append(e.ends, int32(len(e.data)))
		if slices.Contains(s.keyAttrs(), name) {
			if len(key) > 1 {
				key = append(key, ',')
			}
			key = append(key, e.data[start:]...)
		}
	}
	e.key = append(key, '}')
	return e
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
