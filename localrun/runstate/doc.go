// Package runstate records the local runs (`wslocal dev`) that share a state
// directory, so `wslocal token` can find the run it is asked for and tell a
// live run from the leftovers of a dead one.
//
// Layout, inside the state directory (default .wslocal):
//
//	signing-key.pem, ca*.pem, server*.pem   the issuer's keys (package devissuer), shared by every run
//	runs/<port>.json                        one live run: its URLs, audience and pid; <port> is its WebSocket port
//	runs/<port>.lock                        held (flock) by that run's process for as long as it runs
//
// Sharing the keys is safe: each run's issuer has its own URL (its port),
// tokens carry that URL in "iss", and the authorizer of a run accepts only
// its own issuer, so a token minted for one run is refused by another
// (401, bad_issuer) even though the signature would verify.
//
// A run is alive while its process holds the lock on runs/<port>.lock. The
// kernel drops the lock when the process dies, however it dies, so a crashed
// run's files are recognised as stale (and removed) by the next reader. A
// run that stops cleanly removes its files itself (Registration.Close).
// Where flock is unavailable (Windows), every recorded run counts as
// possibly alive; the token command then relies on the issuer answering.
package runstate
