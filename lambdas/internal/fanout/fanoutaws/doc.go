// Package fanoutaws holds the AWS adapters of package fanout's ports: the
// connections table's parallel scan (ScanPager) and size (TableSize), the
// jobs table (Jobs: checkpoints, counters, segment counts), the Management
// API (SignedPoster; Poster over NewManagementClient) and the fan-out queue
// (Queue). Each takes a narrow interface of the SDK client it calls, so
// that tests use hand-written fakes.
//
// # Why two posters
//
// Prefer a well-kept library, and say why when none fits: Poster is the
// SDK's apigatewaymanagementapi client; SignedPoster sends the same
// request (same path, body, Content-Type, SigV4 signature from the SDK's
// own signer, same error types) with net/http, because the fanout function
// makes one such call per recipient and the SDK's operation stack costs
// more CPU than the call. BenchmarkPosters (16 in flight, through the
// local gateway, which verifies every signature; client and server on the
// same 2 cores, so posts/s are inversely the sum of their CPU per post),
// three runs each: Poster 8,453 / 9,032 / 8,959 posts/s, 427 allocations
// and 36.5 KB per post; SignedPoster 16,952 / 16,839 / 16,734 posts/s, 198
// allocations and 16.3 KB. Lambda "allocates CPU power in proportion to
// the amount of memory configured", one vCPU at 1,769 MB
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html):
// a 512 MB worker has well under one vCPU, so the client's CPU per post is
// what bounds a worker's posts per second;
// the fanout function uses SignedPoster. End to end (cmd/wsbench, a
// 100,000-recipient broadcast, the two fanout builds alternated on the
// same assembly): SignedPoster 5,372 and 6,729 deliveries/s at 182 and
// 146 µs of the fanout processes' CPU per delivery; Poster 3,704 and
// 4,483/s at 342 and 280 µs.
package fanoutaws
