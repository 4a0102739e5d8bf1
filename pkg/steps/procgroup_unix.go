//go:build unix

package steps

import (
	"errors"
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in a new process group, so that killing
// the group also kills whatever the command started (python's children,
// shell pipelines).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup sends SIGKILL to the group led by pid. A group that is
// already gone is not an error.
func killProcessGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
