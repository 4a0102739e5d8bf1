package dag

import (
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"time"
)

// retryPolicy is a step's effective retry policy: its own error_handling
// over the pipeline's, over the defaults (one attempt, 1s initial delay,
// 60s cap, base 2, jitter on).
type retryPolicy struct {
	maxAttempts     int
	initial, max    time.Duration
	base            float64
	jitter          bool
	continueOnError bool
	retryOn         []string
	noRetryOn       []string
}

func policyFor(step, global *ErrorHandling) retryPolicy {
	p := retryPolicy{maxAttempts: 1, initial: time.Second, max: time.Minute, base: 2, jitter: true}
	for _, eh := range []*ErrorHandling{global, step} {
		if eh == nil {
			continue
		}
		if eh.MaxAttempts > 0 {
			p.maxAttempts = eh.MaxAttempts
		}
		if eh.InitialDelay > 0 {
			p.initial = seconds(eh.InitialDelay)
		}
		if eh.MaxDelay > 0 {
			p.max = seconds(eh.MaxDelay)
		}
		if eh.Multiplier >= 1 {
			p.base = eh.Multiplier
		}
		if eh.Jitter != nil {
			p.jitter = *eh.Jitter
		}
		if eh == step {
			p.continueOnError = eh.ContinueOnError
		} else {
			p.continueOnError = p.continueOnError || eh.ContinueOnError
		}
		p.retryOn = append(p.retryOn, eh.RetryOn...)
		p.noRetryOn = append(p.noRetryOn, eh.NoRetryOn...)
	}
	if p.max < p.initial {
		p.max = p.initial
	}
	return p
}

// retryable decides whether a failure with this code may be retried.
func (p retryPolicy) retryable(code string, stepSays bool) bool {
	if code != "" && slices.Contains(p.noRetryOn, code) {
		return false
	}
	if code != "" && slices.Contains(p.retryOn, code) {
		return true
	}
	return stepSays
}

// Backoff returns the delay before attempt+1 after attempt failed:
// min(initial·base^(attempt-1), max), times 1+U(0, 0.5) with jitter. The
// jitter is drawn from a hash of key and attempt, so the decision is a pure
// function of its inputs (replays and schedulers agree) while different
// steps still spread out.
func (p retryPolicy) Backoff(key string, attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(p.initial) * math.Pow(p.base, float64(attempt-1))
	if d > float64(p.max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.max)
	}
	if p.jitter {
		h := fnv.New64a()
		_, _ = h.Write([]byte(key))
		_, _ = h.Write([]byte(strconv.Itoa(attempt)))
		u := float64(h.Sum64()%1_000_000) / 1_000_000
		d *= 1 + 0.5*u
	}
	return time.Duration(d)
}
