// Package fanoutaws holds the AWS adapters of package fanout's ports: the
// connections table's parallel scan (ScanPager) and size (TableSize), the
// jobs table (Jobs: checkpoints, counters, segment counts), the Management
// API (Poster, NewManagementClient) and the fan-out queue (Queue). Each
// takes a narrow interface of the SDK client it calls, so that tests use
// hand-written fakes.
package fanoutaws
