// Package archtest enforces the import boundaries that keep the layers
// honest: pkg/dag is pure (no I/O), pkg/steps knows no broker or database,
// and only the backend packages import their drivers.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{else}}std:{{.ImportPath}}{{end}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func TestImportBoundaries(t *testing.T) {
	t.Parallel()
	drivers := []string{"github.com/nats-io/", "github.com/hibiken/asynq", "github.com/redis/", "github.com/jackc/", "modernc.org/sqlite", "std:database/sql"}
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"github.com/ia-modules/ia-go/pkg/dag", append([]string{"std:net", "std:net/http", "std:os/exec", "std:os/signal", "github.com/ia-modules/ia-go/pkg/state", "github.com/ia-modules/ia-go/pkg/queue"}, drivers...)},
		{"github.com/ia-modules/ia-go/pkg/steps", append([]string{"github.com/ia-modules/ia-go/pkg/state", "github.com/ia-modules/ia-go/pkg/queue"}, drivers...)},
		{"github.com/ia-modules/ia-go/pkg/queue", drivers},
		{"github.com/ia-modules/ia-go/pkg/state", drivers},
		{"github.com/ia-modules/ia-go/pkg/scheduler", drivers},
		{"github.com/ia-modules/ia-go/pkg/worker", drivers},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			t.Parallel()
			for _, d := range deps(t, tc.pkg) {
				for _, f := range tc.forbidden {
					// "x/" forbids a whole module tree; anything else is one package.
					if d == f || strings.HasSuffix(f, "/") && strings.HasPrefix(d, f) || !strings.HasPrefix(f, "std:") && strings.HasPrefix(d, f+"/") {
						t.Errorf("%s depends on %s, which it must not", tc.pkg, d)
					}
				}
			}
		})
	}
}
