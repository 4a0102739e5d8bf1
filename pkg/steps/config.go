package steps

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Config readers shared by the built-ins. Values come from JSON, so numbers
// arrive as float64 (or int when a Go caller builds the map).

// configDuration reads a duration given as a Go duration string ("250ms") or
// a number of seconds. ok is false when the key is absent.
func configDuration(cfg map[string]any, key string) (d time.Duration, ok bool, err error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch v := v.(type) {
	case string:
		d, err = time.ParseDuration(v)
		if err != nil {
			// Allow "1.5" as seconds, as a number would be.
			f, ferr := strconv.ParseFloat(v, 64)
			if ferr != nil {
				return 0, true, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, key, err)
			}
			return secondsToDuration(f), true, nil
		}
	default:
		f, fok := toFloat(v)
		if !fok {
			return 0, true, fmt.Errorf("%w: %s: want duration string or seconds, got %T", ErrInvalidConfig, key, v)
		}
		d = secondsToDuration(f)
	}
	if d < 0 {
		return 0, true, fmt.Errorf("%w: %s: negative duration %s", ErrInvalidConfig, key, d)
	}
	return d, true, nil
}

func secondsToDuration(f float64) time.Duration {
	return time.Duration(math.Round(f * float64(time.Second)))
}

func configInt(cfg map[string]any, key string) (n int, ok bool, err error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	f, fok := toFloat(v)
	if !fok || f != math.Trunc(f) {
		return 0, true, fmt.Errorf("%w: %s: want integer, got %v", ErrInvalidConfig, key, v)
	}
	return int(f), true, nil
}

func configBool(cfg map[string]any, key string) (b, ok bool, err error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return false, false, nil
	}
	b, bok := v.(bool)
	if !bok {
		return false, true, fmt.Errorf("%w: %s: want bool, got %T", ErrInvalidConfig, key, v)
	}
	return b, true, nil
}

func configString(cfg map[string]any, key string) (s string, ok bool, err error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return "", false, nil
	}
	s, sok := v.(string)
	if !sok {
		return "", true, fmt.Errorf("%w: %s: want string, got %T", ErrInvalidConfig, key, v)
	}
	return s, true, nil
}

// configStrings reads a list of strings.
func configStrings(cfg map[string]any, key string) (ss []string, ok bool, err error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return nil, false, nil
	}
	switch v := v.(type) {
	case []string:
		return v, true, nil
	case []any:
		ss = make([]string, 0, len(v))
		for i, e := range v {
			s, sok := e.(string)
			if !sok {
				return nil, true, fmt.Errorf("%w: %s[%d]: want string, got %T", ErrInvalidConfig, key, i, e)
			}
			ss = append(ss, s)
		}
		return ss, true, nil
	}
	return nil, true, fmt.Errorf("%w: %s: want list of strings, got %T", ErrInvalidConfig, key, v)
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}
