package fanout

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type fakeCounter struct {
	n   int64
	err error
}

func (c fakeCounter) ItemCount(context.Context) (int64, error) { return c.n, c.err }

// fakeJobStore keeps the first count it is given per job.
type fakeJobStore struct {
	mu     sync.Mutex
	stored map[string]int
}

func (s *fakeJobStore) SetTotalShards(_ context.Context, id string, n int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stored == nil {
		s.stored = map[string]int{}
	}
	if _, ok := s.stored[id]; !ok {
		s.stored[id] = n
	}
	return s.stored[id], nil
}

// fakeQueue records sent bodies; failFirst[body] is how many sends of it
// fail before one succeeds (-1: always).
type fakeQueue struct {
	mu        sync.Mutex
	sent      [][]byte
	calls     [][][]byte
	failFirst map[string]int
	released  []string
}

func (q *fakeQueue) SendBatch(_ context.Context, bodies [][]byte) ([]int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, bodies)
	var failed []int
	for i, b := range bodies {
		if n := q.failFirst[string(b)]; n != 0 {
			if n > 0 {
				q.failFirst[string(b)] = n - 1
			}
			failed = append(failed, i)
			continue
		}
		q.sent = append(q.sent, b)
	}
	return failed, nil
}

func (q *fakeQueue) Release(_ context.Context, handle string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.released = append(q.released, handle)
	return nil
}

func TestSegmentsFor(t *testing.T) {
	tests := []struct {
		items    int64
		per, max int
		want     int
	}{
		{0, 5000, 100, 1},
		{-1, 5000, 100, 1},
		{1, 5000, 100, 1},
		{5000, 5000, 100, 1},
		{5001, 5000, 100, 2},
		{100_000, 5000, 100, 20},
		{1_000_000_000, 5000, 100, 100},
		{1 << 62, 1, 1_000_000, 1_000_000},
	}
	for _, tt := range tests {
		if got := segmentsFor(tt.items, tt.per, tt.max); got != tt.want {
			t.Errorf("segmentsFor(%d, %d, %d) = %d, want %d", tt.items, tt.per, tt.max, got, tt.want)
		}
	}
}

func TestSplitterSegments(t *testing.T) {
	job := testShard(0, 1).Job
	job.TotalShards = 0
	tests := []struct {
		name    string
		cfg     SplitConfig
		counter fakeCounter
		stored  int // 0: nothing stored yet
		want    int
		wantErr bool
	}{
		{name: "fixed", cfg: SplitConfig{Segments: 7}, counter: fakeCounter{err: errors.New("not called")}, want: 7},
		{name: "from the table's size", counter: fakeCounter{n: 12_000}, want: 3},
		{name: "clamped", cfg: SplitConfig{MaxSegments: 4}, counter: fakeCounter{n: 1_000_000}, want: 4},
		{name: "stored before wins", cfg: SplitConfig{Segments: 7}, stored: 2, want: 2},
		{name: "count failed", counter: fakeCounter{err: errors.New("throttled")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeJobStore{}
			if tt.stored > 0 {
				store.stored = map[string]int{job.ID: tt.stored}
			}
			got, err := NewSplitter(tt.counter, store, &fakeQueue{}, tt.cfg, nil).Segments(t.Context(), job)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Segments = %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSplitterEnqueue(t *testing.T) {
	job := testShard(0, 25).Job
	bodyOf := func(seg int) string {
		b, err := EncodeShard(Shard{Job: job, Segment: seg})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	q := &fakeQueue{failFirst: map[string]int{bodyOf(3): 2, bodyOf(24): 1}}
	if err := NewSplitter(fakeCounter{}, &fakeJobStore{}, q, SplitConfig{}, nil).Enqueue(t.Context(), job); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	var sizes []int
	for _, c := range q.calls {
		sizes = append(sizes, len(c))
	}
	// 10, 10, 5, then the retries of segment 3 (twice) and 24 (once).
	if diff := cmp.Diff([]int{10, 1, 1, 10, 5, 1}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	seen := map[string]int{}
	for _, b := range q.sent {
		seen[string(b)]++
	}
	for seg := range 25 {
		if seen[bodyOf(seg)] != 1 {
			t.Errorf("segment %d sent %d times, want 1", seg, seen[bodyOf(seg)])
		}
	}

	q = &fakeQueue{failFirst: map[string]int{bodyOf(11): -1}}
	err := NewSplitter(fakeCounter{}, &fakeJobStore{}, q, SplitConfig{SendAttempts: 2}, nil).Enqueue(t.Context(), job)
	if !errors.Is(err, ErrNotEnqueued) {
		t.Errorf("Enqueue with an entry that always fails = %v, want ErrNotEnqueued", err)
	}
}

func TestBatchesBytes(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 130*1024) // two do not fit in a batch
	small := []byte("s")
	got := batches([][]byte{big, big, small, big, small, small})
	var sizes []int
	total := 0
	for _, b := range got {
		n := 0
		for _, body := range b {
			n += len(body)
		}
		if n > MaxBatchBytes || len(b) > MaxBatchEntries {
			t.Errorf("batch of %d entries, %d bytes", len(b), n)
		}
		sizes = append(sizes, len(b))
		total += len(b)
	}
	if total != 6 || len(got) != 3 {
		t.Errorf("batches sizes %v, want 3 batches of the 6 bodies", sizes)
	}
	if n := len(batches([][]byte{[]byte(strings.Repeat("y", 10))})); n != 1 {
		t.Errorf("%d batches of one body", n)
	}
	if n := len(batches(nil)); n != 0 {
		t.Errorf("%d batches of nothing", n)
	}
}
