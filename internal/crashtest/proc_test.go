//go:build unix

package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binaries are the programs the crash test runs, built once per test run.
type binaries struct {
	scheduler, worker, natsServer string
}

// buildBinaries builds the scheduler, the test worker and nats-server into
// dir from the module root. They are built without -race even when the test
// runs with it: the race detector would slow the children, not check them.
func buildBinaries(t *testing.T, dir string) binaries {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("crashtest: the go command is needed to build the binaries: %v", err)
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("crashtest: go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	b := binaries{
		scheduler:  filepath.Join(dir, "scheduler"),
		worker:     filepath.Join(dir, "testworker"),
		natsServer: filepath.Join(dir, "nats-server"),
	}
	for pkg, dst := range map[string]string{
		"./cmd/scheduler":                   b.scheduler,
		"./internal/crashtest/testworker":   b.worker,
		"github.com/nats-io/nats-server/v2": b.natsServer,
	} {
		cmd := exec.Command(goBin, "build", "-o", dst, pkg)
		cmd.Dir = root
		// GOFLAGS=-race in the environment must not reach the children.
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("crashtest: go build %s: %v\n%s", pkg, err, out)
		}
	}
	return b
}

// proc is one supervised child process: whenever it exits it is started
// again (at once after a kill by the chaos loop, after restartBackoff when
// it exited on its own, e.g. because the broker was down), like a service
// manager with Restart=always, until stop.
type proc struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string

	mu        sync.Mutex
	cmd       *exec.Cmd
	killed    bool // the current process was killed by us
	stopped   bool
	starts    int
	selfExits []string // exits not caused by a kill: "exit status 1" ...
	done      chan struct{}
}

const restartBackoff = 100 * time.Millisecond

func newProc(name, path string, args, env []string, dir string) *proc {
	return &proc{name: name, path: path, args: args, env: env, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
}

// supervise runs the process until stop. It returns at once; the loop runs
// in a goroutine that closes p.done when it ends.
func (p *proc) supervise() {
	go func() {
		defer close(p.done)
		for {
			exited, err := p.startOnce()
			if err == nil {
				<-exited
			}
			p.mu.Lock()
			stopped, killed := p.stopped, p.killed
			p.mu.Unlock()
			if stopped {
				return
			}
			if !killed || err != nil {
				time.Sleep(restartBackoff)
			}
		}
	}()
}

// startOnce starts one incarnation and returns a channel closed when it
// has exited (and its exit is logged).
func (p *proc) startOnce() (<-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil, errors.New("stopped")
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.selfExits = append(p.selfExits, "log: "+err.Error())
		return nil, err
	}
	p.starts++
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	fmt.Fprintf(logf, "=== crashtest: start #%d of %s at %s\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(logf, "=== crashtest: start failed: %v\n", err)
		_ = logf.Close()
		p.selfExits = append(p.selfExits, "start: "+err.Error())
		return nil, err
	}
	p.cmd, p.killed = cmd, false
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		err := cmd.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cmd = nil
		fmt.Fprintf(logf, "=== crashtest: pid %d exited: %v (killed by the test: %v) at %s\n", cmd.Process.Pid, err, p.killed || p.stopped, time.Now().Format(time.RFC3339Nano))
		_ = logf.Close()
		if !p.killed && !p.stopped {
			p.selfExits = append(p.selfExits, fmt.Sprint(err))
		}
	}()
	return exited, nil
}

// signal sends sig to the running incarnation; false when none runs.
func (p *proc) signal(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.stopped {
		return false
	}
	p.killed = true
	return p.cmd.Process.Signal(sig) == nil
}

// stop ends supervision and kills the process.
func (p *proc) stop() {
	p.mu.Lock()
	p.stopped = true
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	p.mu.Unlock()
	<-p.done
}

func (p *proc) stats() (starts int, selfExits []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, append([]string(nil), p.selfExits...)
}

// tail returns the last n lines of the process log.
func (p *proc) tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = lines[len(lines)-n:]
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grep returns the first line of the process log containing s and the n
// lines after it.
func (p *proc) grep(s string, n int) string {
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		if strings.Contains(l, s) {
			return strings.Join(lines[i:min(len(lines), i+n+1)], "\n")
		}
	}
	return "(" + s + " not found in " + p.logPath + ")"
}

// freePort returns a TCP port on the loopback that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("crashtest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitDial waits until addr accepts TCP connections.
func waitDial(ctx context.Context, addr string) error {
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not reachable: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
