package steps

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// pyshimFS holds the Python shim and its ia_modules compatibility package.
// Explicit globs, because a directory pattern would skip __init__.py.
//
//go:embed pyshim/ia_shim.py pyshim/ia_modules/*.py pyshim/ia_modules/pipeline/*.py
var pyshimFS embed.FS

const (
	pyshimRoot   = "pyshim"
	pyshimScript = "ia_shim.py"
	// pyshimMarker is written last, so a directory holding it is complete.
	pyshimMarker = ".complete"
)

// pyshimFiles lists the embedded files (relative to pyshimRoot) and a digest
// of their names and contents, which names the install directory so that
// workers of different versions sharing a cache never mix files.
func pyshimFiles() (files []string, digest string, err error) {
	h := sha256.New()
	err = fs.WalkDir(pyshimFS, pyshimRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := pyshimFS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := p[len(pyshimRoot)+1:]
		files = append(files, rel)
		fmt.Fprintf(h, "%q %d\n", rel, len(b))
		h.Write(b)
		return nil
	})
	return files, hex.EncodeToString(h.Sum(nil))[:16], err
}

// installPyshim writes the shim under base (once per content version) and
// returns its directory. Concurrent installers, in this process or others,
// each write a temporary directory and rename it into place; the loser
// discards its copy.
func installPyshim(base string) (string, error) {
	files, digest, err := pyshimFiles()
	if err != nil {
		return "", fmt.Errorf("steps: read embedded shim: %w", err)
	}
	dir := filepath.Join(base, "pyshim-"+digest)
	if _, err := os.Stat(filepath.Join(dir, pyshimMarker)); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("steps: install shim: %w", err)
	}
	tmp, err := os.MkdirTemp(base, ".pyshim-tmp-")
	if err != nil {
		return "", fmt.Errorf("steps: install shim: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	for _, rel := range files {
		b, err := pyshimFS.ReadFile(path.Join(pyshimRoot, rel))
		if err != nil {
			return "", fmt.Errorf("steps: install shim: %w", err)
		}
		dst := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("steps: install shim: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", fmt.Errorf("steps: install shim: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, pyshimMarker), nil, 0o644); err != nil {
		return "", fmt.Errorf("steps: install shim: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, pyshimMarker)); statErr == nil {
			return dir, nil // another installer won the race
		}
		return "", fmt.Errorf("steps: install shim: %w", err)
	}
	return dir, nil
}
