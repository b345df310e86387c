package ddbscan_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/server"
)

// The benchmarks print what the fan-out's numbers depend on:
//
//	go test -run '^$' -bench . -benchtime 3x ./localrun/ddbscan/
//
// cpuTime is the process's CPU time so far (user and system): the
// machine is shared, so wall time says little.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoad100k: 100,000 rows by BatchWriteItem (25 a call, one
// client), as cmd/wsbench registers its virtual connections.
func BenchmarkLoad100k(b *testing.B) {
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		c := newClient(b)
		b.StartTimer()
		t0 := cpuTime(b)
		load(b, c, 0, 100_000)
		cpu += cpuTime(b) - t0
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/100k-rows")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/100k-rows")
}

// BenchmarkParallelScan100k: one broadcast's scanning, as the fan-out does
// it: 20 segments paged concurrently with Limit 1000 and
// ProjectionExpression connectionId, through the SDK.
func BenchmarkParallelScan100k(b *testing.B) {
	const rows, total = 100_000, 20
	c := newClient(b)
	start := time.Now()
	load(b, c, 0, rows)
	b.Logf("loaded %d rows in %v", rows, time.Since(start))
	b.ResetTimer()
	t0 := cpuTime(b)
	for b.Loop() {
		var wg sync.WaitGroup
		counts := make([]int, total)
		for seg := range int32(total) {
			wg.Go(func() { counts[seg] = len(scanSegment(b, c, seg, total, 1000, nil)) })
		}
		wg.Wait()
		n := 0
		for _, k := range counts {
			n += k
		}
		if n != rows {
			b.Fatalf("scanned %d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/broadcast")
	// Client and server: the SDK's decoding is the fan-out worker's share.
	b.ReportMetric(float64((cpuTime(b)-t0).Milliseconds())/float64(b.N), "cpu-ms/broadcast")
}

// BenchmarkMinidynLoad20k is the reference: minidyn's own server, loading
// 20,000 rows the same way (it re-sorts its key list on every new key, so
// 100,000 would take about 25 times as long).
func BenchmarkMinidynLoad20k(b *testing.B) {
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		srv := httptest.NewServer(minidyn.NewServer())
		c := dynamodb.New(dynamodb.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""),
		})
		_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
			TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(idKey), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(idKey), KeyType: types.KeyTypeHash}},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := cpuTime(b)
		load(b, c, 0, 20_000)
		cpu += cpuTime(b) - t0
		b.StopTimer()
		srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/20k-rows")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/20k-rows")
}
