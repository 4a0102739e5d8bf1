package steps

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Retry policy defaults, the same as the reference engine's RetryConfig.
const (
	RetryMaxAttemptsDefault  = 3
	RetryInitialDelayDefault = time.Second
	RetryMaxDelayDefault     = 60 * time.Second
	RetryMultiplierDefault   = 2.0
)

// RetryPolicy says how often and how fast a failed step is retried. Zero
// fields take the defaults above, except Jitter, whose zero value is off.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; 1 means no retry. Default 3.
	MaxAttempts int
	// InitialDelay is the delay after the first failed attempt. Default 1s.
	InitialDelay time.Duration
	// MaxDelay caps every delay. Default 60s.
	MaxDelay time.Duration
	// Multiplier grows the delay per failed attempt; must be > 1. Default 2.
	Multiplier float64
	// Jitter multiplies each delay by 1+U(0, 0.5), as the reference does, so
	// that many failing steps do not retry in lockstep.
	Jitter bool
}

// withDefaults returns a copy of p with zero fields defaulted.
func (p RetryPolicy) withDefaults() RetryPolicy {
	p.MaxAttempts = cmp.Or(p.MaxAttempts, RetryMaxAttemptsDefault)
	p.InitialDelay = cmp.Or(p.InitialDelay, RetryInitialDelayDefault)
	p.MaxDelay = cmp.Or(p.MaxDelay, RetryMaxDelayDefault)
	p.Multiplier = cmp.Or(p.Multiplier, RetryMultiplierDefault)
	return p
}

// Validate checks the reference engine's constraints after defaulting.
func (p *RetryPolicy) Validate() error {
	d := p.withDefaults()
	switch {
	case d.MaxAttempts < 1:
		return fmt.Errorf("%w: max_attempts %d < 1", ErrInvalidConfig, d.MaxAttempts)
	case d.InitialDelay < 0:
		return fmt.Errorf("%w: initial_delay %s < 0", ErrInvalidConfig, d.InitialDelay)
	case d.MaxDelay < d.InitialDelay:
		return fmt.Errorf("%w: max_delay %s < initial_delay %s", ErrInvalidConfig, d.MaxDelay, d.InitialDelay)
	case d.Multiplier <= 1:
		return fmt.Errorf("%w: multiplier %g <= 1", ErrInvalidConfig, d.Multiplier)
	}
	return nil
}

// Delay returns the wait after failed attempt n (1-based):
// min(InitialDelay·Multiplier^(n−1), MaxDelay), times 1+U(0,0.5) with Jitter.
func (p *RetryPolicy) Delay(n int) time.Duration {
	d := p.withDefaults()
	n = max(n, 1)
	delay := float64(d.InitialDelay) * math.Pow(d.Multiplier, float64(n-1))
	delay = min(delay, float64(d.MaxDelay))
	if d.Jitter {
		delay *= 1 + rand.Float64()*0.5 //nolint:gosec // jitter needs no crypto randomness
	}
	return time.Duration(delay)
}
