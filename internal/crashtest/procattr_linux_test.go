package crashtest

import "syscall"

// sysProcAttr kills the children when the test process dies (a go test
// timeout panics without running cleanups).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
