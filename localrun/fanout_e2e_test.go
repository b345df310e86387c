package localrun

// End-to-end tests of the broadcast fan-out: the stack synthesized with a
// short worker timeout (so the fan-out queue's visibility timeout, six
// times it, is short) and small pages, run with its real functions, queue
// and event source mapping.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/contract"
	"wsapi/internal/testutil"
	"wsapi/localrun/assembly"
	"wsapi/localrun/internal/synthtest"
	"wsapi/stacks"
	"wsapi/websocketapi"
)

// The fan-out variant: two shards per broadcast, pages of five
// connections, a 2 s worker (a 12 s visibility timeout).
const (
	fanOutSegments      = 2
	fanOutPageSize      = 5
	fanOutWorkerTimeout = 2 * time.Second
)

// fanOutRun is one local run of the fan-out variant for the subtests.
type fanOutRun struct {
	s        *Server
	asm      *assembly.Assembly
	table    string // the connections table
	workerID string // the function the event source mapping invokes
	logs     *testutil.LockedBuffer
}

func startFanOutRun(t *testing.T) *fanOutRun {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	dir := t.TempDir()
	outdir := filepath.Join(dir, "cdk.out")
	props := stacks.WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{
		ThrottlingRateLimit: 10000, ThrottlingBurstLimit: 5000,
		FanOutProps: websocketapi.FanOutProps{
			FanOutSegments:       fanOutSegments,
			FanOutPageSize:       fanOutPageSize,
			WorkerTimeout:        fanOutWorkerTimeout,
			WorkerMaxConcurrency: 2,
			WorkerBatchSize:      1,
		},
	}}
	started := time.Now()
	if err := synthtest.SynthesizeForHost(outdir, "..", props); err != nil {
		t.Fatalf("synthesize the fan-out variant: %v", err)
	}
	t.Logf("fan-out variant synthesized in %s", time.Since(started).Round(100*time.Millisecond))
	asm, err := assembly.Load(outdir)
	if err != nil {
		t.Fatal(err)
	}
	r := &fanOutRun{asm: asm, logs: &testutil.LockedBuffer{}}
	if len(asm.EventSourceMappings) != 1 {
		t.Fatalf("%d event source mappings in the template, want the fan-out's one", len(asm.EventSourceMappings))
	}
	for _, m := range asm.EventSourceMappings {
		r.workerID = m.FunctionID
		if vt := asm.Queues[m.QueueID].VisibilityTimeout; vt != 6*fanOutWorkerTimeout {
			t.Errorf("fan-out queue's visibility timeout %s, want six worker timeouts", vt)
		}
	}
	r.s, err = Start(context.Background(), Options{
		AssemblyDir: outdir,
		StateDir:    filepath.Join(dir, "state"),
		Logs:        r.logs,
	})
	if err != nil {
		t.Fatalf("start the local run: %v\n%s", err, r.logs.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.s.Close(ctx); err != nil {
			t.Errorf("close the local run: %v", err)
		}
		if t.Failed() {
			t.Logf("local run logs:\n%s", r.logs.String())
		}
	})
	for id, tb := range asm.Tables {
		if len(tb.KeySchema) == 1 && tb.KeySchema[0].AttributeName == contract.AttrConnectionID {
			r.table = r.s.TableNames[id]
		}
	}
	if r.table == "" {
		t.Fatalf("no connections table among %v", r.s.TableNames)
	}
	return r
}

// connectionIDs lists the connections table.
func (r *fanOutRun) connectionIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	p := dynamodb.NewScanPaginator(DynamoDBClient(r.s.DynamoDB), &dynamodb.ScanInput{TableName: aws.String(r.table)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range out.Items {
			ids = append(ids, item[contract.AttrConnectionID].(*types.AttributeValueMemberS).Value)
		}
	}
	return ids
}

// addVirtual writes rows for n virtual connections, as the connect
// function would, and registers them with the gateway, which answers 200
// to posts to them and counts them.
func (r *fanOutRun) addVirtual(t *testing.T, n int) []string {
	t.Helper()
	db := DynamoDBClient(r.s.DynamoDB)
	now := time.Now()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("virtkill%07d=", i)
	}
	r.s.Gateway().AddVirtualConnections(ids...)
	for _, id := range ids {
		_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(r.table), Item: map[string]types.AttributeValue{
			contract.AttrConnectionID: &types.AttributeValueMemberS{Value: id},
			contract.AttrPrincipalID:  &types.AttributeValueMemberS{Value: "virtual"},
			contract.AttrConnectedAt:  &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
			contract.AttrExpiresAt:    &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(time.Hour).Unix(), 10)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// readWithin reads c's next frame, waiting up to d (a shard retried after
// the visibility timeout takes longer than client.read waits).
func readWithin(t *testing.T, c *client, d time.Duration) map[string]any {
	t.Helper()
	select {
	case b, ok := <-c.frames:
		if !ok {
			t.Fatalf("%s read: %v", c.sub, c.err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s got %q: %v", c.sub, b, err)
		}
		return m
	case <-time.After(d):
		t.Fatalf("%s: nothing received in %s", c.sub, d)
	}
	return nil
}

// drain counts the frames already received by c that carry id.
func drain(t *testing.T, c *client, id string) int {
	t.Helper()
	n := 0
	for {
		select {
		case b, ok := <-c.frames:
			if !ok {
				return n
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("%s got %q: %v", c.sub, b, err)
				continue
			}
			if m["id"] == id {
				n++
			}
		default:
			return n
		}
	}
}

func TestE2EFanOut(t *testing.T) {
	r := startFanOutRun(t)
	s := r.s

	t.Run("broadcast through the queue", func(t *testing.T) {
		a, b, c := dial(t, s, "fan-a"), dial(t, s, "fan-b"), dial(t, s, "fan-c")
		a.send(map[string]any{"action": "sendmessage", "message": "hello, fan-out"})
		ack := readWithin(t, a, 20*time.Second)
		id, _ := ack["id"].(string)
		if ack["type"] != "ack" || ack["queued"] != true || id == "" {
			t.Fatalf("A's ack %v, want a queued ack with the message id", ack)
		}
		for _, cl := range []*client{b, c} {
			m := readWithin(t, cl, 30*time.Second)
			if m["type"] != contract.FrameTypeMessage || m["id"] != id || m["from"] != "fan-a" || m["message"] != "hello, fan-out" {
				t.Errorf("%s got %v, want the message with id %s", cl.sub, m, id)
			}
		}
		report := readWithin(t, a, 30*time.Second)
		want := map[string]any{"type": contract.FrameTypeDelivery, "id": id, "delivered": float64(2), "stale": float64(0), "failed": float64(0)}
		for k, v := range want {
			if report[k] != v {
				t.Errorf("delivery report %v: %s = %v, want %v", report, k, report[k], v)
			}
		}
		a.quiet(300 * time.Millisecond) // the sender never gets its own message
	})

	// A worker is killed in the middle of its shard: the shard comes back
	// after the queue's visibility timeout and resumes after its last
	// checkpoint, so every connection gets the message and at most the
	// page in flight at the kill is posted twice.
	t.Run("worker killed mid-shard", func(t *testing.T) {
		testutil.Eventually(t, 20*time.Second, func() bool { return len(r.connectionIDs(t)) == 0 },
			"the connections of the previous subtest are removed")
		const virtual = 200
		virtualIDs := r.addVirtual(t, virtual)
		a, b := dial(t, s, "kill-a"), dial(t, s, "kill-b")
		recipients := virtual + 1 // the virtual connections and b, not the sender

		// Each post takes 50 ms: a shard of about 100 connections in pages
		// of 5 then lasts a second or more, long enough to be killed.
		s.Gateway().SetPostLoad(50*time.Millisecond, 0, 0)
		t.Cleanup(func() { s.Gateway().SetPostLoad(0, 0, 0) })
		pool := s.pools[r.workerID]
		if pool == nil {
			t.Fatalf("no pool for the worker %s", r.workerID)
		}
		before := s.Gateway().PostStats().VirtualPosts

		a.send(map[string]any{"action": "sendmessage", "message": "survive this"})
		ack := readWithin(t, a, 20*time.Second)
		id, _ := ack["id"].(string)
		if ack["queued"] != true || id == "" {
			t.Fatalf("ack %v, want a queued ack", ack)
		}
		// Kill once some pages are out and most are not.
		posted := func() int64 { return s.Gateway().PostStats().VirtualPosts - before }
		testutil.Eventually(t, 30*time.Second, func() bool { return posted() >= 3*fanOutPageSize },
			"the shards started posting")
		killed := pool.KillBusy()
		atKill := posted()
		t.Logf("killed %d busy worker(s) after %d of %d virtual posts", killed, atKill, virtual)
		if killed == 0 || atKill >= virtual {
			t.Fatalf("killed %d workers after %d of %d posts: the kill did not land mid-shard", killed, atKill, virtual)
		}

		// The retry comes after the 12 s visibility timeout.
		report := readWithin(t, a, 6*fanOutWorkerTimeout+60*time.Second)
		if report["type"] != contract.FrameTypeDelivery || report["id"] != id {
			t.Fatalf("sender got %v, want the delivery report of %s", report, id)
		}
		allowance := killed * fanOutPageSize
		delivered, _ := report["delivered"].(float64)
		if int(delivered) < recipients || int(delivered) > recipients+allowance || report["stale"] != float64(0) || report["failed"] != float64(0) {
			t.Errorf("delivery report %v: want delivered %d (up to %d more for re-posted pages), nothing stale or failed", report, recipients, allowance)
		}

		// Nobody missed, at most one page per killed shard posted twice.
		duplicates := 0
		counts := s.Gateway().VirtualCounts()
		for _, vid := range virtualIDs {
			switch n := counts[vid]; {
			case n == 0:
				t.Errorf("virtual connection %s missed the message", vid)
			case n > 1:
				duplicates += n - 1
			}
		}
		// b's frames are all in by the time the report is sent: the
		// report follows the last shard's posts.
		switch n := drain(t, b, id); {
		case n == 0:
			t.Errorf("kill-b missed the message")
		case n > 1:
			duplicates += n - 1
		}
		t.Logf("%d duplicate deliveries (allowed: %d, one page per killed worker)", duplicates, allowance)
		if duplicates > allowance {
			t.Errorf("%d duplicate deliveries, want at most %d (one page of %d per killed worker)", duplicates, allowance, fanOutPageSize)
		}
	})
}
