package fanout

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"wsapi/contract"
	"wsapi/lambdas/internal/env"
)

// Bounds and defaults of the function's settings.
const (
	DefaultJobTTL   = 24 * time.Hour
	DefaultPageSize = 1000
	MaxPageSize     = 10000
	MaxMaxInFlight  = 256
)

// FunctionConfig is the fanout function's configuration.
type FunctionConfig struct {
	// TableName is the connections table, JobsTableName the jobs table.
	TableName     string
	JobsTableName string
	// ConnectionsEndpoint is the Management API base URL,
	// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}.
	ConnectionsEndpoint string
	// QueueURL is the fan-out queue's URL: shards are sent to it, stopped
	// records released on it.
	QueueURL string
	Split    SplitConfig
	Worker   Config
	// JobTTL is how long job items live (their expiresAt).
	JobTTL time.Duration
	// PageSize is the Scan Limit of a page.
	PageSize int
}

// ConfigFromEnv reads FunctionConfig from TABLE_NAME, JOBS_TABLE_NAME,
// CONNECTIONS_ENDPOINT (an http or https URL without query or fragment),
// FANOUT_QUEUE_URL, FANOUT_SEGMENTS (0 to 1,000,000, default 0: from the
// table's size), CONNECTIONS_PER_SEGMENT (default 5000), MAX_SEGMENTS
// (1 to 1,000,000, default 100), WORKER_POSTS_PER_SECOND (a number > 0,
// default 500), WORKER_POST_BURST (default 50), MAX_IN_FLIGHT (1 to 256,
// default 32), JOB_TTL_SECONDS (default 86400) and FANOUT_PAGE_SIZE (1 to
// 10000, default 1000). It reports every problem at once.
func ConfigFromEnv(getenv env.Getenv) (FunctionConfig, error) {
	var c FunctionConfig
	var errs [12]error
	c.TableName, errs[0] = env.Required(getenv, contract.EnvTableName)
	c.JobsTableName, errs[1] = env.Required(getenv, contract.EnvJobsTableName)
	c.ConnectionsEndpoint, errs[2] = env.URL(getenv, contract.EnvConnectionsEndpoint, urlWanted)
	c.QueueURL, errs[3] = env.URL(getenv, contract.EnvFanOutQueueURL, urlWanted)
	c.Split.Segments, errs[4] = env.Int(getenv, contract.EnvFanOutSegments, 0, 0, maxTotalShards)
	c.Split.ConnectionsPerSegment, errs[5] = env.Int(getenv, contract.EnvConnectionsPerSegment, DefaultConnectionsPerSegment, 1, math.MaxInt32)
	c.Split.MaxSegments, errs[6] = env.Int(getenv, contract.EnvMaxSegments, DefaultMaxSegments, 1, maxTotalShards)
	c.Worker.PostsPerSecond, errs[7] = positiveFloat(getenv, contract.EnvWorkerPostsPerSecond, DefaultPostsPerSecond)
	c.Worker.Burst, errs[8] = env.Int(getenv, contract.EnvWorkerPostBurst, DefaultBurst, 1, math.MaxInt32)
	c.Worker.MaxInFlight, errs[9] = env.Int(getenv, contract.EnvMaxInFlight, DefaultMaxInFlight, 1, MaxMaxInFlight)
	var ttl int
	ttl, errs[10] = env.Int(getenv, contract.EnvJobTTL, int(DefaultJobTTL/time.Second), 60, math.MaxInt32)
	c.JobTTL = time.Duration(ttl) * time.Second
	c.PageSize, errs[11] = env.Int(getenv, contract.EnvFanOutPageSize, DefaultPageSize, 1, MaxPageSize)
	if err := errors.Join(errs[:]...); err != nil {
		return FunctionConfig{}, err
	}
	return c, nil
}

// urlWanted is what the function's URLs must look like.
const urlWanted = "an https URL without query or fragment"

func positiveFloat(getenv env.Getenv, name string, def float64) (float64, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s=%q: want a number greater than 0", name, v)
	}
	return f, nil
}
