package fanout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// IsThrottle reports whether err is an AWS throttling error (Throttling,
// TooManyRequestsException, RequestLimitExceeded, SlowDown, ...: the SDK's
// own list), anywhere in err's chain.
func IsThrottle(err error) bool {
	return err != nil && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// Retryable reports whether err is worth another attempt by the SDK's
// classification: connection errors, HTTP 500/502/503/504, RequestTimeout,
// throttling. Cancellation, access denied, invalid parameters, a command's
// non-zero exit are not.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// Limiter spaces calls to a rate shared by every goroutine and every SDK
// client it is installed in: a token bucket (golang.org/x/time/rate) of
// PerSecond tokens a second and Burst tokens at most. A nil *Limiter does
// not limit.
//
// Installed in an SDK client (APIOption, STSOptions) it takes one token per
// attempt, retries included, so that a run's STS calls stay under the rate
// however many workers and refreshes ask at once.
type Limiter struct {
	r *rate.Limiter
}

// NewLimiter returns a limiter of perSecond calls a second with bursts of
// burst (at least 1); perSecond <= 0 returns nil, no limit.
func NewLimiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	return &Limiter{r: rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))}
}

// Wait blocks until a call may go, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	return l.r.Wait(ctx)
}

// APIOption adds the limiter to an SDK client's middleware stack (the
// client options' APIOptions): every attempt waits for a token after the
// retry middleware has decided to make it.
func (l *Limiter) APIOption(stack *middleware.Stack) error {
	if l == nil {
		return nil
	}
	mw := middleware.FinalizeMiddlewareFunc("rolehop.fanout.Limiter", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if err := l.Wait(ctx); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("wait for the call rate limit: %w", err)
		}
		return next.HandleFinalize(ctx, in)
	})
	if _, ok := stack.Finalize.Get("Retry"); ok {
		return stack.Finalize.Insert(mw, "Retry", middleware.After)
	}
	return stack.Finalize.Add(mw, middleware.After)
}

// Retryer is the SDK retryer for a fleet run's clients: the standard one
// with maxAttempts attempts and backoff up to 20 s, without the client-side
// retry quota (which at thousands of accounts fails calls with "retry quota
// exceeded" after a burst of throttling, though STS would have answered).
func Retryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = 20 * time.Second
		o.RateLimiter = ratelimit.None
	})
}

// STSOptions configures an STS client for a fleet run (give it to
// session.Options.STSOptions): every attempt waits for l, and throttling is
// retried (Retryer(8)); what still fails throttled is retried by Run.
func STSOptions(l *Limiter) func(*sts.Options) {
	return func(o *sts.Options) {
		o.Retryer = Retryer(8)
		if l != nil {
			o.APIOptions = append(o.APIOptions, l.APIOption)
		}
	}
}
