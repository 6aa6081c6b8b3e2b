package deploy_test

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestCompose_ReplicaSet(t *testing.T) {
	p := mustLoad(t)
	ms := mongods(p)
	if len(ms) != 3 {
		t.Fatalf("%d mongod services, want 3", len(ms))
	}
	var hosts []string
	for name, m := range ms {
		checkMongod(t, name, m)
		hosts = append(hosts, name+":27017")
	}
	slices.Sort(hosts)

	checkReplicaSetInit(t, p, ms, hosts)
	checkAppsConnectTo(t, p, hosts)
	checkNoCommittedKeyFile(t)
}

// checkMongod checks one mongod service: a replica-set member with a
// read-only key file, scripting off, a healthcheck and a pinned image.
func checkMongod(t *testing.T, name string, m types.ServiceConfig) {
	t.Helper()
	cmd := strings.Join(m.Command, " ")
	for _, want := range []string{"--replSet rs0", "--keyFile /keys/keyfile", "--noscripting"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("%s: command %q lacks %s", name, cmd, want)
		}
	}
	if !slices.ContainsFunc(m.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Source == "mongo-keyfile" && v.Target == "/keys" && v.ReadOnly
	}) {
		t.Errorf("%s does not mount the mongo-keyfile volume read-only at /keys", name)
	}
	if m.HealthCheck == nil || len(m.HealthCheck.Test) == 0 {
		t.Errorf("%s has no healthcheck", name)
	}
	if m.Image != "mongo:8.0" {
		t.Errorf("%s image %q, want mongo:8.0", name, m.Image)
	}
	if m.DependsOn["mongo-keyfile"].Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("%s does not wait for its key file", name)
	}
}

// checkReplicaSetInit checks that mongo-init.js initiates rs0 with exactly
// the mongod services (hosts, sorted) and that mongo-init waits for them.
func checkReplicaSetInit(t *testing.T, p *types.Project, ms map[string]types.ServiceConfig, hosts []string) {
	t.Helper()
	script, err := os.ReadFile("mongo-init.js")
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, m := range regexp.MustCompile(`host:\s*'([^']+)'`).FindAllStringSubmatch(string(script), -1) {
		members = append(members, m[1])
	}
	slices.Sort(members)
	if !slices.Equal(members, hosts) {
		t.Errorf("mongo-init.js initiates %q, want the mongod services %q", members, hosts)
	}
	if !strings.Contains(string(script), "rs.initiate({ _id: 'rs0'") || !strings.Contains(string(script), "isWritablePrimary") {
		t.Error("mongo-init.js does not initiate rs0 and wait for a primary")
	}
	init := service(t, p, "mongo-init")
	for name := range ms {
		if init.DependsOn[name].Condition != types.ServiceConditionHealthy {
			t.Errorf("mongo-init does not wait for %s to be healthy", name)
		}
	}
}

// checkAppsConnectTo checks that every app's MONGODB_URI lists exactly
// hosts (sorted) as members of rs0.
func checkAppsConnectTo(t *testing.T, p *types.Project, hosts []string) {
	t.Helper()
	for _, a := range apps(p) {
		raw, _ := env(a, "MONGODB_URI")
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s: MONGODB_URI: %v", a.Name, err)
		}
		uriHosts := strings.Split(u.Host, ",")
		slices.Sort(uriHosts)
		if !slices.Equal(uriHosts, hosts) {
			t.Errorf("%s: MONGODB_URI lists %q, want %q", a.Name, uriHosts, hosts)
		}
		if got := u.Query().Get("replicaSet"); got != "rs0" {
			t.Errorf("%s: MONGODB_URI replicaSet=%q, want rs0", a.Name, got)
		}
	}
}

// checkNoCommittedKeyFile checks that no key file is ever committed: it
// is made in a volume at first start.
func checkNoCommittedKeyFile(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(root(t), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "data") {
			return filepath.SkipDir
		}
		if strings.Contains(strings.ToLower(d.Name()), "keyfile") && !strings.HasSuffix(d.Name(), ".sh") {
			t.Errorf("%s looks like a committed key file", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
