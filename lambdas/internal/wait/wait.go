// Package wait is the one context-aware sleep the functions' retry loops
// share (the fan-out worker's backoff, the account custom resource's
// retries): time.Sleep cannot be cut short when the invocation's context
// ends.
package wait

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx is done and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
