package steps

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// PythonDefault is the interpreter used when PythonConfig.Python is empty.
const PythonDefault = "python3"

// PythonConfig configures [PythonHandler].
type PythonConfig struct {
	// Python is the interpreter to run. Default PythonDefault ("python3").
	Python string
	// Paths are directories where step modules are imported from (the
	// worker's --python-path). They come after the shim's directory and
	// before any PYTHONPATH the worker inherits. Relative paths are resolved
	// against the working directory when the handler is built.
	Paths []string
	// CacheDir is where the embedded shim is written, once per shim version.
	// Default: os.UserCacheDir()/ia-go, else os.TempDir()/ia-go.
	CacheDir string
	// Exec configures the process (extra env, stdout cap, wait delay).
	Exec ExecConfig
}

// PythonHandler returns a handler that runs any step with a module through
// the embedded Python shim; the worker uses it for step classes not
// registered in Go. Each attempt starts one Python process (simple and
// isolated: nothing leaks between runs; costs the interpreter start-up), in
// the [Exec] protocol: the shim imports in.Module, builds
// in.Class(in.StepID, in.Config), sets its services and awaits
// run(data) (or execute/work) with in.Data.
//
// A Python exception fails the step; it is retryable when the shim
// classifies it so (timeouts, network and database errors; see
// ia_shim.classify), and the error is a [*ScriptError] naming the
// exception type. The handler reads no keys of the step config: per-step
// timeouts come from the engine through ctx.
func PythonHandler(cfg PythonConfig) Handler {
	paths := make([]string, 0, len(cfg.Paths))
	for _, p := range cfg.Paths {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		paths = append(paths, p)
	}
	cfg.Paths = paths
	h := &pythonHandler{cfg: cfg}
	h.install = sync.OnceValues(func() (string, error) {
		base := cfg.CacheDir
		if base == "" {
			if d, err := os.UserCacheDir(); err == nil {
				base = filepath.Join(d, "ia-go")
			} else {
				base = filepath.Join(os.TempDir(), "ia-go")
			}
		}
		return installPyshim(base)
	})
	return h
}

type pythonHandler struct {
	cfg     PythonConfig
	install func() (string, error)
}

func (h *pythonHandler) Run(ctx context.Context, in *Input) (*Output, error) {
	if in.Module == "" {
		return nil, NonRetryable(fmt.Errorf("%w: step %q (class %q)", ErrNoModule, in.StepID, in.Class))
	}
	dir, err := h.install()
	if err != nil {
		return nil, err
	}
	pythonPath := strings.Join(h.cfg.Paths, string(os.PathListSeparator))
	if inherited := cmp.Or(h.cfg.Exec.Env["PYTHONPATH"], os.Getenv("PYTHONPATH")); inherited != "" {
		pythonPath = strings.Trim(pythonPath+string(os.PathListSeparator)+inherited, string(os.PathListSeparator))
	}
	c := execCommand{
		argv: []string{cmp.Or(h.cfg.Python, PythonDefault), filepath.Join(dir, pyshimScript)},
		env: map[string]string{
			"PYTHONPATH":              pythonPath,
			"PYTHONIOENCODING":        "utf-8",
			"PYTHONUNBUFFERED":        "1",
			"PYTHONDONTWRITEBYTECODE": "1", // keep step directories clean
		},
	}
	return h.cfg.Exec.run(ctx, in, c)
}
