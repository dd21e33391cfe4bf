package e2e

// Checks of the PostgreSQL variants of the deployment files: the compose
// profile "postgres" and the Kubernetes overlay deploy/k8s-postgres.

import (
	"context"
	"maps"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadComposeProfile is loadCompose with profiles active.
func loadComposeProfile(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  RepoRoot(),
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(RepoRoot(), "docker-compose.yml")}},
		Environment: maps.Clone(env),
	}, func(o *loader.Options) {
		o.SetProjectName("duckgate", true)
		o.Profiles = profiles
	})
	if err != nil {
		t.Fatalf("docker-compose.yml does not load with profiles %v: %v", profiles, err)
	}
	return p
}

var pgReplicas = []string{"backend-pg-1", "backend-pg-2"}

// Without the profile nothing of it runs: the DuckDB default is unchanged.
func TestComposePostgresProfileIsOffByDefault(t *testing.T) {
	p := loadCompose(t, nil)
	for _, name := range append([]string{"postgres", "frontend-pg"}, pgReplicas...) {
		if _, ok := p.Services[name]; ok {
			t.Errorf("%s runs without the postgres profile", name)
		}
	}
	if env := composeEnv(composeService(t, p, "backend")); env["DATABASE_URL"] != "" {
		t.Errorf("the default backend has DATABASE_URL=%q, want DuckDB", env["DATABASE_URL"])
	}
}

// The profile: the official postgres image on a volume with a health check,
// two backend replicas on it sharing a signing key, and a frontend in front
// of both; the replicas' settings are the backend's but for what PostgreSQL
// needs, and every one of them is a variable the backend reads.
func TestComposePostgresProfileRunsTwoReplicasBehindAFrontend(t *testing.T) {
	p := loadComposeProfile(t, map[string]string{"POSTGRES_PASSWORD": "from-env-pw"}, "postgres")
	pgs := composeService(t, p, "postgres")
	if !strings.HasPrefix(pgs.Image, "postgres:") {
		t.Errorf("postgres image %q, want the official postgres image", pgs.Image)
	}
	if hc := pgs.HealthCheck; hc == nil || hc.Disable || !strings.Contains(strings.Join(hc.Test, " "), "pg_isready") {
		t.Errorf("postgres health check %+v, want pg_isready", pgs.HealthCheck)
	}
	var dataVolume string
	for _, v := range pgs.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == "/var/lib/postgresql/data" {
			dataVolume = v.Source
		}
	}
	if _, ok := p.Volumes[dataVolume]; dataVolume == "" || !ok {
		t.Errorf("postgres keeps its data on no declared named volume: %+v", pgs.Volumes)
	}
	if env := composeEnv(pgs); env["POSTGRES_PASSWORD"] != "from-env-pw" {
		t.Errorf("POSTGRES_PASSWORD from the environment became %q", env["POSTGRES_PASSWORD"])
	}
	if env := composeEnv(composeService(t, loadComposeProfile(t, nil, "postgres"), "postgres")); env["POSTGRES_PASSWORD"] != "" {
		t.Error("docker-compose.yml commits a PostgreSQL password")
	}

	vars := binaryVars(t, "backend")
	base := composeEnv(composeService(t, p, "backend"))
	keyVolumes := map[string]bool{}
	for _, name := range pgReplicas {
		s := composeService(t, p, name)
		env := composeEnv(s)
		checkEnvNames(t, "docker-compose.yml ("+name+")", "backend", vars, slices.Collect(maps.Keys(env)))
		u, err := url.Parse(env["DATABASE_URL"])
		if err != nil || u.Scheme != "postgres" || u.Hostname() != "postgres" || u.Port() != "5432" {
			t.Errorf("%s: DATABASE_URL=%q does not name the postgres service", name, env["DATABASE_URL"])
		} else if pw, _ := u.User.Password(); pw != "from-env-pw" {
			t.Errorf("%s: DATABASE_URL does not carry POSTGRES_PASSWORD", name)
		}
		if env["BACKUP_INTERVAL"] != "0" {
			t.Errorf("%s: BACKUP_INTERVAL=%q; scheduled backups are DuckDB's and refused on PostgreSQL", name, env["BACKUP_INTERVAL"])
		}
		for k, v := range base {
			if _, own := map[string]bool{"DATABASE_URL": true, "BACKUP_INTERVAL": true}[k]; !own && env[k] != v {
				t.Errorf("%s: %s=%q, the backend service has %q", name, k, env[k], v)
			}
		}
		if dep, ok := s.DependsOn["postgres"]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s does not wait for a healthy postgres", name)
		}
		if hc := s.HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD", imageBinary(t, "backend"), "healthcheck"}) {
			t.Errorf("%s: health check %+v", name, s.HealthCheck)
		}
		if len(s.Ports) > 0 {
			t.Errorf("%s publishes %+v", name, s.Ports)
		}
		for _, v := range s.Volumes {
			if v.Target == "/data" && strings.HasPrefix(env["JWT_KEY_FILE"], "/data/") {
				keyVolumes[v.Source] = true
			}
		}
	}
	if len(keyVolumes) != 1 || keyVolumes["data"] {
		t.Errorf("the replicas must share one signing-key volume of their own (not DuckDB's), got %v", keyVolumes)
	}

	fe := composeService(t, p, "frontend-pg")
	env := composeEnv(fe)
	checkEnvNames(t, "docker-compose.yml (frontend-pg)", "frontend", binaryVars(t, "frontend"), slices.Collect(maps.Keys(env)))
	var targets []string
	for _, b := range strings.Split(env["BACKEND_URL"], ",") {
		u, err := url.Parse(strings.TrimSpace(b))
		if err != nil || u.Port() != "8000" {
			t.Errorf("frontend-pg BACKEND_URL entry %q", b)
			continue
		}
		targets = append(targets, u.Hostname())
		if dep, ok := fe.DependsOn[u.Hostname()]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("frontend-pg does not wait for a healthy %s", u.Hostname())
		}
	}
	if !slices.Equal(targets, pgReplicas) {
		t.Errorf("frontend-pg BACKEND_URL names %v, want both replicas %v", targets, pgReplicas)
	}
	if len(fe.Ports) != 1 || fe.Ports[0].Target != 8080 || fe.Ports[0].Published == composeService(t, p, "frontend").Ports[0].Published {
		t.Errorf("frontend-pg ports %+v: want 8080 published on a port of its own", fe.Ports)
	}
}

// The Kubernetes PostgreSQL variant is an overlay of deploy/k8s that puts
// a Deployment of several backend replicas, rolled one ready pod at a time,
// in place of the DuckDB StatefulSet.
func TestKubernetesPostgresVariantRunsSeveralBackends(t *testing.T) {
	var kust struct {
		Resources []string `yaml:"resources"`
		Patches   []struct {
			Patch string `yaml:"patch"`
		} `yaml:"patches"`
	}
	readManifests(t, "deploy/k8s-postgres/kustomization.yaml")[0].decode(t, &kust)
	if !slices.Contains(kust.Resources, "../k8s") || !slices.Contains(kust.Resources, "backend.yaml") {
		t.Fatalf("deploy/k8s-postgres resources %v: want ../k8s and backend.yaml", kust.Resources)
	}
	if len(kust.Patches) != 1 || !strings.Contains(kust.Patches[0].Patch, "$patch: delete") || !strings.Contains(kust.Patches[0].Patch, "kind: StatefulSet") {
		t.Fatalf("deploy/k8s-postgres must delete the DuckDB StatefulSet: %+v", kust.Patches)
	}

	_, base := k8sFiles(t)
	docs := append(readManifests(t, base...), readManifests(t, "deploy/k8s-postgres/backend.yaml")...)
	var backend k8sWorkload
	find(t, docs, "Deployment", "backend").decode(t, &backend)
	var extra struct {
		Spec struct {
			Strategy struct {
				Type          string `yaml:"type"`
				RollingUpdate struct {
					MaxUnavailable any `yaml:"maxUnavailable"`
				} `yaml:"rollingUpdate"`
			} `yaml:"strategy"`
			Template struct {
				Spec struct {
					Volumes []struct {
						Name   string `yaml:"name"`
						Secret *struct {
							SecretName string `yaml:"secretName"`
						} `yaml:"secret"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	find(t, docs, "Deployment", "backend").decode(t, &extra)
	if r := backend.Spec.Replicas; r == nil || *r < 2 {
		t.Errorf("backend Deployment replicas %s, want several", show(r))
	}
	if s := extra.Spec.Strategy; s.Type != "RollingUpdate" || s.RollingUpdate.MaxUnavailable != 0 {
		t.Errorf("backend rollout %+v: want RollingUpdate with maxUnavailable 0 (a new pod ready before an old one goes)", s)
	}
	c := onlyContainer(t, "backend", backend)
	vars := binaryVars(t, "backend")
	checkWorkload(t, "backend", "BACKEND_ADDR", "8000", backend, c, vars)
	var secret struct {
		StringData map[string]string `yaml:"stringData"`
	}
	find(t, docs, "Secret", "duckgate-secrets").decode(t, &secret)
	dbFromSecret := false
	for _, e := range c.Env {
		switch {
		case e.Name == "DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			_, listed := secret.StringData[e.ValueFrom.SecretKeyRef.Key]
			dbFromSecret = e.ValueFrom.SecretKeyRef.Name == "duckgate-secrets" && listed
		case e.ValueFrom == nil && vars[e.Name].Secret:
			t.Errorf("backend (postgres): secret %s set inline", e.Name)
		case e.Name == "BACKUP_INTERVAL" || e.Name == "DUCKDB_PATH":
			t.Errorf("backend (postgres) sets %s, a DuckDB setting", e.Name)
		}
	}
	if !dbFromSecret {
		t.Error("backend (postgres) does not take DATABASE_URL from the duckgate-secrets Secret")
	}
	keyDir := ""
	for _, m := range c.VolumeMounts {
		for _, v := range extra.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				keyDir = m.MountPath
			}
		}
	}
	if keyDir == "" || !strings.HasPrefix(c.env("JWT_KEY_FILE"), keyDir+"/") {
		t.Errorf("JWT_KEY_FILE=%q is not on a mounted Secret (%q): every replica must sign with one key", c.env("JWT_KEY_FILE"), keyDir)
	}
	var svc k8sService
	find(t, docs, "Service", "backend").decode(t, &svc)
	for k, v := range svc.Spec.Selector {
		if backend.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the backend Service selects %s=%s, which the Deployment's pods do not carry", k, v)
		}
	}

	// With kubectl at hand, build the overlay as kustomize would.
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not installed: deploy/k8s-postgres checked by parsing only")
		return
	}
	cmd := exec.Command(kubectl, "kustomize", filepath.Join(RepoRoot(), "deploy/k8s-postgres"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize deploy/k8s-postgres: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "kind: StatefulSet") || !strings.Contains(string(out), "image: duckgate-backend:") {
		t.Errorf("the built overlay still has the StatefulSet or no tagged backend image:\n%s", out)
	}
}
