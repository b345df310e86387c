package fanout

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		"TABLE_NAME":           "connections",
		"JOBS_TABLE_NAME":      "jobs",
		"CONNECTIONS_ENDPOINT": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/",
		"FANOUT_QUEUE_URL":     "https://sqs.eu-west-1.amazonaws.com/123456789012/fanout",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	defaults := FunctionConfig{
		TableName: "connections", JobsTableName: "jobs",
		ConnectionsEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
		QueueURL:            "https://sqs.eu-west-1.amazonaws.com/123456789012/fanout",
		Split:               SplitConfig{ConnectionsPerSegment: 5000, MaxSegments: 100},
		Worker:              Config{PostsPerSecond: 500, Burst: 50, MaxInFlight: 32},
		JobTTL:              24 * time.Hour,
		PageSize:            1000,
	}
	set := defaults
	set.Split = SplitConfig{Segments: 8, ConnectionsPerSegment: 100, MaxSegments: 20}
	set.Worker = Config{PostsPerSecond: 2.5, Burst: 5, MaxInFlight: 256}
	set.JobTTL = time.Hour
	set.PageSize = 10000

	tests := []struct {
		name    string
		env     map[string]string
		want    FunctionConfig
		wantErr []string
	}{
		{name: "defaults", env: base, want: defaults},
		{name: "set", env: with("FANOUT_SEGMENTS", "8", "CONNECTIONS_PER_SEGMENT", "100", "MAX_SEGMENTS", "20",
			"WORKER_POSTS_PER_SECOND", "2.5", "WORKER_POST_BURST", "5", "MAX_IN_FLIGHT", "256",
			"JOB_TTL_SECONDS", "3600", "FANOUT_PAGE_SIZE", "10000"), want: set},
		{name: "every problem at once", env: with("TABLE_NAME", "", "JOBS_TABLE_NAME", " ",
			"CONNECTIONS_ENDPOINT", "ftp://x", "FANOUT_QUEUE_URL", "", "FANOUT_SEGMENTS", "1000001",
			"WORKER_POSTS_PER_SECOND", "0", "MAX_IN_FLIGHT", "257", "FANOUT_PAGE_SIZE", "0"),
			wantErr: []string{"TABLE_NAME is not set", "JOBS_TABLE_NAME is not set", "CONNECTIONS_ENDPOINT=",
				"FANOUT_QUEUE_URL is not set", "FANOUT_SEGMENTS=", "WORKER_POSTS_PER_SECOND=", "MAX_IN_FLIGHT=", "FANOUT_PAGE_SIZE="}},
		{name: "rate not a number", env: with("WORKER_POSTS_PER_SECOND", "NaN"), wantErr: []string{"WORKER_POSTS_PER_SECOND="}},
		{name: "rate infinite", env: with("WORKER_POSTS_PER_SECOND", "+Inf"), wantErr: []string{"WORKER_POSTS_PER_SECOND="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("ConfigFromEnv: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("config (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("ConfigFromEnv = %+v, want an error", got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
