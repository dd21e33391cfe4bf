package e2e

// Readers of the deployment files (Dockerfiles, .dockerignore, systemd
// units, Kubernetes manifests) and of the variables the binaries read, for
// the checks in deploy_test.go. Each reader handles the subset of its format
// that deploy/ uses and fails loudly on anything it does not understand.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// envVar is one entry of `backend env` / `frontend env`.
type envVar struct {
	Name    string `json:"name"`
	Default string `json:"default"`
	Help    string `json:"help"`
	Secret  bool   `json:"secret"`
}

// binaryVars runs `<binary> env`: the variables the program really reads,
// straight from its configuration table.
func binaryVars(t *testing.T, name string) map[string]envVar {
	t.Helper()
	cmd := exec.Command(Binary(t, name), "env")
	cmd.Env = minimalEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("`%s env` failed (the deploy checks need this subcommand): %v\n%s", name, err, stderr.String())
	}
	var list []envVar
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("`%s env` did not print a JSON array: %v\n%s", name, err, out)
	}
	if len(list) == 0 {
		t.Fatalf("`%s env` printed no variables", name)
	}
	vars := map[string]envVar{}
	for _, v := range list {
		vars[v.Name] = v
	}
	return vars
}

// reads reports whether the program reads name: one of its variables, or
// NAME_FILE for a secret one.
func reads(vars map[string]envVar, name string) bool {
	if _, ok := vars[name]; ok {
		return true
	}
	base, isFile := strings.CutSuffix(name, "_FILE")
	return isFile && vars[base].Secret
}

// checkEnvNames fails for every name the program does not read.
func checkEnvNames(t *testing.T, where, binary string, vars map[string]envVar, names []string) {
	t.Helper()
	for _, name := range names {
		if !reads(vars, name) {
			t.Errorf("%s sets %s, which the %s never reads (`%s env` lists what it does)", where, name, binary, binary)
		}
	}
}

// portOf is the port of a host:port listen address or of a URL.
func portOf(t *testing.T, addrOrURL string) string {
	t.Helper()
	if u, err := url.Parse(addrOrURL); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Port()
	}
	_, port, err := net.SplitHostPort(addrOrURL)
	if err != nil {
		t.Fatalf("%q is neither host:port nor a URL: %v", addrOrURL, err)
	}
	return port
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---- Dockerfiles ----

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, …
	Args string
	Line int
}

func parseDockerfile(t *testing.T, rel string) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	sc := bufio.NewScanner(strings.NewReader(readRepoFile(t, rel)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		more := strings.HasSuffix(line, `\`)
		line = strings.TrimSpace(strings.TrimSuffix(line, `\`))
		if cur == nil {
			cmd, args, _ := strings.Cut(line, " ")
			cur = &instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: n}
		} else {
			cur.Args += " " + line
		}
		if !more {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		t.Fatalf("%s: instruction at line %d ends with a continuation", rel, cur.Line)
	}
	return out
}

// copyArgs splits COPY/ADD arguments into flags, sources and destination.
func copyArgs(t *testing.T, in instruction) (flags map[string]string, sources []string, dest string) {
	t.Helper()
	flags = map[string]string{}
	var rest []string
	for _, f := range strings.Fields(in.Args) {
		if name, ok := strings.CutPrefix(f, "--"); ok && len(rest) == 0 {
			k, v, _ := strings.Cut(name, "=")
			flags[k] = v
			continue
		}
		rest = append(rest, f)
	}
	if len(rest) < 2 || strings.HasPrefix(in.Args, "[") {
		t.Fatalf("line %d: cannot read %s %s", in.Line, in.Cmd, in.Args)
	}
	return flags, rest[:len(rest)-1], rest[len(rest)-1]
}

// execForm reads a JSON-array (exec form) argument such as ENTRYPOINT's.
func execForm(t *testing.T, in instruction, args string) []string {
	t.Helper()
	var list []string
	if err := json.Unmarshal([]byte(args), &list); err != nil {
		t.Fatalf("line %d: %s %s is not in exec form (JSON array): %v", in.Line, in.Cmd, args, err)
	}
	return list
}

// envPairs reads `ENV A=1 B=2` (the key=value form only).
func envPairs(t *testing.T, in instruction) map[string]string {
	t.Helper()
	pairs := map[string]string{}
	for _, f := range strings.Fields(in.Args) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("line %d: ENV %s: use the NAME=value form", in.Line, in.Args)
		}
		pairs[k] = strings.Trim(v, `"`)
	}
	return pairs
}

// dockerignore is the pattern list of the repository's .dockerignore.
type dockerignore []string

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	var pats dockerignore
	for _, line := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are beyond this checker; list exclusions only", line)
		}
		pats = append(pats, strings.Trim(line, "/"))
	}
	return pats
}

// excludes reports whether rel (slash-separated, relative to the context)
// or one of its parent directories matches a pattern. Patterns are anchored
// at the context root; a leading **/ matches at any depth.
func (d dockerignore) excludes(rel string) bool {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for _, pat := range d {
		anyDepth := strings.HasPrefix(pat, "**/")
		pat = strings.TrimPrefix(pat, "**/")
		for start := range parts {
			if start > 0 && !anyDepth {
				break
			}
			for end := start + 1; end <= len(parts); end++ {
				if ok, _ := path.Match(pat, strings.Join(parts[start:end], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

// ---- systemd units ----

// unit maps "Section.Key" to its values in order (keys may repeat).
type unit map[string][]string

func parseUnit(t *testing.T, rel string) unit {
	t.Helper()
	u := unit{}
	section := ""
	for n, line := range strings.Split(readRepoFile(t, rel), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: cannot read %q", rel, n+1, line)
			}
			u[section+"."+strings.TrimSpace(k)] = append(u[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// last is the effective value of a single-valued setting.
func (u unit) last(key string) string {
	v := u[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// environment is every Environment= assignment of [Service].
func (u unit) environment() map[string]string {
	env := map[string]string{}
	for _, line := range u["Service.Environment"] {
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			env[k] = v
		}
	}
	return env
}

// envFileNames are the names assigned or shown commented out (# NAME=) in
// an environment file such as deploy/systemd/backend.env.example.
func envFileNames(t *testing.T, rel string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]*)=`)
	var names []string
	for _, m := range re.FindAllStringSubmatch(readRepoFile(t, rel), -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatalf("%s names no variable", rel)
	}
	return names
}

// ---- Kubernetes manifests ----

type k8sMeta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type k8sDoc struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	node       yaml.Node
	file       string
}

type k8sService struct {
	Spec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sWorkload struct {
	Spec struct {
		Replicas    *int   `yaml:"replicas"`
		ServiceName string `yaml:"serviceName"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata k8sMeta `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

// readManifests decodes every document of the given files.
func readManifests(t *testing.T, rels ...string) []k8sDoc {
	t.Helper()
	var docs []k8sDoc
	for _, rel := range rels {
		dec := yaml.NewDecoder(strings.NewReader(readRepoFile(t, rel)))
		for {
			var d k8sDoc
			err := dec.Decode(&d.node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			if err := d.node.Decode(&d); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			d.file = rel
			docs = append(docs, d)
		}
	}
	return docs
}

func (d k8sDoc) decode(t *testing.T, into any) {
	t.Helper()
	if err := d.node.Decode(into); err != nil {
		t.Fatalf("%s: %s %s: %v", d.file, d.Kind, d.Metadata.Name, err)
	}
}

// find returns the one object of that kind and name.
func find(t *testing.T, docs []k8sDoc, kind, name string) k8sDoc {
	t.Helper()
	for _, d := range docs {
		if d.Kind == kind && d.Metadata.Name == name {
			return d
		}
	}
	t.Fatalf("no %s named %q in deploy/k8s", kind, name)
	return k8sDoc{}
}

// containerPort resolves a probe's or Service's port (number or name).
func containerPort(t *testing.T, c k8sContainer, port any) int {
	t.Helper()
	switch p := port.(type) {
	case int:
		return p
	case string:
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort
			}
		}
	}
	t.Fatalf("container %s has no port %v", c.Name, port)
	return 0
}

func (c k8sContainer) env(name string) string {
	for _, e := range c.Env {
		if e.Name == name && e.Value != nil {
			return *e.Value
		}
	}
	return ""
}
