package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"example.com/twitterlogin/config"
)

// secrets are the variables compose must take from the environment. The
// test gives each a unique value and checks that exactly that value
// arrives, so a literal written into the file cannot pass.
var secrets = map[string]string{
	"SESSION_SECRET":          "sentinel-session-secret-0123456789-abcdef",
	"MONGO_ROOT_PASSWORD":     "sentinelroot0123",
	"MONGO_APP_PASSWORD":      "sentinelapp0123",
	"TWITTER_CLIENT_SECRET":   "sentinel-client-secret",
	"TWITTER_CONSUMER_SECRET": "sentinel-consumer-secret",
	"TOKEN_ENCRYPTION_KEYS":   "k1:V6T7TrylwSjrBaeWzlOVKnG5zF6UwU+7KbmVkHrukvo=",
}

// required are the variables without which compose must refuse to start.
var required = []string{"PUBLIC_URL", "SESSION_SECRET", "TOKEN_ENCRYPTION_KEYS", "MONGO_ROOT_PASSWORD", "MONGO_APP_PASSWORD",
	"TWITTER_CLIENT_ID", "TWITTER_CLIENT_SECRET"}

// notForApps are the variables the app reads that the fleet deliberately
// leaves at their defaults.
var notForApps = map[string]string{
	"DATA_DIR":          "only the embedded store and dev keys use it; the fleet runs on MongoDB",
	"DEV_PROVIDER_ADDR": "only -dev runs the dev Twitter provider",
}

func environment() map[string]string {
	env := map[string]string{
		"PUBLIC_URL":           "https://login.example.com",
		"TWITTER_CLIENT_ID":    "sentinel-client-id",
		"TWITTER_CONSUMER_KEY": "sentinel-consumer-key",
	}
	for k, v := range secrets {
		env[k] = v
	}
	return env
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	dir := root(t)
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("twitterlogin", true) })
}

func mustLoad(t *testing.T) *types.Project {
	t.Helper()
	p, err := load(t, environment())
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

func env(s types.ServiceConfig, key string) (string, bool) {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return "", ok
	}
	return *v, true
}

// apps are the services built from the repository's Dockerfile.
func apps(p *types.Project) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	}) {
		if s := p.Services[name]; s.Build != nil {
			out = append(out, s)
		}
	}
	return out
}

// mongods are the services that run mongod.
func mongods(p *types.Project) map[string]types.ServiceConfig {
	out := map[string]types.ServiceConfig{}
	for name, s := range p.Services {
		if len(s.Command) > 0 && s.Command[0] == "mongod" {
			out[name] = s
		}
	}
	return out
}

func TestCompose_Services(t *testing.T) {
	p := mustLoad(t)
	for _, name := range []string{"caddy", "app1", "app2", "mongo-keyfile", "mongo1", "mongo2", "mongo3", "mongo-init"} {
		service(t, p, name)
	}
	as := apps(p)
	if len(as) != 2 {
		t.Fatalf("%d app services, want 2", len(as))
	}
	for _, a := range as {
		if a.Build.Context != root(t) || a.Image != as[0].Image {
			t.Errorf("%s: build context %q image %q, want the repository's Dockerfile and one image", a.Name, a.Build.Context, a.Image)
		}
		if len(a.Ports) > 0 {
			t.Errorf("%s publishes ports %v: only the proxy may", a.Name, a.Ports)
		}
		for dep, cond := range map[string]string{
			"mongo1": types.ServiceConditionHealthy, "mongo2": types.ServiceConditionHealthy, "mongo3": types.ServiceConditionHealthy,
			"mongo-init": types.ServiceConditionCompletedSuccessfully,
		} {
			if got := a.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends on %s with condition %q, want %q", a.Name, dep, got, cond)
			}
		}
	}
	caddy := service(t, p, "caddy")
	if !slices.ContainsFunc(caddy.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == 443 && pc.Published == "443" }) {
		t.Errorf("caddy does not publish 443: %v", caddy.Ports)
	}
}

// TestCompose_AppEnvironment: every variable the app reads is set for the
// app services (or deliberately left at its default), nothing else is,
// and the result is a configuration the app accepts in production mode.
func TestCompose_AppEnvironment(t *testing.T) {
	p := mustLoad(t)
	known := config.Variables()
	for _, a := range apps(p) {
		for _, name := range known {
			_, set := a.Environment[name]
			if why, skip := notForApps[name]; skip {
				if set {
					t.Errorf("%s sets %s, which the fleet should not need (%s)", a.Name, name, why)
				}
				continue
			}
			if !set {
				t.Errorf("%s does not set %s, which the app reads", a.Name, name)
			}
		}
		for name := range a.Environment {
			if !slices.Contains(known, name) {
				t.Errorf("%s sets %s, which the app does not read", a.Name, name)
			}
		}

		cfg, err := config.Load(func(k string) string { v, _ := env(a, k); return v }, false)
		if err != nil {
			t.Fatalf("%s: the app refuses its environment: %v", a.Name, err)
		}
		if cfg.Dev || cfg.MetricsAddr == "" || cfg.MetricsAddr == cfg.Addr {
			t.Errorf("%s: dev %v, metrics on %q (public %q)", a.Name, cfg.Dev, cfg.MetricsAddr, cfg.Addr)
		}
		if cfg.RateLimits.Login.Off() || cfg.RateLimits.Writes.Off() {
			t.Errorf("%s: rate limits are off", a.Name)
		}
		caddyIP := service(t, p, "caddy").Networks["front"].Ipv4Address
		if !slices.Equal(cfg.TrustedProxies, []string{caddyIP}) {
			t.Errorf("%s trusts proxies %q, want exactly Caddy's %q", a.Name, cfg.TrustedProxies, caddyIP)
		}
	}
}

// TestCompose_Secrets: secrets come from the environment only, and
// compose refuses to start without the required ones.
func TestCompose_Secrets(t *testing.T) {
	p := mustLoad(t)
	for _, a := range apps(p) {
		for _, name := range []string{"SESSION_SECRET", "TOKEN_ENCRYPTION_KEYS", "TWITTER_CLIENT_SECRET", "TWITTER_CONSUMER_SECRET"} {
			if got, _ := env(a, name); got != secrets[name] {
				t.Errorf("%s: %s does not come from the environment", a.Name, name)
			}
		}
		if uri, _ := env(a, "MONGODB_URI"); !strings.Contains(uri, ":"+secrets["MONGO_APP_PASSWORD"]+"@") {
			t.Errorf("%s: the MongoDB password in MONGODB_URI does not come from MONGO_APP_PASSWORD", a.Name)
		}
	}
	if got, _ := env(service(t, p, "mongo1"), "MONGO_INITDB_ROOT_PASSWORD"); got != secrets["MONGO_ROOT_PASSWORD"] {
		t.Error("mongo1's root password does not come from MONGO_ROOT_PASSWORD")
	}
	init := service(t, p, "mongo-init")
	for _, name := range []string{"MONGO_ROOT_PASSWORD", "MONGO_APP_PASSWORD"} {
		if got, _ := env(init, name); got != secrets[name] {
			t.Errorf("mongo-init: %s does not come from the environment", name)
		}
	}
	for _, s := range p.Services {
		for _, arg := range slices.Concat(s.Command, s.Entrypoint) {
			for _, v := range secrets {
				if strings.Contains(arg, v) {
					t.Errorf("%s passes a secret on its command line", s.Name)
				}
			}
		}
	}

	// In the file itself, every secret-looking setting is a ${...} reference.
	raw, err := os.ReadFile(filepath.Join(root(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	secretLine := regexp.MustCompile(`^\s*([A-Z_]*(SECRET|PASSWORD|_KEY)[A-Z_]*):\s*(.*)$`)
	for i, line := range strings.Split(string(raw), "\n") {
		if m := secretLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[3], "${") {
			t.Errorf("docker-compose.yml:%d: %s is a literal, want ${%s...}", i+1, m[1], m[1])
		}
	}

	for _, name := range required {
		t.Run("without "+name, func(t *testing.T) {
			e := environment()
			delete(e, name)
			_, err := load(t, e)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("compose loads without %s (err %v)", name, err)
			}
		})
	}
}

// TestCompose_HeaderExample: the example at the top of the file sets every
// variable compose requires, so following it works the first time.
func TestCompose_HeaderExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var header strings.Builder
	for line := range strings.Lines(string(raw)) {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line)
	}
	for _, name := range required {
		if !strings.Contains(header.String(), " "+name+"=") {
			t.Errorf("the header's example does not set %s", name)
		}
	}
}

// TestCaddyfile: the proxy sends traffic to every app instance's public
// port, checks their readiness, and is the proxy the apps trust.
func TestCaddyfile(t *testing.T) {
	p := mustLoad(t)
	caddy := service(t, p, "caddy")
	if !slices.ContainsFunc(caddy.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Source == filepath.Join(root(t), "config", "deploy", "Caddyfile") && v.Target == "/etc/caddy/Caddyfile"
	}) {
		t.Errorf("caddy does not mount config/deploy/Caddyfile: %+v", caddy.Volumes)
	}
	raw, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*reverse_proxy\s+([^{]+)\{`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("Caddyfile has no reverse_proxy block")
	}
	upstreams := strings.Fields(m[1])
	var want []string
	for _, a := range apps(p) {
		addr, _ := env(a, "ADDR")
		want = append(want, a.Name+addr)
	}
	if !slices.Equal(upstreams, want) {
		t.Errorf("Caddy proxies to %q, want every app instance %q", upstreams, want)
	}
	for _, want := range []string{"{$PUBLIC_URL}", "health_uri /readyz"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
	if strings.Contains(string(raw), "9090") {
		t.Error("Caddyfile mentions the metrics port")
	}
}
