package gctune

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestDefault(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	cases := []struct {
		name string
		env  string // "" = unset
		want int
	}{
		{"unset", "", Percent},
		{"set by the user", "150", 150},
		{"off", "off", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOGC", c.env) // restored after the test
			if c.env == "" {
				os.Unsetenv("GOGC")
			} else {
				// The runtime reads GOGC at start; a test sets it here the
				// way the process would have started with it.
				debug.SetGCPercent(c.want)
			}
			if got := Default(); got != c.want {
				t.Fatalf("Default() = %d, want %d", got, c.want)
			}
			if got := debug.SetGCPercent(c.want); got != c.want {
				t.Fatalf("GC percent in effect = %d, want %d", got, c.want)
			}
		})
	}
}
