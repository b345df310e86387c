package ddbscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/server"
)

const (
	// shardBits: each table is stored as 1<<shardBits minidyn tables, so that
	// minidyn's per-insert re-sort of its key list (O(n) per new key) runs on
	// 1/1024 of the rows and a 100k-row load stays fast.
	shardBits = 10
	shards    = 1 << shardBits
	// bucketBits: the segment boundaries' granularity. Segment s of n holds
	// the buckets [ceil(s*B/n), ceil((s+1)*B/n)); 4096 buckets keep 100
	// segments within a few percent of each other.
	bucketBits = 12
	buckets    = 1 << bucketBits
)

// schema is a table's primary key, as created.
type schema struct {
	hash, rangeKey         string
	hashType, rangeKeyType string // S, N or B
	indexes                map[string]indexSchema
}

type indexSchema struct {
	hash, rangeKey string
	hashType       string // S, N or B
	global         bool
}

func newSchema(in *minidyn.CreateTableInput) (*schema, error) {
	types := map[string]string{}
	for _, a := range in.AttributeDefinitions {
		if a.AttributeName != nil {
			types[*a.AttributeName] = string(a.AttributeType)
		}
	}
	s := &schema{indexes: map[string]indexSchema{}}
	s.hash, s.rangeKey = keyNames(in.KeySchema)
	if s.hash == "" {
		return nil, errValidation("No Hash Key specified in schema. All Dynamo DB Tables must have exactly one hash key")
	}
	s.hashType, s.rangeKeyType = types[s.hash], types[s.rangeKey]
	for _, g := range in.GlobalSecondaryIndexes {
		h, r := keyNames(g.KeySchema)
		if g.IndexName != nil {
			s.indexes[*g.IndexName] = indexSchema{hash: h, rangeKey: r, hashType: types[h], global: true}
		}
	}
	for _, l := range in.LocalSecondaryIndexes {
		h, r := keyNames(l.KeySchema)
		if l.IndexName != nil {
			s.indexes[*l.IndexName] = indexSchema{hash: h, rangeKey: r}
		}
	}
	return s, nil
}

func keyNames(ks []ddbtypes.KeySchemaElement) (hash, rangeKey string) {
	for _, k := range ks {
		if k.AttributeName == nil {
			continue
		}
		if k.KeyType == ddbtypes.KeyTypeHash {
			hash = *k.AttributeName
		} else {
			rangeKey = *k.AttributeName
		}
	}
	return hash, rangeKey
}

// checkIndex refuses an index the table does not have (minidyn would
// panic on it).
func (s *schema) checkIndex(name *string) error {
	if name == nil {
		return nil
	}
	if _, ok := s.indexes[*name]; !ok {
		return errValidation("The table does not have the specified index: " + *name)
	}
	return nil
}

// keyAttrs are the attribute names of the table's primary key.
func (s *schema) keyAttrs() []string {
	if s.rangeKey == "" {
		return []string{s.hash}
	}
	return []string{s.hash, s.rangeKey}
}

// keyOf is the primary key of the item or key av.
func (s *schema) keyOf(av map[string]*minidyn.AttributeValue) map[string]*minidyn.AttributeValue {
	key := make(map[string]*minidyn.AttributeValue, 2)
	for _, a := range s.keyAttrs() {
		key[a] = av[a]
	}
	return key
}

var errNoKey = errors.New("the provided key element does not match the schema")

// position is where an item sorts in a scan: by bucket (a hash of its
// partition key value), then by its encoded primary key.
type position struct {
	bucket int
	key    string
}

func (p position) less(q position) bool {
	if p.bucket != q.bucket {
		return p.bucket < q.bucket
	}
	return p.key < q.key
}

// positionOf returns the position of the item or key av (which must hold
// the table's key attributes, with the schema's types).
func (s *schema) positionOf(av map[string]*minidyn.AttributeValue) (position, error) {
	h, err := encodeKeyValue(av[s.hash], s.hashType)
	if err != nil {
		return position{}, err
	}
	key := lengthPrefixed(h)
	if s.rangeKey != "" {
		r, err := encodeKeyValue(av[s.rangeKey], s.rangeKeyType)
		if err != nil {
			return position{}, err
		}
		key += lengthPrefixed(r)
	}
	return position{bucket: bucketOf(h), key: key}, nil
}

// shardOf is the minidyn table holding the item or key av.
func (s *schema) shardOf(av map[string]*minidyn.AttributeValue) (int, error) {
	h, err := encodeKeyValue(av[s.hash], s.hashType)
	if err != nil {
		return 0, err
	}
	return shardOfBucket(bucketOf(h)), nil
}

// shardOfBucket is the shard holding a bucket's items.
func shardOfBucket(b int) int { return b >> (bucketBits - shardBits) }

func lengthPrefixed(s string) string {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	return string(n[:]) + s
}

// encodeKeyValue is a key attribute's value in a form equal for equal
// values: numbers are compared by value, as DynamoDB compares them ("1" and
// "1.0" are the same key).
func encodeKeyValue(v *minidyn.AttributeValue, typ string) (string, error) {
	if v == nil {
		return "", errNoKey
	}
	switch typ {
	case "S":
		if v.S == nil {
			return "", errNoKey
		}
		return *v.S, nil
	case "N":
		if v.N == nil {
			return "", errNoKey
		}
		r, ok := new(big.Rat).SetString(*v.N)
		if !ok {
			return "", fmt.Errorf("%w: %q is not a number", errNoKey, *v.N)
		}
		return r.RatString(), nil
	case "B":
		if v.B == nil {
			return "", errNoKey
		}
		return string(v.B), nil
	}
	return "", errNoKey
}

// bucketOf hashes a partition key value into one of the buckets: FNV-1a,
// then a 64-bit finalizer (splitmix64's) so the top bits are well mixed.
func bucketOf(partitionKey string) int {
	f := fnv.New64a()
	_, _ = f.Write([]byte(partitionKey))
	x := f.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return int(x >> (64 - bucketBits))
}

// segmentBuckets is the range [lo, hi) of buckets in segment seg of total.
func segmentBuckets(seg, total int) (lo, hi int) {
	return ceilDiv(seg*buckets, total), ceilDiv((seg+1)*buckets, total)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
