package deploytest

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/ia-modules/ia-go/internal/cli"
	"github.com/ia-modules/ia-go/pkg/service"
)

const root = "../.."

// flagsOf returns the flags binary bin accepts, from its own help.
func flagsOf(t *testing.T, bin string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	var pattern *regexp.Regexp
	switch bin {
	case "scheduler", "worker":
		role := service.Role{Name: bin, Scheduler: bin == "scheduler", Worker: bin == "worker"}
		service.Main(context.Background(), role, []string{"-h"}, nil, &errOut)
		pattern = regexp.MustCompile(`(?m)^\s+-([a-z][a-z-]*)`)
	case "api":
		require.Equal(t, 0, cli.Main(context.Background(), []string{"serve", "--help"}, &out, &errOut))
		pattern = regexp.MustCompile(`--([a-z][a-z-]*)`)
	case "ia":
		return nil // the CLI: subcommands, checked by its own tests
	default:
		t.Fatalf("unknown binary %q", bin)
	}
	var flags []string
	for _, m := range pattern.FindAllStringSubmatch(out.String()+errOut.String(), -1) {
		flags = append(flags, m[1])
	}
	require.NotEmpty(t, flags, "no flags in the help of %s", bin)
	return flags
}

// builtBinaries returns the cmd/ directories the Dockerfile builds.
func builtBinaries(t *testing.T) []string {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(root, "deploy/Dockerfile"))
	require.NoError(t, err)
	var bins []string
	for _, m := range regexp.MustCompile(`\./cmd/([a-z]+)`).FindAllStringSubmatch(string(df), -1) {
		bins = append(bins, m[1])
		_, err := os.Stat(filepath.Join(root, "cmd", m[1]))
		require.NoError(t, err, "the Dockerfile builds ./cmd/%s", m[1])
	}
	require.NotEmpty(t, bins)
	return bins
}

// readEnv returns the IA_* names the (non-test) code reads and those the
// README names.
func readEnv(t *testing.T) (code, readme map[string]bool) {
	t.Helper()
	name := regexp.MustCompile(`"(IA_[A-Z_]+)"`)
	code = map[string]bool{}
	for _, dir := range []string{"cmd", "internal", "pkg"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			for _, m := range name.FindAllSubmatch(b, -1) {
				code[string(m[1])] = true
			}
			return err
		})
		require.NoError(t, err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	readme = map[string]bool{}
	for _, m := range regexp.MustCompile("`(IA_[A-Z_]+)`").FindAllSubmatch(b, -1) {
		readme[string(m[1])] = true
	}
	return code, readme
}

// checker holds what deploy files are checked against.
type checker struct {
	t            *testing.T
	bins         []string
	flags        map[string][]string
	code, readme map[string]bool
}

func newChecker(t *testing.T) *checker {
	c := &checker{t: t, bins: builtBinaries(t), flags: map[string][]string{}}
	c.code, c.readme = readEnv(t)
	return c
}

// command checks a container command (binary, then flags and values) and
// returns the port its HTTP server listens on.
func (c *checker) command(where string, args []string) (port string) {
	t := c.t
	require.NotEmpty(t, args, "%s: no command", where)
	bin := args[0]
	require.Contains(t, c.bins, bin, "%s: the image builds no %q", where, bin)
	if _, ok := c.flags[bin]; !ok {
		c.flags[bin] = flagsOf(t, bin)
	}
	port = map[string]string{"scheduler": "9090", "worker": "9090", "api": "8080"}[bin]
	for i, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		f := strings.SplitN(strings.TrimLeft(a, "-"), "=", 2)[0]
		require.Contains(t, c.flags[bin], f, "%s: %s takes no flag %q", where, bin, a)
		if (f == "http-addr" || f == "addr") && i+2 < len(args) {
			port = args[i+2][strings.LastIndex(args[i+2], ":")+1:]
		}
	}
	return port
}

// env checks an environment variable's name.
func (c *checker) env(where, name string) {
	if !strings.HasPrefix(name, "IA_") {
		return
	}
	require.True(c.t, c.code[name], "%s: %s is read by no code", where, name)
	require.True(c.t, c.readme[name], "%s: %s is not in the README", where, name)
}

func TestCompose(t *testing.T) {
	c := newChecker(t)
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   map[string]any    `yaml:"depends_on"`
			Ports       []string          `yaml:"ports"`
			Build       *struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	require.NoError(t, yaml.Unmarshal(b, &doc))
	roles := 0
	for name, s := range doc.Services {
		for dep := range s.DependsOn {
			require.Contains(t, doc.Services, dep, "%s depends on an unknown service", name)
		}
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, "./") {
				_, err := os.Stat(filepath.Join(root, src))
				require.NoError(t, err, "%s mounts %s", name, src)
			} else {
				require.Contains(t, doc.Volumes, src, "%s mounts an undeclared volume", name)
			}
		}
		if s.Build == nil {
			continue
		}
		roles++
		_, err := os.Stat(filepath.Join(root, s.Build.Context, s.Build.Dockerfile))
		require.NoError(t, err, "%s: build", name)
		port := c.command("compose "+name, s.Command)
		for k := range s.Environment {
			c.env("compose "+name, k)
		}
		require.Contains(t, strings.Join(s.Healthcheck.Test, " "), "127.0.0.1:"+port+"/healthz", "compose %s: health check", name)
		for _, url := range []string{"IA_DATABASE_URL", "IA_QUEUE_URL", "IA_REDIS_URL"} {
			host := regexp.MustCompile(`@?([a-z]+):\d+`).FindStringSubmatch(s.Environment[url])
			require.NotNil(t, host, "compose %s: %s", name, url)
			require.Contains(t, doc.Services, host[1], "compose %s: %s names no service", name, url)
		}
	}
	require.GreaterOrEqual(t, roles, 3, "scheduler, worker and api")
}

func TestKubernetes(t *testing.T) {
	c := newChecker(t)
	dir := filepath.Join(root, "deploy/k8s")
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &kust))
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	var want []string
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" {
			want = append(want, base)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(kust.Resources))
	require.Equal(t, want, got, "kustomization.yaml lists every manifest")

	type probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
	type port struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	}
	type container struct {
		Name    string   `yaml:"name"`
		Args    []string `yaml:"args"`
		EnvFrom []struct {
			ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		} `yaml:"envFrom"`
		Env []struct {
			Name string `yaml:"name"`
		} `yaml:"env"`
		Ports          []port `yaml:"ports"`
		ReadinessProbe probe  `yaml:"readinessProbe"`
		LivenessProbe  probe  `yaml:"livenessProbe"`
	}
	type object struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Data map[string]string `yaml:"data"`
		Spec struct {
			Selector any `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec struct {
					TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
					Containers                    []container `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	var objs []object
	for _, f := range kust.Resources {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o object
			if err := dec.Decode(&o); err != nil {
				require.ErrorContains(t, err, "EOF", f)
				break
			}
			objs = append(objs, o)
		}
	}
	configMaps := map[string]bool{}
	deployments := map[string]object{}
	for _, o := range objs {
		switch o.Kind {
		case "ConfigMap":
			configMaps[o.Metadata.Name] = true
			for k := range o.Data {
				c.env("ConfigMap "+o.Metadata.Name, k)
			}
		case "Deployment":
			deployments[o.Metadata.Name] = o
		}
	}
	require.Len(t, deployments, 3, "scheduler, worker and api")
	for name, d := range deployments {
		for _, ct := range d.Spec.Template.Spec.Containers {
			where := "Deployment " + name
			listen := c.command(where, ct.Args)
			for _, e := range ct.EnvFrom {
				require.True(t, configMaps[e.ConfigMapRef.Name], "%s: no ConfigMap %s", where, e.ConfigMapRef.Name)
			}
			for _, e := range ct.Env {
				c.env(where, e.Name)
			}
			for _, pr := range []probe{ct.ReadinessProbe, ct.LivenessProbe} {
				require.Equal(t, "/healthz", pr.HTTPGet.Path, "%s: probe path", where)
				i := slices.IndexFunc(ct.Ports, func(p port) bool { return p.Name == pr.HTTPGet.Port })
				require.GreaterOrEqual(t, i, 0, "%s: probe port %q is not declared", where, pr.HTTPGet.Port)
				require.Equal(t, listen, strconv.Itoa(ct.Ports[i].ContainerPort), "%s: the probe's port is not where the process listens", where)
			}
			if ct.Args[0] == "worker" {
				grace := 30
				for i, a := range ct.Args {
					if a == "-shutdown-grace" {
						require.Equal(t, "30s", ct.Args[i+1], "%s: keep the grace in step with terminationGracePeriodSeconds", where)
					}
				}
				require.Greater(t, d.Spec.Template.Spec.TerminationGracePeriodSeconds, grace, "%s: killed before its steps finish", where)
			}
		}
	}
	for _, o := range objs {
		if o.Kind != "Service" {
			continue
		}
		sel, _ := o.Spec.Selector.(map[string]any)
		found := false
		for _, d := range deployments {
			match := len(sel) > 0
			for k, v := range sel {
				match = match && d.Spec.Template.Metadata.Labels[k] == v
			}
			found = found || match
		}
		require.True(t, found, "Service %s selects no Deployment's pods", o.Metadata.Name)
	}
}
