package apigwaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"wsapi/lambdas/internal/wait"
)

// Retry bounds. The wait before try n+1 is drawn from [d/2, d] with
// d = min(FirstDelay*2^(n-1), MaxDelay): exponential, with jitter so that
// two deploys that collided do not retry in step.
const (
	FirstDelay = time.Second
	MaxDelay   = 20 * time.Second
	// Margin is kept free before the invocation's deadline: the function
	// must still send its answer to CloudFormation, or the stack waits for
	// the custom resource's timeout (an hour by default).
	Margin = 10 * time.Second
	// NoDeadlineBudget bounds the work when the context has no deadline,
	// which a Lambda invocation always has; it keeps other callers bounded.
	NoDeadlineBudget = 2 * time.Minute
)

// retryPolicy is the retry configuration; tests shorten it.
type retryPolicy struct {
	first, max, margin, noDeadline time.Duration
}

var defaultRetry = retryPolicy{first: FirstDelay, max: MaxDelay, margin: Margin, noDeadline: NoDeadlineBudget}

// clock is time as the handler sees it; tests replace it so that retries
// take no real time.
type clock struct {
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(n int64) int64 // uniform in [0, n)
}

var realClock = clock{now: time.Now, sleep: wait.Sleep, jitter: rand.Int64N}

// errOutOfTime marks an error that ended the retries because the time
// budget (the invocation's deadline less the margin) ran out.
var errOutOfTime = errors.New("out of time")

// budget returns ctx bounded by the time the work must end: the
// invocation's deadline less the margin. Every AWS call runs under it, so a
// slow call cannot eat the time kept for answering CloudFormation.
func (h *Handler) budget(ctx context.Context) (context.Context, context.CancelFunc, error) {
	now := h.clock.now()
	stopAt := now.Add(h.retry.noDeadline)
	if deadline, ok := ctx.Deadline(); ok {
		stopAt = deadline.Add(-h.retry.margin)
		if !stopAt.After(now) {
			return nil, nil, fmt.Errorf("%w: the invocation ends in %s, within the %s kept for answering CloudFormation; raise the function's timeout",
				errOutOfTime, deadline.Sub(now).Round(time.Millisecond), h.retry.margin)
		}
	}
	ctx, cancel := context.WithDeadline(ctx, stopAt)
	return ctx, cancel, nil
}

// do calls op until it succeeds, fails with an error retryable rejects, or
// the next try could not start before ctx's deadline (the budget). what
// names the step in errors and logs.
func (h *Handler) do(ctx context.Context, log *slog.Logger, what string, retryable func(error) bool, op func(context.Context) error) error {
	stopAt, _ := ctx.Deadline()
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return h.outOfTime(what, attempt, err)
		}
		if !retryable(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		delay := h.backoff(attempt)
		if h.clock.now().Add(delay).After(stopAt) {
			return h.outOfTime(what, attempt, err)
		}
		log.WarnContext(ctx, "retrying", "step", what, "attempt", attempt, "delay", delay.String(), "error", err.Error())
		if h.clock.sleep(ctx, delay) != nil {
			return h.outOfTime(what, attempt, err)
		}
	}
}

func (h *Handler) outOfTime(what string, attempts int, last error) error {
	return fmt.Errorf("%s: gave up after %d attempts, %w: no further attempt fits before the invocation's deadline less %s (kept for answering CloudFormation); last error: %w",
		what, attempts, errOutOfTime, h.retry.margin, last)
}

// backoff is the wait after the attempt-th failure.
func (h *Handler) backoff(attempt int) time.Duration {
	d := h.retry.max
	if attempt < 32 {
		d = min(h.retry.first<<(attempt-1), h.retry.max)
	}
	half := int64(d / 2)
	return time.Duration(half + h.clock.jitter(half+1))
}

// throttled reports a rate limit: API Gateway's 429s (TooManyRequests, and
// LimitExceeded, which UpdateAccount documents as "exceeded the rate
// limit") or IAM's Throttling.
func throttled(err error) bool {
	var tooMany *agtypes.TooManyRequestsException
	var limit *agtypes.LimitExceededException
	if errors.As(err, &tooMany) || errors.As(err, &limit) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded":
			return true
		}
	}
	return false
}

// retryableIAM: a rate limit, or two deploys changing the one shared role at
// once (ConcurrentModification), or a role another deploy just created that
// IAM does not show yet.
func retryableIAM(err error) bool {
	var concurrent *iamtypes.ConcurrentModificationException
	return throttled(err) || errors.As(err, &concurrent) || errors.Is(err, errRoleNotVisible)
}

// retryableAccount: a rate limit, a conflicting concurrent change, or the
// BadRequest API Gateway answers while a new role is not yet usable by it.
func retryableAccount(err error) bool {
	var conflict *agtypes.ConflictException
	return throttled(err) || errors.As(err, &conflict) || roleNotYetUsable(err)
}

// roleNotYetUsable matches the BadRequestException UpdateAccount answers
// when API Gateway cannot assume the role or the role lacks its policy:
// "The role ARN does not have required permissions configured. Please grant
// trust permission for API Gateway and add the required role policy." (also
// seen as "... permissions set to API Gateway"). Right after CreateRole and
// AttachRolePolicy that is IAM's propagation delay, typically seconds. Other
// BadRequests (a malformed patch, say) are not retried.
func roleNotYetUsable(err error) bool {
	var bad *agtypes.BadRequestException
	return errors.As(err, &bad) && strings.Contains(strings.ToLower(bad.ErrorMessage()), "role arn")
}
