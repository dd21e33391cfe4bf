package e2e

// Checks of the deployment files (docker-compose.yml, deploy/): there is no
// container engine or cluster on the test machines, so these parse the
// files and hold them against the binaries themselves — the variables they
// read (`backend env`, `frontend env`), the build the Makefile defines, and
// the health checks the binaries answer.

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// The services of the system: binary name, its listen-address variable, and
// its port inside containers.
var services = []struct{ name, addrVar, port string }{
	{"backend", "BACKEND_ADDR", "8000"},
	{"frontend", "FRONTEND_ADDR", "8080"},
}

// ---- docker compose ----

// loadCompose parses docker-compose.yml the way `docker compose` does, with
// only env as the environment (no .env file, nothing from the developer's
// shell).
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  RepoRoot(),
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(RepoRoot(), "docker-compose.yml")}},
		Environment: maps.Clone(env), // the loader adds to it
	}, func(o *loader.Options) { o.SetProjectName("duckgate", true) })
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func composeService(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no %s service", name)
	}
	return s
}

func composeEnv(s types.ServiceConfig) map[string]string {
	env := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	return env
}

// What the containers need that differs from the binaries' defaults (which
// suit a developer's machine); every other value must be the default.
var containerOverrides = map[string][]string{
	"backend":  {"BACKEND_ADDR", "DUCKDB_PATH", "JWT_KEY_FILE", "TRUSTED_PROXIES", "BACKUP_DIR"},
	"frontend": {"FRONTEND_ADDR", "BACKEND_URL"},
}

func TestComposeRunsBothServicesFromTheirDockerfiles(t *testing.T) {
	p := loadCompose(t, nil)
	for _, svc := range services {
		s := composeService(t, p, svc.name)
		if s.Build == nil || s.Build.Context != RepoRoot() {
			t.Errorf("%s: build context must be the repository root (go.work joins the modules), got %+v", svc.name, s.Build)
			continue
		}
		want := "deploy/" + svc.name + ".Dockerfile"
		if s.Build.Dockerfile != want {
			t.Errorf("%s: dockerfile %q, want %q", svc.name, s.Build.Dockerfile, want)
		}
		if _, err := os.Stat(filepath.Join(RepoRoot(), want)); err != nil {
			t.Errorf("%s: %v", svc.name, err)
		}
		if s.Image == "" {
			t.Errorf("%s: no image name, so the built image cannot be run alone", svc.name)
		}
		if env := composeEnv(s); portOf(t, env[svc.addrVar]) != svc.port {
			t.Errorf("%s: %s=%q, want port %s", svc.name, svc.addrVar, env[svc.addrVar], svc.port)
		}
	}
}

func TestComposeHealthChecksUseTheBinaries(t *testing.T) {
	p := loadCompose(t, nil)
	for _, svc := range services {
		s := composeService(t, p, svc.name)
		hc := s.HealthCheck
		if hc == nil || hc.Disable {
			t.Errorf("%s: no health check", svc.name)
			continue
		}
		want := []string{"CMD", imageBinary(t, svc.name), "healthcheck"}
		if !slices.Equal([]string(hc.Test), want) {
			t.Errorf("%s: health check %q, want %q (no curl in the image)", svc.name, hc.Test, want)
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
			t.Errorf("%s: health check lacks interval, timeout or retries", svc.name)
		}
	}
	dep, ok := composeService(t, p, "frontend").DependsOn["backend"]
	if !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("frontend must wait for a healthy backend: depends_on %+v", dep)
	}
}

func TestComposePublishesOnlyTheFrontend(t *testing.T) {
	p := loadCompose(t, nil)
	if ports := composeService(t, p, "backend").Ports; len(ports) > 0 {
		t.Errorf("backend publishes %+v; only the frontend should, by default", ports)
	}
	ports := composeService(t, p, "frontend").Ports
	if len(ports) != 1 || ports[0].Target != 8080 || ports[0].Published != "8080" {
		t.Errorf("frontend ports %+v, want 8080 published as 8080", ports)
	}
	if got := loadCompose(t, map[string]string{"FRONTEND_PORT": "9090"}).Services["frontend"].Ports; len(got) != 1 || got[0].Published != "9090" {
		t.Errorf("FRONTEND_PORT=9090 published %+v", got)
	}
	// The frontend reaches the backend by its service name and port.
	be := composeEnv(composeService(t, p, "backend"))
	fe := composeEnv(composeService(t, p, "frontend"))
	if fe["BACKEND_URL"] != "http://backend:"+portOf(t, be["BACKEND_ADDR"]) {
		t.Errorf("BACKEND_URL=%q does not name the backend service at BACKEND_ADDR's port (%s)", fe["BACKEND_URL"], be["BACKEND_ADDR"])
	}
}

func TestComposeKeepsTheDatabaseOnANamedVolume(t *testing.T) {
	p := loadCompose(t, nil)
	be := composeService(t, p, "backend")
	var mount string
	for _, v := range be.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == "/data" {
			mount = v.Source
		}
	}
	if mount == "" {
		t.Fatalf("backend mounts no named volume at /data: %+v", be.Volumes)
	}
	if _, ok := p.Volumes[mount]; !ok {
		t.Errorf("volume %q is not declared at the top level", mount)
	}
	env := composeEnv(be)
	for _, name := range []string{"DUCKDB_PATH", "JWT_KEY_FILE", "BACKUP_DIR"} {
		if !strings.HasPrefix(env[name], "/data/") {
			t.Errorf("%s=%q is not on the /data volume", name, env[name])
		}
	}
}

// Every variable the compose file sets is one the binaries read, every one
// they read is in the file (set, or commented out with its default), and a
// value is the binary's default unless the container needs another.
func TestComposeEnvironmentMatchesTheBinaries(t *testing.T) {
	p := loadCompose(t, nil)
	raw := readRepoFile(t, "docker-compose.yml")
	for _, svc := range services {
		vars := binaryVars(t, svc.name)
		env := composeEnv(composeService(t, p, svc.name))
		checkEnvNames(t, "docker-compose.yml ("+svc.name+")", svc.name, vars, slices.Collect(maps.Keys(env)))
		for name, v := range vars {
			value, set := env[name]
			if !set {
				if !regexp.MustCompile(`(?m)^\s*#\s*` + name + `:`).MatchString(raw) {
					t.Errorf("%s reads %s, which docker-compose.yml neither sets nor shows commented out", svc.name, name)
				}
				continue
			}
			if value != v.Default && !slices.Contains(containerOverrides[svc.name], name) {
				t.Errorf("docker-compose.yml: %s=%q, but the %s's default is %q", name, value, svc.name, v.Default)
			}
		}
	}
}

// Secrets come from the environment (or .env), never from the file itself.
func TestComposeTakesSecretsFromTheEnvironment(t *testing.T) {
	empty := composeEnv(composeService(t, loadCompose(t, nil), "backend"))
	given := map[string]string{"OPENROUTER_API_KEY": "sk-or-from-env", "ADMIN_EMAIL": "ops@example.com", "ADMIN_PASSWORD": "from-env-123"}
	withEnv := composeEnv(composeService(t, loadCompose(t, given), "backend"))
	for name, value := range given {
		if empty[name] != "" {
			t.Errorf("docker-compose.yml commits a value for %s", name)
		}
		if withEnv[name] != value {
			t.Errorf("%s from the environment became %q", name, withEnv[name])
		}
	}
}

// deploy/.env.example documents every ${VARIABLE} the compose file uses,
// and holds no secret values.
func TestEnvExampleDocumentsTheComposeVariables(t *testing.T) {
	documented := envFileNames(t, "deploy/.env.example")
	comments := regexp.MustCompile(`(?m)^\s*#.*$`)
	compose := comments.ReplaceAllString(readRepoFile(t, "docker-compose.yml"), "")
	used := regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)`).FindAllStringSubmatch(compose, -1)
	for _, m := range used {
		if !slices.Contains(documented, m[1]) {
			t.Errorf("docker-compose.yml uses ${%s}, which deploy/.env.example does not document", m[1])
		}
	}
	example := readRepoFile(t, "deploy/.env.example")
	for _, name := range []string{"OPENROUTER_API_KEY", "ADMIN_PASSWORD"} {
		if !regexp.MustCompile(`(?m)^` + name + `=$`).MatchString(example) {
			t.Errorf("deploy/.env.example must list %s with an empty value", name)
		}
	}
}

// The backend believes X-Forwarded-For from the frontend containers but not
// from the bridge gateway, through which published ports arrive.
func TestComposeTrustsOnlyTheContainersForwardedFor(t *testing.T) {
	p := loadCompose(t, nil)
	be := composeService(t, p, "backend")
	var pools []*types.IPAMPool
	for name := range be.Networks {
		pools = append(pools, p.Networks[name].Ipam.Config...)
	}
	if len(pools) != 1 || pools[0].IPRange == "" || pools[0].Gateway == "" {
		t.Fatalf("the backend's network needs one pool with a fixed ip_range and gateway, got %+v", pools)
	}
	_, ipRange, err := net.ParseCIDR(pools[0].IPRange)
	if err != nil {
		t.Fatal(err)
	}
	trusted := composeEnv(be)["TRUSTED_PROXIES"]
	var covered, gatewayTrusted bool
	for _, item := range strings.Split(trusted, ",") {
		_, cidr, err := net.ParseCIDR(strings.TrimSpace(item))
		if err != nil {
			t.Fatalf("TRUSTED_PROXIES item %q: %v", item, err)
		}
		ones, _ := cidr.Mask.Size()
		rangeOnes, _ := ipRange.Mask.Size()
		covered = covered || (cidr.Contains(ipRange.IP) && ones <= rangeOnes)
		gatewayTrusted = gatewayTrusted || cidr.Contains(net.ParseIP(pools[0].Gateway))
	}
	if !covered {
		t.Errorf("TRUSTED_PROXIES=%q does not cover the containers' ip_range %s", trusted, ipRange)
	}
	if gatewayTrusted {
		t.Errorf("TRUSTED_PROXIES=%q trusts the gateway %s", trusted, pools[0].Gateway)
	}
}

// ---- Dockerfiles ----

// imageBinary is where a Dockerfile puts the binary in its runtime image.
func imageBinary(t *testing.T, name string) string {
	t.Helper()
	for _, in := range parseDockerfile(t, "deploy/"+name+".Dockerfile") {
		if in.Cmd == "COPY" {
			if flags, src, dest := copyArgs(t, in); flags["from"] != "" && path.Base(src[0]) == name {
				return dest
			}
		}
	}
	t.Fatalf("deploy/%s.Dockerfile copies no %s binary into its runtime image", name, name)
	return ""
}

var goBuildCommand = regexp.MustCompile(`\bgo\s+(build|install)\b`)

func TestDockerfilesBuildThroughTheMakefile(t *testing.T) {
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			rel := "deploy/" + svc.name + ".Dockerfile"
			var makes int
			var workdir, makeDir string // the stage's WORKDIR, and where make ran
			for _, in := range parseDockerfile(t, rel) {
				switch in.Cmd {
				case "FROM":
					workdir = "/"
				case "WORKDIR":
					workdir = path.Join(workdir, in.Args)
				case "RUN":
					if goBuildCommand.MatchString(in.Args) {
						t.Errorf("%s:%d runs its own go build; call the Makefile instead", rel, in.Line)
					}
					if strings.Contains(in.Args, "make build-"+svc.name) {
						makes++
						makeDir = workdir
					}
				}
			}
			if makes != 1 {
				t.Errorf("%s calls `make build-%s` %d times, want once", rel, svc.name, makes)
			}
			// The runtime stage copies what that target writes.
			out := makeDryRun(t, "build-"+svc.name)
			if !strings.Contains(out, "cd "+svc.name+" && ") || !strings.Contains(out, "-o ../bin/"+svc.name+" ") {
				t.Fatalf("make build-%s no longer writes bin/%s:\n%s", svc.name, svc.name, out)
			}
			for _, in := range parseDockerfile(t, rel) {
				if in.Cmd != "COPY" {
					continue
				}
				if flags, src, _ := copyArgs(t, in); flags["from"] != "" && path.Base(src[0]) == svc.name {
					if want := path.Join(makeDir, "bin", svc.name); src[0] != want {
						t.Errorf("%s:%d copies %s, but make writes %s", rel, in.Line, src[0], want)
					}
				}
			}
		})
	}
}

// makeDryRun prints the commands of a Makefile target without running them.
func makeDryRun(t *testing.T, target string) string {
	t.Helper()
	cmd := exec.Command("make", "-n", "-s", target, "VERSION=v0.0.0-check", "COMMIT=0000000")
	cmd.Dir = RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s: %v\n%s", target, err, out)
	}
	return string(out)
}

// Every path a Dockerfile copies from the build context exists, is not
// excluded by .dockerignore, and together they hold every module go.work
// names (the workspace does not load otherwise).
func TestDockerfilesCopyWhatTheBuildNeeds(t *testing.T) {
	ignore := readDockerignore(t)
	modules := regexp.MustCompile(`(?m)^\s*\./(\S+)\s*$`).FindAllStringSubmatch(readRepoFile(t, "go.work"), -1)
	if len(modules) < 3 {
		t.Fatalf("cannot read the modules of go.work: %v", modules)
	}
	for _, svc := range services {
		rel := "deploy/" + svc.name + ".Dockerfile"
		var copied []string
		for _, in := range parseDockerfile(t, rel) {
			if in.Cmd != "COPY" && in.Cmd != "ADD" {
				continue
			}
			flags, sources, _ := copyArgs(t, in)
			if flags["from"] != "" {
				continue
			}
			for _, src := range sources {
				clean := path.Clean(src)
				copied = append(copied, clean)
				if _, err := os.Stat(filepath.Join(RepoRoot(), clean)); err != nil {
					t.Errorf("%s:%d copies %s, which is not in the repository", rel, in.Line, src)
				}
				if ignore.excludes(clean) {
					t.Errorf("%s:%d copies %s, which .dockerignore excludes", rel, in.Line, src)
				}
			}
		}
		for _, m := range append(modules, []string{"", "go.work"}, []string{"", "Makefile"}) {
			if !slices.Contains(copied, m[1]) {
				t.Errorf("%s does not copy %s", rel, m[1])
			}
		}
	}
	// Secrets and local state never enter the build context.
	for _, p := range []string{".env", "deploy/.env", "data/app.duckdb", "bin/backend", ".git", "backend/jwt-ed25519.pem"} {
		if !ignore.excludes(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}

func TestDockerImagesRunAsNonRootWithTheirOwnHealthcheck(t *testing.T) {
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readRepoFile(t, "backend/go.mod"))
	runtimes := map[string]string{
		"backend":  "gcr.io/distroless/cc-debian12:nonroot", // DuckDB needs glibc and libstdc++
		"frontend": "gcr.io/distroless/static-debian12:nonroot",
	}
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			rel := "deploy/" + svc.name + ".Dockerfile"
			vars := binaryVars(t, svc.name)
			bin := imageBinary(t, svc.name)
			args := map[string]string{}
			var froms []string
			var user, volume, expose string
			var entrypoint, health []string
			env := map[string]string{}
			for _, in := range parseDockerfile(t, rel) {
				switch in.Cmd {
				case "ARG":
					k, v, _ := strings.Cut(in.Args, "=")
					args[k] = v
				case "FROM":
					image := strings.Fields(in.Args)[0]
					for k, v := range args {
						image = strings.ReplaceAll(image, "${"+k+"}", v)
					}
					froms = append(froms, image)
					user, env = "", map[string]string{} // a new stage starts afresh
				case "USER":
					user = in.Args
				case "VOLUME":
					volume = in.Args
				case "EXPOSE":
					expose = in.Args
				case "ENV":
					for k, v := range envPairs(t, in) {
						env[k] = v
					}
				case "ENTRYPOINT":
					entrypoint = execForm(t, in, in.Args)
				case "HEALTHCHECK":
					_, cmd, ok := strings.Cut(in.Args, "CMD ")
					if !ok {
						t.Fatalf("%s:%d: HEALTHCHECK without CMD", rel, in.Line)
					}
					health = execForm(t, in, cmd)
				}
			}
			if want := "golang:" + goVersion[1] + "-bookworm"; len(froms) != 2 || froms[0] != want {
				t.Errorf("stages %q: want a %s build stage (go.mod's Go, bookworm's glibc) and a runtime stage", froms, want)
			}
			if froms[len(froms)-1] != runtimes[svc.name] {
				t.Errorf("runtime image %s, want %s", froms[len(froms)-1], runtimes[svc.name])
			}
			if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
				t.Errorf("runtime stage runs as %q, want a non-root user", user)
			}
			if len(entrypoint) != 1 || entrypoint[0] != bin {
				t.Errorf("ENTRYPOINT %q, want [%q]", entrypoint, bin)
			}
			if !slices.Equal(health, []string{bin, "healthcheck"}) {
				t.Errorf("HEALTHCHECK %q, want [%q healthcheck]", health, bin)
			}
			checkEnvNames(t, rel, svc.name, vars, slices.Collect(maps.Keys(env)))
			if p := portOf(t, env[svc.addrVar]); p != svc.port || expose != svc.port {
				t.Errorf("%s=%q and EXPOSE %s, want both on %s", svc.addrVar, env[svc.addrVar], expose, svc.port)
			}
			if svc.name == "backend" {
				if !strings.Contains(volume, `"/data"`) || !strings.HasPrefix(env["DUCKDB_PATH"], "/data/") || !strings.HasPrefix(env["JWT_KEY_FILE"], "/data/") {
					t.Errorf("the database and key must live on the /data volume: VOLUME %s, env %v", volume, env)
				}
			}
		})
	}
}

// The build the Dockerfiles run (the Makefile's) stamps the version and
// commit into the binary: --version and /healthz show them.
func TestMakefileBuildShowsVersionAndCommit(t *testing.T) {
	command := makeDryRun(t, "build-frontend")
	out := filepath.Join(t.TempDir(), "frontend")
	command = strings.Replace(command, "-o ../bin/frontend", "-o "+out, 1)
	build := exec.Command("bash", "-c", command)
	build.Dir = RepoRoot()
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, msg)
	}
	version := exec.Command(out, "--version")
	if got, err := version.Output(); err != nil || string(got) != "frontend v0.0.0-check (commit 0000000)\n" {
		t.Errorf("--version: %q, %v", got, err)
	}

	addr := FreeAddr(t)
	srv := exec.Command(out)
	srv.Env = append(minimalEnv(), "FRONTEND_ADDR="+addr, "BACKEND_URL=http://127.0.0.1:1")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	var health struct{ Status, Version, Commit string }
	getJSON(t, "http://"+addr+"/healthz", &health)
	if health.Version != "v0.0.0-check" || health.Commit != "0000000" {
		t.Errorf("/healthz %+v, want version v0.0.0-check and commit 0000000", health)
	}
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
				t.Fatalf("%s: %v", url, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The health checks the images and compose run: with the listen address a
// container uses (0.0.0.0), each binary finds itself on loopback, and the
// frontend's check fails once its backend is gone.
func TestHealthcheckSubcommandsProbeReadiness(t *testing.T) {
	be := StartBackend(t, t.TempDir())
	fe := StartFrontend(t, be.URL)
	healthcheck := func(name, addrVar, addr string) error {
		_, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command(Binary(t, name), "healthcheck")
		cmd.Env = append(minimalEnv(), addrVar+"=0.0.0.0:"+port)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("%s healthcheck: %s", name, out)
		}
		return err
	}
	if err := healthcheck("backend", "BACKEND_ADDR", be.Addr); err != nil {
		t.Errorf("backend healthcheck on a ready backend: %v", err)
	}
	if err := healthcheck("frontend", "FRONTEND_ADDR", fe.Addr); err != nil {
		t.Errorf("frontend healthcheck on a ready frontend: %v", err)
	}
	be.Stop(t)
	if err := healthcheck("frontend", "FRONTEND_ADDR", fe.Addr); err == nil {
		t.Error("frontend healthcheck passed with its backend stopped")
	}
	if err := healthcheck("backend", "BACKEND_ADDR", be.Addr); err == nil {
		t.Error("backend healthcheck passed with the backend stopped")
	}
}

// ---- systemd ----

func TestSystemdUnitsAreHardenedAndMatchTheBinaries(t *testing.T) {
	units := map[string]unit{}
	for _, svc := range services {
		rel := "deploy/systemd/duckgate-" + svc.name + ".service"
		u := parseUnit(t, rel)
		units[svc.name] = u
		vars := binaryVars(t, svc.name)

		if exec := strings.Fields(u.last("Service.ExecStart")); len(exec) != 2 || exec[0] != "/usr/local/bin/duckgate-"+svc.name || exec[1] != "serve" {
			t.Errorf("%s: ExecStart %q, want /usr/local/bin/duckgate-%s serve", rel, exec, svc.name)
		}
		if u.last("Service.DynamicUser") != "yes" && (u.last("Service.User") == "" || u.last("Service.User") == "root") {
			t.Errorf("%s: runs as root; want DynamicUser=yes or a dedicated User=", rel)
		}
		for key, want := range map[string]string{
			"Service.ProtectSystem": "strict", "Service.ProtectHome": "yes", "Service.NoNewPrivileges": "yes",
			"Service.PrivateTmp": "yes", "Service.CapabilityBoundingSet": "",
		} {
			if got, ok := u[key]; !ok || u.last(key) != want {
				t.Errorf("%s: %s=%q, want %q", rel, key, got, want)
			}
		}
		if len(u["Service.EnvironmentFile"]) == 0 {
			t.Errorf("%s: no EnvironmentFile for secrets and overrides", rel)
		}
		env := u.environment()
		checkEnvNames(t, rel, svc.name, vars, slices.Collect(maps.Keys(env)))
		checkEnvNames(t, "deploy/systemd/"+svc.name+".env.example", svc.name, vars, envFileNames(t, "deploy/systemd/"+svc.name+".env.example"))
		if env[svc.addrVar] == "" {
			t.Errorf("%s: sets no %s", rel, svc.addrVar)
		}
		verifyUnit(t, rel, svc.name)
	}

	be, fe := units["backend"], units["frontend"]
	state := "/var/lib/" + be.last("Service.StateDirectory")
	if be.last("Service.StateDirectory") == "" {
		t.Error("backend unit has no StateDirectory for its data")
	}
	for name, value := range be.environment() {
		if (name == "DUCKDB_PATH" || name == "JWT_KEY_FILE" || name == "BACKUP_DIR") && !strings.HasPrefix(value, state+"/") {
			t.Errorf("backend unit: %s=%s is outside its StateDirectory %s (ProtectSystem=strict makes it read-only)", name, value, state)
		}
	}
	if !strings.Contains(fe.last("Unit.After"), "duckgate-backend.service") {
		t.Error("frontend unit does not start after the backend unit")
	}
	if got, want := portOf(t, fe.environment()["BACKEND_URL"]), portOf(t, be.environment()["BACKEND_ADDR"]); got != want {
		t.Errorf("frontend unit's BACKEND_URL port %s, backend listens on %s", got, want)
	}
}

// verifyUnit runs `systemd-analyze verify` on the unit when the machine has
// it, with ExecStart pointed at the freshly built binary.
func verifyUnit(t *testing.T, rel, name string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze not installed: %s checked by parsing only", rel)
		return
	}
	text := strings.ReplaceAll(readRepoFile(t, rel), "/usr/local/bin/duckgate-"+name, Binary(t, name))
	unitPath := filepath.Join(t.TempDir(), path.Base(rel))
	if err := os.WriteFile(unitPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unitPath).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", rel, err, out)
	}
}

// ---- Kubernetes ----

func k8sFiles(t *testing.T) (resources []string, all []string) {
	t.Helper()
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	docs := readManifests(t, "deploy/k8s/kustomization.yaml")
	docs[0].decode(t, &kust)
	for _, r := range kust.Resources {
		resources = append(resources, "deploy/k8s/"+r)
	}
	return resources, append(slices.Clone(resources), "deploy/k8s/secret.example.yaml")
}

func TestKubernetesManifestsAreListedInTheKustomization(t *testing.T) {
	resources, all := k8sFiles(t)
	if len(resources) == 0 {
		t.Fatal("kustomization.yaml lists no resources")
	}
	entries, err := os.ReadDir(filepath.Join(RepoRoot(), "deploy/k8s"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		rel := "deploy/k8s/" + e.Name()
		if strings.HasSuffix(e.Name(), ".yaml") && rel != "deploy/k8s/kustomization.yaml" && !slices.Contains(all, rel) {
			t.Errorf("%s is neither in kustomization.yaml nor a known template", rel)
		}
	}
	readManifests(t, resources...) // each listed file exists and parses
}

func TestKubernetesRunsOneBackendAndSeveralFrontends(t *testing.T) {
	_, all := k8sFiles(t)
	docs := readManifests(t, all...)

	var backend, frontend k8sWorkload
	find(t, docs, "StatefulSet", "backend").decode(t, &backend)
	find(t, docs, "Deployment", "frontend").decode(t, &frontend)
	// An absent replicas field means 1 to Kubernetes: say it explicitly.
	if r := backend.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("backend StatefulSet replicas %s, want exactly 1 (DuckDB has one writer)", show(r))
	}
	if r := frontend.Spec.Replicas; r == nil || *r < 2 {
		t.Errorf("frontend Deployment replicas %s, want several", show(r))
	}

	// The backend's database is on its claim.
	bc := onlyContainer(t, "backend", backend)
	if len(backend.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("backend has %d volume claim templates, want 1", len(backend.Spec.VolumeClaimTemplates))
	}
	claim := backend.Spec.VolumeClaimTemplates[0].Metadata.Name
	var dataDir string
	for _, m := range bc.VolumeMounts {
		if m.Name == claim {
			dataDir = m.MountPath
		}
	}
	for _, name := range []string{"DUCKDB_PATH", "JWT_KEY_FILE", "BACKUP_DIR"} {
		if dataDir == "" || !strings.HasPrefix(bc.env(name), dataDir+"/") {
			t.Errorf("backend %s=%q is not on its volume claim (mounted at %q)", name, bc.env(name), dataDir)
		}
	}
	if backend.Spec.ServiceName == "" {
		t.Error("backend StatefulSet names no serviceName")
	}

	workloads := map[string]k8sWorkload{"backend": backend, "frontend": frontend}
	for _, svc := range services {
		w := workloads[svc.name]
		c := onlyContainer(t, svc.name, w)
		checkWorkload(t, svc.name, svc.addrVar, svc.port, w, c, binaryVars(t, svc.name))

		// Its Service selects its pods and reaches its port.
		var s k8sService
		find(t, docs, "Service", svc.name).decode(t, &s)
		for k, v := range s.Spec.Selector {
			if w.Spec.Template.Metadata.Labels[k] != v || w.Spec.Selector.MatchLabels[k] != v {
				t.Errorf("Service %s selects %s=%s, which its pods do not carry", svc.name, k, v)
			}
		}
		if len(s.Spec.Ports) != 1 || containerPort(t, c, s.Spec.Ports[0].TargetPort) != atoi(t, svc.port) {
			t.Errorf("Service %s ports %+v do not reach container port %s", svc.name, s.Spec.Ports, svc.port)
		}
	}
	// The frontends reach the backend through its Service.
	if fc := onlyContainer(t, "frontend", frontend); fc.env("BACKEND_URL") != "http://backend:8000" {
		t.Errorf("frontend BACKEND_URL=%q, want the backend Service http://backend:8000", fc.env("BACKEND_URL"))
	}
}

func show(n *int) string {
	if n == nil {
		return "unset"
	}
	return strconv.Itoa(*n)
}

func onlyContainer(t *testing.T, name string, w k8sWorkload) k8sContainer {
	t.Helper()
	cs := w.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%s: %d containers, want 1", name, len(cs))
	}
	return cs[0]
}

func checkWorkload(t *testing.T, name, addrVar, port string, w k8sWorkload, c k8sContainer, vars map[string]envVar) {
	t.Helper()
	if !w.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pods may run as root (set runAsNonRoot)", name)
	}
	if c.Image != "duckgate-"+name {
		t.Errorf("%s: image %q, want duckgate-%s (set by kustomization.yaml)", name, c.Image, name)
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("%s: no cpu and memory requests", name)
	}
	if p := portOf(t, c.env(addrVar)); p != port || containerPort(t, c, "http") != atoi(t, port) {
		t.Errorf("%s: %s=%q and containerPort %v, want both %s", name, addrVar, c.env(addrVar), c.Ports, port)
	}
	for probe, want := range map[*k8sProbe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || containerPort(t, c, probe.HTTPGet.Port) != atoi(t, port) {
			t.Errorf("%s: want a probe on %s at port %s", name, want, port)
		}
	}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	checkEnvNames(t, "deploy/k8s ("+name+")", name, vars, names)
}

// Secret references name the Secret of secret.example.yaml and its keys,
// and the template holds no values.
func TestKubernetesSecretsComeFromTheSecret(t *testing.T) {
	_, all := k8sFiles(t)
	docs := readManifests(t, all...)
	var secret struct {
		StringData map[string]string `yaml:"stringData"`
	}
	find(t, docs, "Secret", "duckgate-secrets").decode(t, &secret)
	for key, value := range secret.StringData {
		if value != "" {
			t.Errorf("secret.example.yaml holds a value for %s", key)
		}
	}
	var backend k8sWorkload
	find(t, docs, "StatefulSet", "backend").decode(t, &backend)
	refs := map[string]bool{}
	for _, e := range onlyContainer(t, "backend", backend).Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			if binaryVars(t, "backend")[e.Name].Secret {
				t.Errorf("backend secret %s is set inline, not from the Secret", e.Name)
			}
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if _, ok := secret.StringData[ref.Key]; ref.Name != "duckgate-secrets" || !ok {
			t.Errorf("%s refers to %s/%s, which secret.example.yaml does not define", e.Name, ref.Name, ref.Key)
		}
		refs[e.Name] = true
	}
	for _, name := range []string{"OPENROUTER_API_KEY", "ADMIN_PASSWORD"} {
		if !refs[name] {
			t.Errorf("backend does not take %s from the Secret", name)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a port", s)
	}
	return n
}
