//go:build !unix

package steps

import (
	"os"
	"os/exec"
)

// Without process groups only the direct child can be killed.
func setProcessGroup(*exec.Cmd) {}

func killProcessGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil //nolint:nilerr // already gone
	}
	_ = p.Kill()
	return nil
}
