// Package metrics reads the functions' CloudWatch embedded metric format
// (EMF) records out of the local run's logs and sums them per interval, so
// that `wslocal dev --metrics-interval` can print what CloudWatch would
// have counted, before anything is deployed.
//
// The local run sends nothing to CloudWatch. In AWS, Lambda sends what a
// function writes to standard output to CloudWatch Logs, which extracts the
// metrics of every log event that is an EMF document ("Using the embedded
// metric format with Lambda",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html).
// Locally, package lambdaruntime copies each line a function writes to the
// run's log, prefixed with "[<function>#<instance>] " and otherwise intact;
// an [Aggregator] is a writer that sees that log and does the extraction.
//
// # What is a record
//
// Following the specification ("Specification: Embedded metric format",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
// a line is an EMF record when, after the instance prefix, it is one JSON
// object with an "_aws" member. The record is read only when "_aws" holds a
// "CloudWatchMetrics" array of directives, each with a "Metrics" array of
// definitions, and every metric a directive names is a root member whose
// value is a number or an array of numbers (an array's values are summed:
// they are samples of one metric). A line with "_aws" that breaks one of
// these rules, or that mentions "_aws" but is no JSON object, is malformed:
// it is counted ([Summary.Malformed]) and logged at DEBUG, never fatal. A
// metric the directives do not name is no metric; a metric whose name is
// not one of package contract's is ignored. Lines that are no EMF record
// (the functions' JSON logs, the gateway's text logs) are skipped.
//
// A metric is counted once per record, however many directives or
// dimension sets name it: the authorizer's refusal names AuthRefused by
// Function and by Function and Reason, which CloudWatch stores as two
// metrics, but it is one refusal. The Reason dimension splits
// [Summary.Reasons].
//
// # Broadcasts and direct messages
//
// The message function writes one record per message, but it posts only
// direct messages: a broadcast's record carries zero Recipients,
// Delivered, Stale and PostFailed, since the function only queued a job.
// The fanout function (Function "fanout") does the posting and writes one
// record per shard it ran (Delivered, Stale, PostFailed, PostThrottled,
// ShardDuration) and one per job it split (JobShards). The summary's post
// counts are therefore the sum of both functions' records: direct messages
// from the message function's, broadcasts from the fanout function's. A
// shard record has no Recipients; its recipients are the connections it
// tried, Delivered + Stale + PostFailed. A shard that is run again after a
// worker stopped (at-least-once delivery) writes another record for the
// pages it posted, so the counts are posts made, repeats included.
package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"wsapi/contract"
)

// Record is one EMF record as read: the values of the metrics its
// directives name, and its dimensions' values.
type Record struct {
	Namespaces []string           // of its directives, in order, without repeats
	Values     map[string]float64 // metric name → value (an array's sum)
	Dimensions map[string]string  // dimension key → value, for every key a dimension set names
}

// Function is the record's contract.DimensionFunction value.
func (r Record) Function() string { return r.Dimensions[contract.DimensionFunction] }

// errNotEMF says a line is no EMF record: nothing to count, nothing wrong.
var errNotEMF = errors.New("not an EMF record")

// Parse reads one log line. It returns errNotEMF (see IsNotEMF) for a line
// that is no EMF record, another error for a malformed one. The local run's
// "[<function>#<instance>] " prefix, when present, is skipped.
func Parse(line []byte) (Record, error) {
	text := bytes.TrimSpace(stripPrefix(line))
	if len(text) == 0 || text[0] != '{' {
		return Record{}, errNotEMF
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(text, &root); err != nil {
		if bytes.Contains(text, []byte(`"_aws"`)) {
			return Record{}, fmt.Errorf("not one JSON object: %w", err)
		}
		return Record{}, errNotEMF
	}
	rawAWS, ok := root["_aws"]
	if !ok {
		return Record{}, errNotEMF
	}
	var aws struct {
		CloudWatchMetrics *[]struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    *[]struct {
				Name string `json:"Name"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	if err := json.Unmarshal(rawAWS, &aws); err != nil {
		return Record{}, fmt.Errorf("_aws: %w", err)
	}
	if aws.CloudWatchMetrics == nil {
		return Record{}, errors.New("_aws.CloudWatchMetrics: missing")
	}
	rec := Record{Values: map[string]float64{}, Dimensions: map[string]string{}}
	for i, d := range *aws.CloudWatchMetrics {
		if d.Metrics == nil {
			return Record{}, fmt.Errorf("_aws.CloudWatchMetrics[%d].Metrics: missing", i)
		}
		if !slices.Contains(rec.Namespaces, d.Namespace) {
			rec.Namespaces = append(rec.Namespaces, d.Namespace)
		}
		for _, m := range *d.Metrics {
			if _, done := rec.Values[m.Name]; done {
				continue
			}
			v, err := metricValue(root[m.Name])
			if err != nil {
				return Record{}, fmt.Errorf("metric %q: %w", m.Name, err)
			}
			rec.Values[m.Name] = v
		}
		for _, set := range d.Dimensions {
			for _, key := range set {
				var s string
				if err := json.Unmarshal(root[key], &s); err != nil {
					return Record{}, fmt.Errorf("dimension %q: the root has no string member of that name", key)
				}
				rec.Dimensions[key] = s
			}
		}
	}
	return rec, nil
}

// IsNotEMF reports whether Parse's error says the line is no EMF record at
// all, rather than a malformed one.
func IsNotEMF(err error) bool { return errors.Is(err, errNotEMF) }

// metricValue reads a metric's root member: a number, or an array of
// numbers, summed.
func metricValue(raw json.RawMessage) (float64, error) {
	if raw == nil {
		return 0, errors.New("the root has no member of that name")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, err
	}
	bad := fmt.Errorf("value %.40s: want a number or an array of numbers", raw)
	switch v := v.(type) {
	case json.Number:
		return strconv.ParseFloat(v.String(), 64)
	case []any:
		sum := 0.0
		for _, e := range v {
			n, ok := e.(json.Number)
			if !ok {
				return 0, bad
			}
			f, err := strconv.ParseFloat(n.String(), 64)
			if err != nil {
				return 0, err
			}
			sum += f
		}
		return sum, nil
	}
	return 0, bad
}

// stripPrefix drops the "[<function>#<instance>] " package lambdaruntime
// puts before each line of a function's output.
func stripPrefix(line []byte) []byte {
	if len(line) == 0 || line[0] != '[' {
		return line
	}
	end := bytes.Index(line, []byte("] "))
	if end < 0 || !bytes.ContainsRune(line[:end], '#') || bytes.ContainsAny(line[:end], " {\"") {
		return line
	}
	return line[end+2:]
}

// Summary is what the records of one interval add up to. Counts are sums of
// the metrics' values.
type Summary struct {
	Records   int // EMF records read
	Malformed int // lines with "_aws" that were no valid record

	// Messages is the message function's records, one per message that
	// passed its checks, broadcast (queued) or direct (posted); refused
	// frames write none.
	Messages int
	// The posts: of direct messages from the message function's records,
	// of broadcasts from the fanout function's shard records (see the
	// package doc).
	Recipients float64
	Delivered  float64
	Stale      float64
	PostFailed float64

	// Fanout function: Jobs is its split records and JobShards the
	// segments they chose; Shards is its shard records (one per shard run,
	// a resumed shard's included); PostThrottled the throttled post
	// attempts (429), each retried or failed.
	Jobs          int
	JobShards     float64
	Shards        int
	PostThrottled float64

	// Authorizer.
	AuthAccepted float64
	AuthRefused  float64
	Reasons      map[string]float64 // AuthRefused by its Reason dimension

	// Connect and disconnect functions.
	Connected        float64
	ConnectFailed    float64
	Disconnected     float64
	DisconnectFailed float64
}

// Empty reports whether nothing was seen: no record, no malformed line.
func (s Summary) Empty() bool { return s.Records == 0 && s.Malformed == 0 }

// Add counts one record.
func (s *Summary) Add(r Record) {
	s.Records++
	v := r.Values
	if _, ok := v[contract.MetricRecipients]; ok {
		s.Messages++
	}
	s.Recipients += v[contract.MetricRecipients]
	if r.Function() == contract.FunctionFanOut {
		if _, ok := v[contract.MetricShardDuration]; ok {
			s.Shards++
			// A shard record lists no recipients: those it tried.
			s.Recipients += v[contract.MetricDelivered] + v[contract.MetricStale] + v[contract.MetricPostFailed]
		}
		if n, ok := v[contract.MetricJobShards]; ok {
			s.Jobs++
			s.JobShards += n
		}
	}
	s.PostThrottled += v[contract.MetricPostThrottled]
	s.Delivered += v[contract.MetricDelivered]
	s.Stale += v[contract.MetricStale]
	s.PostFailed += v[contract.MetricPostFailed]
	s.AuthAccepted += v[contract.MetricAuthAccepted]
	if refused := v[contract.MetricAuthRefused]; refused != 0 {
		s.AuthRefused += refused
		reason := r.Dimensions[contract.DimensionReason]
		if reason == "" {
			reason = "unknown"
		}
		if s.Reasons == nil {
			s.Reasons = map[string]float64{}
		}
		s.Reasons[reason] += refused
	}
	s.Connected += v[contract.MetricConnected]
	s.ConnectFailed += v[contract.MetricConnectFailed]
	s.Disconnected += v[contract.MetricDisconnected]
	s.DisconnectFailed += v[contract.MetricDisconnectFailed]
}

// Format is the one-line summary `wslocal dev --metrics-interval` prints,
// label naming the interval:
//
//	metrics 10s: messages 12 (recipients 31, delivered 30, stale 1, post failures 0), fan-out jobs 10 (shards 10, shard runs 10, throttled posts 0), connects 3 (failed 0), disconnects 2 (failed 0), auth accepted 3, auth refusals 1 (expired 1)
//
// The fan-out part is there only when the fanout function wrote a record.
// Refusal reasons are listed by name; ", malformed N" ends the line when a
// malformed record was seen.
func (s Summary) Format(label string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "metrics %s: messages %d (recipients %s, delivered %s, stale %s, post failures %s)",
		label, s.Messages, num(s.Recipients), num(s.Delivered), num(s.Stale), num(s.PostFailed))
	if s.Jobs > 0 || s.Shards > 0 {
		fmt.Fprintf(&b, ", fan-out jobs %d (shards %s, shard runs %d, throttled posts %s)",
			s.Jobs, num(s.JobShards), s.Shards, num(s.PostThrottled))
	}
	fmt.Fprintf(&b, ", connects %s (failed %s), disconnects %s (failed %s)",
		num(s.Connected), num(s.ConnectFailed), num(s.Disconnected), num(s.DisconnectFailed))
	fmt.Fprintf(&b, ", auth accepted %s, auth refusals %s", num(s.AuthAccepted), num(s.AuthRefused))
	if len(s.Reasons) > 0 {
		var parts []string
		for _, reason := range slices.Sorted(maps.Keys(s.Reasons)) {
			parts = append(parts, reason+" "+num(s.Reasons[reason]))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	if s.Malformed > 0 {
		fmt.Fprintf(&b, ", malformed %d", s.Malformed)
	}
	return b.String()
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Aggregator is an io.Writer for the local run's log (localrun.Options.Logs,
// next to the terminal) that sums the EMF records written to it until Take.
// Each Write is taken as whole lines, as package lambdaruntime and slog
// write them (one line per call); a last line without its newline counts as
// a line. It is safe for concurrent use, and Write never fails.
type Aggregator struct {
	log *slog.Logger

	mu  sync.Mutex
	cur Summary
}

// NewAggregator returns an Aggregator that logs malformed records at DEBUG
// to log (nil: nowhere). log must not write to the aggregator.
func NewAggregator(log *slog.Logger) *Aggregator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Aggregator{log: log}
}

func (a *Aggregator) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		a.Line(line)
	}
	return n, nil
}

// Line reads one log line.
func (a *Aggregator) Line(line []byte) {
	if !bytes.Contains(line, []byte(`"_aws"`)) {
		return // cheap: most lines are no record
	}
	rec, err := Parse(line)
	if IsNotEMF(err) {
		return
	}
	a.mu.Lock()
	if err != nil {
		a.cur.Malformed++
	} else {
		a.cur.Add(rec)
	}
	a.mu.Unlock()
	if err != nil {
		const max = 300
		shown := line
		if len(shown) > max {
			shown = shown[:max]
		}
		a.log.Debug("malformed EMF record in the function logs", "error", err, "line", string(shown))
	}
}

// Take returns the summary since the last Take (or the start) and starts a
// new one.
func (a *Aggregator) Take() Summary {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.cur
	a.cur = Summary{}
	return s
}

// Report prints the summary of each interval to w until stop is closed,
// then that of the time left since the last interval. An interval in
// which nothing was seen prints nothing.
func (a *Aggregator) Report(w io.Writer, interval time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-tick.C:
			last = time.Now()
			if s := a.Take(); !s.Empty() {
				fmt.Fprintln(w, s.Format(interval.String()))
			}
		case <-stop:
			if s := a.Take(); !s.Empty() {
				fmt.Fprintln(w, s.Format(time.Since(last).Round(100*time.Millisecond).String()+" (last)"))
			}
			return
		}
	}
}
