package localrun

import (
	"bufio"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wsapi/contract"
	"wsapi/internal/testutil"
	"wsapi/localrun/devissuer"
	"wsapi/localrun/metrics"
)

// emfLine is a function's EMF record as the local run logs it: the
// instance prefix, then the record's JSON object, intact.
var emfLine = regexp.MustCompile(`^\[([A-Za-z0-9]+)#[0-9]+\] (\{"_aws":.*\})$`)

// TestE2EMetricsInLogs: the real functions' EMF records appear in the
// local run's function logs, whole, with the values of what happened
// (three connects, two refusals with their reasons, two broadcasts to two
// recipients each, a disconnect): the message function's record of a
// broadcast posts nothing, the fanout function's records post it; and the
// summary aggregator of `wslocal dev --metrics-interval` adds them up from
// those logs.
func TestE2EMetricsInLogs(t *testing.T) {
	s := e2e(t)
	idle(t, s)
	start := len(e2eLogs.String())

	a, b, c := dial(t, s, "metrics-a"), dial(t, s, "metrics-b"), dial(t, s, "metrics-c")
	expired, _ := s.MintToken(devissuer.Claims{Subject: "metrics-late", NotBefore: time.Now().Add(-2 * time.Hour), TTL: time.Hour})
	for _, query := range []string{"?token=" + expired, "?token=not.a.jwt"} {
		if status, conn := dialToken(t, s, query); status != 401 {
			if conn != nil {
				_ = conn.CloseNow()
			}
			t.Fatalf("refused connect: HTTP %d, want 401", status)
		}
	}
	for _, trio := range [][3]*client{{a, b, c}, {b, a, c}} {
		id := trio[0].broadcast("counted")
		trio[1].message(id, trio[0].sub, "counted")
		trio[2].message(id, trio[0].sub, "counted")
		trio[0].delivery(id, 2, 0, 0)
	}
	before := len(rows(t, s))
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
	testutil.Eventually(t, 10*time.Second, func() bool { return len(rows(t, s)) == before-1 }, "c's row removed")

	// The disconnect function writes its record after the delete, the
	// fanout function its shard's after the delivery report.
	var logs string
	testutil.Eventually(t, 10*time.Second, func() bool {
		logs = e2eLogs.String()[start:]
		return strings.Contains(logs, `"`+contract.MetricDisconnected+`":1`) &&
			strings.Count(logs, `"`+contract.MetricShardDuration+`":`) >= 2
	}, "the disconnect record and both shard records logged")

	// Each record, read from the log as the local run printed it.
	var records []metrics.Record
	namespaces := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"_aws"`) {
			continue
		}
		m := emfLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("an EMF record not logged whole on a function's line: %s", line)
			continue
		}
		rec, err := metrics.Parse([]byte(m[2]))
		if err != nil {
			t.Errorf("record %s: %v", m[2], err)
			continue
		}
		if !strings.EqualFold(m[1], rec.Function()) {
			t.Errorf("record of Function %q on %s's log line", rec.Function(), m[1])
		}
		for _, ns := range rec.Namespaces {
			namespaces[ns] = true
		}
		records = append(records, rec)
	}
	if len(namespaces) != 1 {
		t.Errorf("namespaces %v, want one", namespaces)
	}

	byFunction := map[string][]metrics.Record{}
	for _, r := range records {
		byFunction[r.Function()] = append(byFunction[r.Function()], r)
	}
	// A broadcast's message record: queued, nothing posted by it.
	for _, r := range byFunction[contract.FunctionMessage] {
		v := r.Values
		if v[contract.MetricRecipients] != 0 || v[contract.MetricDelivered] != 0 || v[contract.MetricStale] != 0 ||
			v[contract.MetricPostFailed] != 0 || v[contract.MetricFrameBytes] <= 0 {
			t.Errorf("message record %v: want no recipients or posts (the fan-out posts), and the frame's size", v)
		}
	}
	// The fanout function's: a split and a shard per broadcast (one
	// segment each at this size), two posts per shard.
	var splits, shards []map[string]float64
	for _, r := range byFunction[contract.FunctionFanOut] {
		if _, ok := r.Values[contract.MetricJobShards]; ok {
			splits = append(splits, r.Values)
		}
		if _, ok := r.Values[contract.MetricShardDuration]; ok {
			shards = append(shards, r.Values)
		}
	}
	for _, v := range splits {
		if v[contract.MetricJobShards] != 1 {
			t.Errorf("split record %v: want 1 shard", v)
		}
	}
	for _, v := range shards {
		if v[contract.MetricDelivered] != 2 || v[contract.MetricStale] != 0 || v[contract.MetricPostFailed] != 0 ||
			v[contract.MetricPostThrottled] != 0 {
			t.Errorf("shard record %v: want Delivered 2, nothing stale, failed or throttled", v)
		}
	}
	if len(splits) != 2 || len(shards) != 2 || len(byFunction[contract.FunctionFanOut]) != 4 {
		t.Errorf("fanout records: %d splits, %d shards of %d; want 2 and 2 of 4", len(splits), len(shards), len(byFunction[contract.FunctionFanOut]))
	}
	reasons := map[string]float64{}
	accepted := 0.0
	for _, r := range byFunction[contract.FunctionAuthorizer] {
		accepted += r.Values[contract.MetricAuthAccepted]
		if r.Values[contract.MetricAuthRefused] == 1 {
			reasons[r.Dimensions[contract.DimensionReason]]++
		}
	}
	if want := map[string]float64{"expired": 1, "malformed": 1}; accepted != 3 || !maps.Equal(reasons, want) {
		t.Errorf("authorizer records: accepted %v, refused by reason %v; want 3 and %v", accepted, reasons, want)
	}
	if n := len(byFunction[contract.FunctionMessage]); n != 2 {
		t.Errorf("%d message records, want 2", n)
	}
	if n := len(byFunction[contract.FunctionConnect]); n != 3 {
		t.Errorf("%d connect records, want 3", n)
	}

	// The summary, from the same log.
	agg := metrics.NewAggregator(nil)
	_, _ = agg.Write([]byte(logs))
	sum := agg.Take()
	t.Log(sum.Format("test"))
	if sum.Messages != 2 || sum.Recipients != 4 || sum.Delivered != 4 || sum.Stale != 0 || sum.PostFailed != 0 ||
		sum.Jobs != 2 || sum.JobShards != 2 || sum.Shards != 2 || sum.PostThrottled != 0 ||
		sum.AuthAccepted != 3 || sum.AuthRefused != 2 || !maps.Equal(sum.Reasons, map[string]float64{"expired": 1, "malformed": 1}) ||
		sum.Connected != 3 || sum.ConnectFailed != 0 ||
		// A disconnect of an earlier test may land in this window too.
		sum.Disconnected < 1 || sum.DisconnectFailed != 0 || sum.Malformed != 0 || sum.Records != len(records) {
		t.Errorf("summary %+v", sum)
	}
	if sum.Empty() || agg.Take().Records != 0 {
		t.Error("Take did not start a new interval")
	}
	// WSAPI_METRICS_FIXTURE=path keeps this log, the fixture of
	// localrun/metrics (testdata/local-run.log).
	if path := os.Getenv("WSAPI_METRICS_FIXTURE"); path != "" {
		if err := os.WriteFile(path, []byte(logs), 0o644); err != nil {
			t.Error(err)
		}
	}
}
