package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/cluster"
	"github.com/hashicorp/vault/api"
)

// testCluster is a 3-node Raft cluster (internal/cluster, which `make cluster` uses too) running the plugin under
// test, mounted at alicloud/ and configured against c.
type testCluster struct {
	*cluster.Cluster
	t testing.TB
	c *cloud
}

// startCluster starts the cluster with the suite's plugin and operator settings (plus extraEnv), mounts and
// configures the engine. The cluster stops at the end of the test; every node's log is searched for data races and
// panics reported by the plugin, and printed when the test failed.
func startCluster(t *testing.T, c *cloud, extraEnv ...string) *testCluster {
	t.Helper()
	requireSuite(t)
	ctx := context.Background()
	cl, err := cluster.Start(ctx, cluster.Options{
		Server: suite.server,
		Binary: suite.vaultBin,
		Dir:    t.TempDir(),
		Plugin: cluster.Plugin{
			Name:    pluginName,
			Binary:  filepath.Join(suite.pluginDir, pluginName),
			Version: pluginVersion,
			Env:     append(pluginEnv(), extraEnv...),
		},
		LogLevel: "debug",
		Env:      cleanEnv(),
		Logf:     t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{Cluster: cl, t: t, c: c}
	t.Cleanup(func() {
		cl.Stop()
		for _, n := range cl.Nodes {
			checkNodeLog(t, n)
		}
	})
	if err := cl.Enable(ctx, mount, ""); err != nil {
		t.Fatal(err)
	}
	tc.active().Client.SetToken(cl.RootToken)
	if _, err := tc.active().Client.Logical().Write(mount+"/config", engineConfig(c, c.EngineKey)); err != nil {
		t.Fatalf("config write: %v", err)
	}
	return tc
}

// checkNodeLog fails t when a node's log reports a plugin data race or panic, and prints its tail when t failed.
func checkNodeLog(t testing.TB, n *cluster.Node) {
	f, err := os.Open(n.LogPath)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "WARNING: DATA RACE") || strings.Contains(line, "panic: ") {
			t.Errorf("%s log reports a plugin failure: %s", n.Name, line)
		}
	}
	if t.Failed() {
		t.Logf("--- %s log %s (last lines) ---\n%s", n.Name, n.LogPath, cluster.Tail(n.LogPath, 60))
	}
}

// active returns the active node, failing the test when there is none within a minute.
func (tc *testCluster) active() *cluster.Node {
	tc.t.Helper()
	n, err := tc.WaitActive(context.Background(), time.Minute)
	if err != nil {
		tc.t.Fatal(err)
	}
	return n
}

// write writes path through the active node.
func (tc *testCluster) write(path string, data map[string]any) *api.Secret {
	tc.t.Helper()
	s, err := tc.active().Client.Logical().Write(path, data)
	if err != nil {
		tc.t.Fatalf("write %s: %v", path, err)
	}
	return s
}

// read reads path through the active node.
func (tc *testCluster) read(path string) *api.Secret {
	tc.t.Helper()
	s, err := tc.active().Client.Logical().Read(path)
	if err != nil {
		tc.t.Fatalf("read %s: %v", path, err)
	}
	return s
}

// stsKey returns the STS credentials in a creds/ answer.
func stsKey(s *api.Secret) aliyun.Credentials {
	id, _ := s.Data["access_key"].(string)
	secret, _ := s.Data["secret_key"].(string)
	token, _ := s.Data["security_token"].(string)
	return aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token}
}

// roleOf returns the role name of an STS identity ARN (acs:ram::<account>:assumed-role/<role>/<session>).
func roleOf(arn string) string {
	_, rest, _ := strings.Cut(arn, ":assumed-role/")
	role, _, _ := strings.Cut(rest, "/")
	return strings.ToLower(role)
}

// TestClusterStandbyReads: creds/ through every node of a 3-node cluster, standbys included, returns working
// credentials at the cost of exactly one AssumeRole each; a role changed on the active node applies at once to reads
// through every node, and a deleted role stops issuing everywhere.
func TestClusterStandbyReads(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	trust := fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::%s:root"]}}]}`, c.AccountID)
	auditorARN, err := c.Emu.CreateRole("auditor", trust, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tc := startCluster(t, c)
	tc.write(mount+"/role/app", map[string]any{"role_arn": c.ReadonlyARN, "ttl": "15m"})
	active := tc.active()

	// Vault standbys forward every request to the active node: a role write applies at once through every node.
	// OpenBao standbys serve reads from their own copy of storage, which trails the active node's by the Raft apply
	// (read-after-write is not guaranteed there, see OpenBao's "Eventual consistency"): wait until the node sees the
	// role, at most 10 seconds, and log how long it took.
	visible := func(n *cluster.Node, wantARN string) {
		t.Helper()
		if suite.server != serverOpenBao {
			return
		}
		start := time.Now()
		eventually(t, 10*time.Second, func() error {
			s, err := n.Client.Logical().Read(mount + "/role/app")
			switch {
			case err != nil:
				return err
			case s == nil && wantARN != "":
				return fmt.Errorf("%s: role app not visible yet", n.Name)
			case s != nil && wantARN == "":
				return fmt.Errorf("%s: role app still visible", n.Name)
			case s != nil && s.Data["role_arn"] != wantARN:
				return fmt.Errorf("%s: role app has role_arn %v, want %s", n.Name, s.Data["role_arn"], wantARN)
			}
			return nil
		})
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Logf("%s saw the role change after %s", n.Name, d.Round(time.Millisecond))
		}
	}
	readThrough := func(n *cluster.Node, wantRole string) {
		t.Helper()
		wantARN := c.ReadonlyARN
		if wantRole == "auditor" {
			wantARN = auditorARN
		}
		visible(n, wantARN)
		before := c.Emu.Counters()["sts:AssumeRole"]
		s, err := n.Client.Logical().Read(mount + "/creds/app")
		if err == nil && s == nil {
			err = errors.New("404: no such role")
		}
		if err != nil {
			t.Fatalf("%s: read creds/app: %v", n.Name, err)
		}
		if got := c.Emu.Counters()["sts:AssumeRole"] - before; got != 1 {
			t.Errorf("%s: one credential cost %d AssumeRole calls, want 1", n.Name, got)
		}
		id, err := c.Identity(stsKey(s))
		if err != nil {
			t.Fatalf("%s: the credentials do not work: %v", n.Name, err)
		}
		if got := roleOf(id.Arn); got != wantRole {
			t.Errorf("%s: the credentials are for %s, want role %s", n.Name, id.Arn, wantRole)
		}
	}
	for round := 0; round < 3; round++ {
		for _, n := range tc.Nodes {
			readThrough(n, readonlyRole)
		}
	}
	t.Logf("active node %s; standbys %s", active.Name, nodeNames(tc.Standbys(active)))

	// A role change on the active node applies to the very next read through every node: no node serves a role
	// from a stale cache.
	tc.write(mount+"/role/app", map[string]any{"role_arn": auditorARN})
	for _, n := range tc.Nodes {
		readThrough(n, "auditor")
	}
	tc.write(mount+"/role/app", map[string]any{"role_arn": c.ReadonlyARN})
	for _, n := range tc.Nodes {
		readThrough(n, readonlyRole)
	}

	if _, err := active.Client.Logical().Delete(mount + "/role/app"); err != nil {
		t.Fatal(err)
	}
	before := c.Emu.Counters()["sts:AssumeRole"]
	for _, n := range tc.Nodes {
		visible(n, "")
		s, err := n.Client.Logical().Read(mount + "/creds/app")
		if err == nil {
			t.Errorf("%s: creds/app after the role was deleted: %v, want an error", n.Name, s)
			continue
		}
		if status, msg := responseError(t, err); status != 400 && status != 404 {
			t.Errorf("%s: creds/app after the role was deleted: status %d (%s), want 400 or 404", n.Name, status, msg)
		}
	}
	if got := c.Emu.Counters()["sts:AssumeRole"] - before; got != 0 {
		t.Errorf("reads of a deleted role made %d AssumeRole calls", got)
	}
}

func nodeNames(ns []*cluster.Node) string {
	var names []string
	for _, n := range ns {
		names = append(names, n.Name)
	}
	return strings.Join(names, ",")
}

// noActiveNode is what a standby answers (HTTP 500) while it knows no active node.
const noActiveNode = "active cluster node not found"

// loadStats counts what the clients of a load saw.
type loadStats struct {
	ok, retries, serverErrors atomic.Int64
	mu                        sync.Mutex
	leases                    []string
	errs                      map[string]int // distinct error texts, for the log
	lastOK                    sync.Map       // client index -> time of its last success
}

func (s *loadStats) noteErr(err error) {
	s.retries.Add(1)
	var re *api.ResponseError
	// A standby that does not know the new active node yet answers 500 "local node not active but active cluster
	// node not found" itself, without reaching the plugin: Vault's (and OpenBao's) election window, counted as a
	// retry. Any other 5xx but 503 is a failure.
	if errors.As(err, &re) && re.StatusCode >= 500 && re.StatusCode != 503 && !strings.Contains(strings.Join(re.Errors, " "), noActiveNode) {
		s.serverErrors.Add(1)
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	s.mu.Lock()
	if s.errs == nil {
		s.errs = map[string]int{}
	}
	s.errs[msg]++
	s.mu.Unlock()
}

func (s *loadStats) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for m, n := range s.errs {
		lines = append(lines, fmt.Sprintf("%4d x %s", n, m))
	}
	sort.Strings(lines)
	return fmt.Sprintf("%d credentials, %d retries, %d 5xx other than 503\n%s", s.ok.Load(), s.retries.Load(), s.serverErrors.Load(), strings.Join(lines, "\n"))
}

// runLoad starts two clients per node, one per role, reading creds/ until stop is closed. A client that gets an
// error (its node died, an election is running) retries on the next node, as a load balancer would; every retry
// counts.
func (tc *testCluster) runLoad(stop <-chan struct{}, roles []string, st *loadStats) *sync.WaitGroup {
	var wg sync.WaitGroup
	i := 0
	for ni := range tc.Nodes {
		for _, role := range roles {
			wg.Add(1)
			go func(client, ni int, role string) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					n := tc.Nodes[ni]
					s, err := n.Client.Logical().Read(mount + "/creds/" + role)
					if err != nil || s == nil || s.LeaseID == "" {
						if err == nil {
							err = fmt.Errorf("%s: creds/%s: no lease in %v", n.Name, role, s)
						}
						st.noteErr(fmt.Errorf("%s: %w", n.Name, err))
						ni = (ni + 1) % len(tc.Nodes)
						time.Sleep(100 * time.Millisecond)
						continue
					}
					st.ok.Add(1)
					st.lastOK.Store(client, time.Now())
					st.mu.Lock()
					st.leases = append(st.leases, s.LeaseID)
					st.mu.Unlock()
				}
			}(i, ni, role)
			i++
		}
	}
	return &wg
}

// vaultMade lists what the engine made in the emulator and has not removed: RAM users, their AccessKeys, and
// custom policies named vault-*.
func (c *cloud) vaultMade() []string {
	var out []string
	snap := c.Emu.Snapshot()
	for _, u := range snap.Users {
		if c.preexisting[u.Name] {
			continue
		}
		out = append(out, "user "+u.Name)
		for _, k := range u.AccessKeys {
			out = append(out, "key "+k.ID+" of "+u.Name)
		}
	}
	for _, p := range snap.Policies {
		if strings.HasPrefix(p.Name, "vault-") {
			out = append(out, "policy "+p.Name)
		}
	}
	return out
}

// TestClusterFailover kills the active node with SIGKILL while clients issue assumed_role and ram_user credentials
// through all three nodes. A standby takes over, the clients recover, leases issued before the failover renew and
// revoke through the new leader, and once the old node has rejoined and every lease is revoked the emulator holds
// nothing Vault made: the WAL rollback, run by the new leader, removes the users whose issue the kill interrupted.
func TestClusterFailover(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	// Slow RAM calls keep several ram_user issues in flight when the node dies, so the kill interrupts some of them
	// between the WAL entry and the lease.
	c.Emu.SetFaults(emulator.FaultConfig{Seed: 14, Rules: []emulator.FaultRule{
		{Action: "CreateAccessKey", Kind: emulator.FaultLatency, Latency: time.Second},
	}})
	tc := startCluster(t, c, "ALICLOUD_PLUGIN_WAL_ROLLBACK_MIN_AGE=5s")
	tc.write(mount+"/role/sts", map[string]any{"role_arn": c.ReadonlyARN, "ttl": "15m"})
	tc.write(mount+"/role/user", map[string]any{
		"remote_policies": []string{"name:ReadOnlyAccess,type:System"},
		"inline_policies": `[{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}]`,
		"ttl":             "15m", "max_ttl": "1h",
	})
	old := tc.active()

	// Leases issued before the failover, through every node.
	type preLease struct {
		id, user string
	}
	var pre []preLease
	for _, n := range tc.Nodes {
		s, err := n.Client.Logical().Read(mount + "/creds/user")
		if err != nil {
			t.Fatalf("%s: creds/user: %v", n.Name, err)
		}
		ak, _ := s.Data["access_key"].(string)
		pre = append(pre, preLease{id: s.LeaseID, user: userOfKey(t, c, ak)})
	}

	st := &loadStats{}
	stop := make(chan struct{})
	wg := tc.runLoad(stop, []string{"sts", "user"}, st)
	time.Sleep(4 * time.Second)
	killedAt := time.Now()
	if err := tc.Kill(old); err != nil {
		t.Fatal(err)
	}
	leader, err := tc.WaitActive(context.Background(), 2*time.Minute)
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	t.Logf("killed %s; %s active after %s", old.Name, leader.Name, time.Since(killedAt).Round(100*time.Millisecond))
	// Every client must succeed again after the new leader took over.
	recovered := time.Now()
	eventually(t, time.Minute, func() error {
		var late []int
		for i := 0; i < 2*len(tc.Nodes); i++ {
			v, ok := st.lastOK.Load(i)
			if !ok || v.(time.Time).Before(recovered) {
				late = append(late, i)
			}
		}
		if len(late) > 0 {
			return fmt.Errorf("clients %v have not had a credential since %s became active", late, leader.Name)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	t.Logf("load: %s", st.summary())
	if n := st.serverErrors.Load(); n > 0 {
		t.Errorf("the clients got %d server errors (5xx other than 503)", n)
	}

	if err := tc.StartNode(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if a := tc.active(); a == old {
		t.Logf("%s rejoined and won an election again", old.Name)
	}

	// Leases from before the failover renew and revoke through the new leader, and through a standby.
	for i, p := range pre {
		n := tc.Nodes[i%len(tc.Nodes)]
		if _, err := n.Client.Sys().Renew(p.id, 600); err != nil {
			t.Errorf("%s: renewing %s issued before the failover: %v", n.Name, p.id, err)
		}
		if err := n.Client.Sys().Revoke(p.id); err != nil {
			t.Errorf("%s: revoking %s issued before the failover: %v", n.Name, p.id, err)
		}
		for _, u := range c.Users() {
			if u == p.user {
				t.Errorf("revoking %s left RAM user %s", p.id, p.user)
			}
		}
	}

	if _, err := tc.active().Client.Logical().Write("sys/leases/revoke-prefix/"+mount+"/creds", nil); err != nil {
		t.Fatalf("revoke-prefix: %v", err)
	}
	for _, r := range []string{"sts", "user"} {
		if _, err := tc.active().Client.Logical().Delete(mount + "/role/" + r); err != nil {
			t.Fatal(err)
		}
	}
	// What is left now was made by issues the kill interrupted (created after their WAL entry, never leased):
	// only the WAL rollback can remove it. The test wants at least one, so it proves that path.
	left := c.vaultMade()
	t.Logf("after revoking every lease and deleting the roles, the emulator holds what interrupted issues made: %s", strings.Join(left, ", "))
	if len(left) == 0 {
		t.Errorf("the kill interrupted no ram_user issue: the test did not exercise the WAL rollback")
	}
	// Vault runs the rollback and the periodic function about once a minute.
	eventually(t, 3*time.Minute, func() error {
		if left := c.vaultMade(); len(left) > 0 {
			return fmt.Errorf("the emulator still holds what Vault made: %s", strings.Join(left, ", "))
		}
		return nil
	})
}

// userOfKey returns the RAM user that owns an AccessKey in the emulator.
func userOfKey(t testing.TB, c *cloud, keyID string) string {
	t.Helper()
	for _, u := range c.Emu.Snapshot().Users {
		for _, k := range u.AccessKeys {
			if k.ID == keyID {
				return u.Name
			}
		}
	}
	t.Fatalf("no RAM user holds AccessKey %s", keyID)
	return ""
}

// TestClusterRotationFailover schedules a static role's rotation and the engine's root rotation a minute ahead,
// then kills the active node shortly before they fall due. The new leader, which never saw the schedules written,
// rotates each exactly once: the static role's previous key is the one from before (no double rotation) and keeps
// working through its grace period; the engine's old key is gone and its new one works.
func TestClusterRotationFailover(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	if err := c.Emu.CreateUser(staticRoleUser); err != nil {
		t.Fatal(err)
	}
	tc := startCluster(t, c)
	tc.write(mount+"/static-role/app", map[string]any{"username": staticRoleUser, "rotation_period": "60s", "grace_period": "30s"})
	tc.write(mount+"/config", map[string]any{"rotation_period": "60s"})
	t0 := time.Now()
	first := tc.read(mount + "/static-creds/app")
	firstKey := aliyun.Credentials{AccessKeyID: first.Data["access_key"].(string), AccessKeySecret: first.Data["secret_key"].(string)}
	creates0 := c.Emu.Counters()["ram:CreateAccessKey"]

	// Kill the active node 15 seconds before both rotations fall due.
	time.Sleep(time.Until(t0.Add(45 * time.Second)))
	if got := tc.read(mount + "/static-creds/app").Data["access_key"]; got != firstKey.AccessKeyID {
		t.Fatalf("the static role rotated before it was due: %v", got)
	}
	old := tc.active()
	if err := tc.Kill(old); err != nil {
		t.Fatal(err)
	}
	leader := tc.active()
	t.Logf("killed %s %s after the schedules were written; %s is active", old.Name, time.Since(t0).Round(time.Second), leader.Name)

	var static, cfg *api.Secret
	eventually(t, 150*time.Second, func() error {
		s, err := leader.Client.Logical().Read(mount + "/static-role/app")
		if err != nil {
			return err
		}
		cf, err := leader.Client.Logical().Read(mount + "/config")
		if err != nil {
			return err
		}
		if s.Data["access_key"] == firstKey.AccessKeyID || cf.Data["access_key"] == c.EngineKey.AccessKeyID {
			return fmt.Errorf("not rotated yet: static role key %v (next %v), engine key %v (next %v)",
				s.Data["access_key"], s.Data["next_rotation"], cf.Data["access_key"], cf.Data["next_rotation"])
		}
		static, cfg = s, cf
		return nil
	})
	t.Logf("both rotated %s after the schedules were written", time.Since(t0).Round(time.Second))
	if got := c.Emu.Counters()["ram:CreateAccessKey"] - creates0; got != 2 {
		t.Errorf("%d AccessKeys created since the schedules were written, want 2 (one static rotation, one root rotation)", got)
	}

	// The static role: rotated once, at or after its due time, the previous key being the first one and working.
	cur := tc.read(mount + "/static-creds/app")
	if got := cur.Data["previous_access_key"]; got != firstKey.AccessKeyID {
		t.Errorf("previous_access_key = %v, want the first key %s (a second rotation replaced it?)", got, firstKey.AccessKeyID)
	}
	if last, err := time.Parse(time.RFC3339, fmt.Sprint(static.Data["last_rotated"])); err != nil || last.Before(t0.Add(59*time.Second)) {
		t.Errorf("last_rotated = %v, want at or after the due time %s", static.Data["last_rotated"], t0.Add(time.Minute).UTC().Format(time.RFC3339))
	}
	if keys := c.AccessKeys(staticRoleUser); len(keys) != 2 || !contains(keys, firstKey.AccessKeyID) || !contains(keys, fmt.Sprint(cur.Data["access_key"])) {
		t.Errorf("the static user holds %v, want the first key %s and the current one %v", keys, firstKey.AccessKeyID, cur.Data["access_key"])
	}
	if _, err := c.Identity(firstKey); err != nil {
		t.Errorf("the first key stopped working inside its grace period: %v", err)
	}
	newKey := aliyun.Credentials{AccessKeyID: cur.Data["access_key"].(string), AccessKeySecret: cur.Data["secret_key"].(string)}
	if _, err := c.Identity(newKey); err != nil {
		t.Errorf("the rotated static key does not work: %v", err)
	}

	// The root rotation: once, the old key refused, the engine working with the new one.
	if keys := c.AccessKeys(engineUser); len(keys) != 1 || keys[0] != cfg.Data["access_key"] {
		t.Errorf("the engine user holds %v, want only the new key %v", keys, cfg.Data["access_key"])
	}
	if _, err := c.Identity(c.EngineKey); aliyun.ErrorCode(err) != "InvalidAccessKeyId.NotFound" {
		t.Errorf("the rotated-out engine key: %v, want refused as not found", err)
	}
	tc.read(mount + "/config/identity")

	// The old node rejoins as a member and rotates nothing of its own.
	if err := tc.StartNode(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if got := c.Emu.Counters()["ram:CreateAccessKey"] - creates0; got != 2 {
		t.Errorf("after %s rejoined: %d AccessKeys created since the schedules were written, want 2", old.Name, got)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestClusterStepDown makes the active node step down again and again while clients issue both kinds of
// credentials through every node: no request fails with a server error, and once every lease is revoked nothing
// Vault made is left.
func TestClusterStepDown(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	tc := startCluster(t, c, "ALICLOUD_PLUGIN_WAL_ROLLBACK_MIN_AGE=5s")
	tc.write(mount+"/role/sts", map[string]any{"role_arn": c.ReadonlyARN, "ttl": "15m"})
	tc.write(mount+"/role/user", map[string]any{"remote_policies": []string{"name:ReadOnlyAccess,type:System"}, "ttl": "15m"})

	st := &loadStats{}
	stop := make(chan struct{})
	wg := tc.runLoad(stop, []string{"sts", "user"}, st)
	var leaders []string
	for i := 0; i < 4; i++ {
		time.Sleep(2 * time.Second)
		from, to, err := tc.StepDown(context.Background())
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		leaders = append(leaders, from.Name+"->"+to.Name)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("step-downs %s; load: %s", strings.Join(leaders, " "), st.summary())
	if n := st.serverErrors.Load(); n > 0 {
		t.Errorf("the clients got %d server errors (5xx other than 503) during step-downs", n)
	}
	if st.ok.Load() == 0 {
		t.Fatal("no credential was issued")
	}
	// Thousands of leases, half of them RAM users: revoked in the background (sync=false), and asked again while
	// the node that became active last is still loading them (the request can then outlast the client's timeout on
	// a loaded machine); the emulator's state says when it is done.
	eventually(t, 3*time.Minute, func() error {
		_, err := tc.active().Client.Logical().Write("sys/leases/revoke-prefix/"+mount+"/creds", map[string]any{"sync": false})
		return err
	})
	eventually(t, 3*time.Minute, func() error {
		if left := c.vaultMade(); len(left) > 0 {
			return fmt.Errorf("the emulator still holds what Vault made: %s", strings.Join(left, ", "))
		}
		return nil
	})
}
