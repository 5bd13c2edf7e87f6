package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/hashicorp/vault/api"
)

// TestEngine drives one Vault server through the operator's whole workflow: install, configure, roles, dynamic
// credentials of both kinds, lease revocation, and root rotation. The subtests run in order and build on each other.
func TestEngine(t *testing.T) {
	requireSuite(t)
	t.Parallel() // each test has its own Vault and emulator
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	v.installPlugin()

	steps := []struct {
		name string
		run  func(t *testing.T, v *vaultServer, c *cloud)
	}{
		{"config write checks the identity", testConfig},
		{"path-help for every path", testPathHelp},
		{"role CRUD", testRoleCRUD},
		{"assumed_role credentials", testAssumedRoleCreds},
		{"ram_user credentials and lease revoke", testRAMUserCreds},
		{"lease revoke -prefix over 100 leases", testRevokePrefix},
		{"rotate-root", testRotateRoot},
	}
	for _, s := range steps {
		// Later steps need what earlier ones set up, so the first failure stops the sequence.
		if !t.Run(s.name, func(t *testing.T) { s.run(t, v.withT(t), c.withT(t)) }) {
			t.FailNow()
		}
	}
}

// withT returns a copy of v that reports to t, so a subtest's failure is attributed to it.
func (v *vaultServer) withT(t testing.TB) *vaultServer {
	cp := *v
	cp.t = t
	return &cp
}

// withT returns a copy of c that reports to t.
func (c *cloud) withT(t testing.TB) *cloud {
	cp := *c
	cp.t = t
	return &cp
}

// engineConfig is the config the tests write: the engine's key and the emulator as both endpoints.
func engineConfig(c *cloud, key aliyun.Credentials) map[string]any {
	return map[string]any{
		"access_key":   key.AccessKeyID,
		"secret_key":   key.AccessKeySecret,
		"sts_endpoint": c.URL,
		"ram_endpoint": c.URL,
	}
}

// configure writes the engine's config and fails the test when Vault refuses it.
func configure(t *testing.T, v *vaultServer, c *cloud) *api.Secret {
	t.Helper()
	return v.Write(mount+"/config", engineConfig(c, c.EngineKey))
}

func testConfig(t *testing.T, v *vaultServer, c *cloud) {
	wrong := c.EngineKey
	wrong.AccessKeySecret = "WrongSecretWrongSecretWrong123"
	_, err := v.Client.Logical().Write(mount+"/config", engineConfig(c, wrong))
	if err == nil {
		t.Fatal("config write with a wrong secret_key succeeded; the identity check should refuse it")
	}
	status, msg := responseError(t, err)
	if status != 400 {
		t.Errorf("config write with a wrong secret_key: status %d, want 400 (%s)", status, msg)
	}
	if strings.Contains(msg, wrong.AccessKeySecret) {
		t.Errorf("the refusal repeats the secret key: %s", msg)
	}
	if !strings.Contains(msg, "GetCallerIdentity") && !strings.Contains(strings.ToLower(msg), "identity") {
		t.Errorf("the refusal does not say the identity check failed: %s", msg)
	}
	if s := v.Read(mount + "/config"); s != nil && s.Data["access_key"] == c.EngineKey.AccessKeyID {
		t.Errorf("a refused config was stored: %v", s.Data)
	}

	wantARN := fmt.Sprintf("acs:ram::%s:user/%s", c.AccountID, engineUser)
	resp := configure(t, v, c)
	if resp == nil {
		t.Fatal("config write returned no identity")
	}
	checkIdentity(t, "config write", resp.Data, c.AccountID, wantARN)

	// The secret never comes back; the read says which secrets are set.
	var read api.Secret
	v.CLIJSON(&read, "read", "-format=json", mount+"/config")
	if got := read.Data["access_key"]; got != c.EngineKey.AccessKeyID {
		t.Errorf("config read: access_key = %v, want %s", got, c.EngineKey.AccessKeyID)
	}
	if got := read.Data["secret_key_set"]; got != true {
		t.Errorf("config read: secret_key_set = %v, want true", got)
	}
	if got := read.Data["sts_endpoint"]; got != c.URL {
		t.Errorf("config read: sts_endpoint = %v, want %s", got, c.URL)
	}
	raw, _ := json.Marshal(read.Data)
	if strings.Contains(string(raw), c.EngineKey.AccessKeySecret) {
		t.Errorf("config read returns the secret key: %s", raw)
	}

	var ident api.Secret
	v.CLIJSON(&ident, "read", "-format=json", mount+"/config/identity")
	checkIdentity(t, "config/identity", ident.Data, c.AccountID, wantARN)
}

// checkIdentity asserts that an identity answer (config write, config/identity) names the account and the engine's
// RAM user.
func checkIdentity(t *testing.T, what string, data map[string]any, account, arn string) {
	t.Helper()
	wantFields(t, what, data, map[string]any{"account_id": account, "identity_type": "RAMUser", "arn": arn})
}

// openAPIPaths returns the plugin's paths as its OpenAPI document lists them, relative to the mount.
func openAPIPaths(t *testing.T, v *vaultServer) map[string]openAPIPath {
	t.Helper()
	var doc struct {
		Paths map[string]openAPIPath `json:"paths"`
	}
	httpGetJSON(t, v.Addr+"/v1/sys/internal/specs/openapi", v.RootToken, &doc)
	out := map[string]openAPIPath{}
	for p, item := range doc.Paths {
		if rel, ok := strings.CutPrefix(p, "/"+mount+"/"); ok {
			out[rel] = item
		}
	}
	return out
}

// openAPIPath is the part of an OpenAPI path item the tests look at.
type openAPIPath struct {
	Description string          `json:"description"`
	Get         json.RawMessage `json:"get"`
	Post        json.RawMessage `json:"post"`
	Delete      json.RawMessage `json:"delete"`
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

func testPathHelp(t *testing.T, v *vaultServer, c *cloud) {
	paths := openAPIPaths(t, v)
	for _, want := range []string{"config", "config/identity", "config/rotate-root", "role/", "role/{name}", "creds/{name}"} {
		if _, ok := paths[want]; !ok {
			names := make([]string, 0, len(paths))
			for p := range paths {
				names = append(names, p)
			}
			sort.Strings(names)
			t.Errorf("OpenAPI document has no path %q; it has %v", want, names)
		}
	}
	for p, item := range paths {
		concrete := pathParam.ReplaceAllString(p, "example")
		t.Run(concrete, func(t *testing.T) {
			if item.Description == "" {
				t.Errorf("OpenAPI path %s has no description", p)
			}
			out := v.MustCLI("path-help", mount+"/"+concrete)
			for _, want := range []string{"Request:", "Matching Route:"} {
				if !strings.Contains(out, want) {
					t.Errorf("vault path-help %s/%s lacks %q:\n%s", mount, concrete, want, out)
				}
			}
			if strings.Contains(out, "## DESCRIPTION\n\n\n") || !strings.Contains(out, "## DESCRIPTION") {
				t.Errorf("vault path-help %s/%s has no description:\n%s", mount, concrete, out)
			}
		})
	}
}

func testRoleCRUD(t *testing.T, v *vaultServer, c *cloud) {
	path := mount + "/role/crud-test"
	v.MustCLI("write", path, "role_arn="+c.ReadonlyARN, "ttl=1h")
	r := v.Read(path)
	if r == nil {
		t.Fatalf("read %s after write: not found", path)
	}
	wantFields(t, path, r.Data, map[string]any{
		"role_arn":        c.ReadonlyARN,
		"credential_type": "assumed_role",
		"ttl":             json.Number("3600"),
	})

	// A partial update changes only what it names.
	v.MustCLI("write", path, "ttl=30m")
	r = v.Read(path)
	wantFields(t, path, r.Data, map[string]any{"role_arn": c.ReadonlyARN, "ttl": json.Number("1800")})

	res := v.CLI("write", path, "ttl=10s")
	if res.Err == nil || !strings.Contains(res.Stderr, "ttl") {
		t.Errorf("ttl=10s for an assumed_role role: want a refusal naming ttl, got err=%v stderr=%s", res.Err, res.Stderr)
	}
	res = v.CLI("write", mount+"/role/bad-arn", "role_arn=arn:aws:iam::123:role/x")
	if res.Err == nil || !strings.Contains(res.Stderr, "role_arn") {
		t.Errorf("a malformed role_arn: want a refusal naming role_arn, got err=%v stderr=%s", res.Err, res.Stderr)
	}

	v.MustCLI("write", mount+"/role/crud-ram", "remote_policies=name:ReadOnlyAccess,type:System", "ttl=10m", "max_ttl=1h")
	r = v.Read(mount + "/role/crud-ram")
	wantFields(t, "role/crud-ram", r.Data, map[string]any{"credential_type": "ram_user", "ttl": json.Number("600"), "max_ttl": json.Number("3600")})

	list, err := v.Client.Logical().List(mount + "/role")
	if err != nil || list == nil {
		t.Fatalf("list %s/role: %v", mount, err)
	}
	keys := fmt.Sprint(list.Data["keys"])
	for _, name := range []string{"crud-test", "crud-ram"} {
		if !strings.Contains(keys, name) {
			t.Errorf("list %s/role = %s, missing %s", mount, keys, name)
		}
	}
	if strings.Contains(keys, "bad-arn") {
		t.Errorf("list %s/role = %s includes a role that was refused", mount, keys)
	}

	for _, name := range []string{"crud-test", "crud-ram"} {
		v.MustCLI("delete", mount+"/role/"+name)
		if r := v.Read(mount + "/role/" + name); r != nil {
			t.Errorf("role %s still readable after delete: %v", name, r.Data)
		}
	}
}

// wantFields compares selected fields of a response; numbers compare by their decimal text.
func wantFields(t *testing.T, what string, data map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := data[k]
		if !ok {
			t.Errorf("%s: no field %s in %v", what, k, data)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: %s = %v, want %v", what, k, got, w)
		}
	}
}

// secretJSON is `vault read -format=json` output for a leased secret.
type secretJSON struct {
	LeaseID       string         `json:"lease_id"`
	LeaseDuration int            `json:"lease_duration"`
	Renewable     bool           `json:"renewable"`
	Data          map[string]any `json:"data"`
}

func (s secretJSON) str(t testing.TB, key string) string {
	t.Helper()
	v, ok := s.Data[key].(string)
	if !ok || v == "" {
		t.Fatalf("credentials lack %s: fields %v", key, keysOf(s.Data))
	}
	return v
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func testAssumedRoleCreds(t *testing.T, v *vaultServer, c *cloud) {
	v.MustCLI("write", mount+"/role/readonly", "role_arn="+c.ReadonlyARN, "ttl=1h")
	var s secretJSON
	v.CLIJSON(&s, "read", "-format=json", mount+"/creds/readonly")
	creds := aliyun.Credentials{
		AccessKeyID:     s.str(t, "access_key"),
		AccessKeySecret: s.str(t, "secret_key"),
		SecurityToken:   s.str(t, "security_token"),
	}
	exp, err := time.Parse(time.RFC3339, s.str(t, "expiration"))
	if err != nil {
		t.Fatalf("expiration %q: %v", s.Data["expiration"], err)
	}
	if left := time.Until(exp); left < 50*time.Minute || left > 61*time.Minute {
		t.Errorf("expiration %s is %s away, want about 1h (ttl=1h)", exp, left)
	}
	if !strings.HasPrefix(s.LeaseID, mount+"/creds/readonly/") {
		t.Errorf("lease_id = %q, want it under %s/creds/readonly/", s.LeaseID, mount)
	}
	if s.Renewable {
		t.Error("STS credentials' lease is renewable; they cannot be extended")
	}
	if s.LeaseDuration < 50*60 || s.LeaseDuration > 3600 {
		t.Errorf("lease_duration = %d, want the time to the credentials' expiry (about 3600)", s.LeaseDuration)
	}

	id, err := c.Identity(creds)
	if err != nil {
		t.Fatalf("GetCallerIdentity with the issued STS credentials: %v", err)
	}
	if id.IdentityType != "AssumedRoleUser" || id.AccountID != c.AccountID ||
		!strings.HasPrefix(id.Arn, fmt.Sprintf("acs:ram::%s:assumed-role/%s/", c.AccountID, readonlyRole)) {
		t.Errorf("GetCallerIdentity = %+v, want an AssumedRoleUser of role %s in account %s", id, readonlyRole, c.AccountID)
	}
	// AssumeRole names the session under the role's ARN; GetCallerIdentity under assumed-role/.
	session := id.Arn[strings.LastIndex(id.Arn, "/")+1:]
	if arn, want := s.str(t, "arn"), c.ReadonlyARN+"/"+session; arn != want {
		t.Errorf("creds arn = %s, want %s (GetCallerIdentity says %s)", arn, want, id.Arn)
	}

	// The role holds ReadOnlyAccess: reading RAM works, changing it does not.
	ctx := t.Context()
	cl := c.Client(creds)
	if _, err := cl.ListUsers(ctx); err != nil {
		t.Errorf("ListUsers with read-only credentials: %v", err)
	}
	if _, err := cl.CreateUser(ctx, aliyun.CreateUserInput{UserName: "should-not-exist"}); !aliyun.IsAccessDenied(err) {
		t.Errorf("CreateUser with read-only credentials: want access denied, got %v", err)
	}
}

func testRAMUserCreds(t *testing.T, v *vaultServer, c *cloud) {
	if got := c.VaultUsers(); len(got) != 0 {
		t.Fatalf("RAM users exist before any ram_user lease: %v", got)
	}
	v.MustCLI("write", mount+"/role/developer", "remote_policies=name:ReadOnlyAccess,type:System", "ttl=30m", "max_ttl=1h")
	var s secretJSON
	v.CLIJSON(&s, "read", "-format=json", mount+"/creds/developer")
	key := aliyun.Credentials{AccessKeyID: s.str(t, "access_key"), AccessKeySecret: s.str(t, "secret_key")}
	if !s.Renewable || s.LeaseDuration != 1800 {
		t.Errorf("ram_user lease: renewable=%v duration=%d, want renewable with the role's ttl 1800", s.Renewable, s.LeaseDuration)
	}

	users := c.VaultUsers()
	if len(users) != 1 || !strings.Contains(users[0], "developer") {
		t.Fatalf("after one ram_user lease the account has Vault-made users %v, want one named after the role", users)
	}
	id, err := c.Identity(key)
	if err != nil {
		t.Fatalf("GetCallerIdentity with the issued AccessKey: %v", err)
	}
	if want := fmt.Sprintf("acs:ram::%s:user/%s", c.AccountID, users[0]); id.IdentityType != "RAMUser" || id.Arn != want {
		t.Errorf("GetCallerIdentity = %+v, want RAMUser %s", id, want)
	}
	if got := c.AccessKeys(users[0]); len(got) != 1 || got[0] != key.AccessKeyID {
		t.Errorf("user %s has keys %v, want only %s", users[0], got, key.AccessKeyID)
	}

	v.MustCLI("lease", "revoke", s.LeaseID)
	eventually(t, 60*time.Second, func() error {
		if got := c.VaultUsers(); len(got) != 0 {
			return fmt.Errorf("users still present after vault lease revoke: %v", got)
		}
		return nil
	})
	if _, err := c.Identity(key); !aliyun.IsAuthFailure(err) {
		t.Errorf("the revoked key still authenticates, or fails for another reason: %v", err)
	}
}

func testRevokePrefix(t *testing.T, v *vaultServer, c *cloud) {
	const leases = 100
	v.MustCLI("write", mount+"/role/bulk", "remote_policies=name:ReadOnlyAccess,type:System", "ttl=1h")
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		jobs = make(chan int)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				s, err := v.Client.Logical().Read(mount + "/creds/bulk")
				if err == nil && (s == nil || s.LeaseID == "") {
					err = fmt.Errorf("no lease in %+v", s)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range leases {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d credential reads failed; first: %v", len(errs), leases, errs[0])
	}
	if got := c.VaultUsers(); len(got) != leases {
		t.Fatalf("after %d ram_user leases the account has %d Vault-made users", leases, len(got))
	}

	v.MustCLI("lease", "revoke", "-prefix", mount+"/")
	// Revocation is queued: Vault revokes each lease (the plugin deletes the user), then drops the lease entry.
	eventually(t, 2*time.Minute, func() error {
		if got := c.VaultUsers(); len(got) != 0 {
			return fmt.Errorf("%d Vault-made users remain after vault lease revoke -prefix %s/, e.g. %s", len(got), mount, got[0])
		}
		list, err := v.Client.Logical().List("sys/leases/lookup/" + mount + "/creds/bulk/")
		if err != nil {
			return fmt.Errorf("listing leases: %w", err)
		}
		if list != nil {
			if keys, _ := list.Data["keys"].([]any); len(keys) > 0 {
				return fmt.Errorf("%d leases remain under %s/creds/bulk/", len(keys), mount)
			}
		}
		return nil
	})
}

func testRotateRoot(t *testing.T, v *vaultServer, c *cloud) {
	old := c.EngineKey.AccessKeyID
	var s secretJSON
	v.CLIJSON(&s, "write", "-format=json", "-f", mount+"/config/rotate-root")
	newID := s.str(t, "access_key")
	if newID == old {
		t.Fatalf("rotate-root returned the old key %s", old)
	}
	raw, _ := json.Marshal(s.Data)
	if strings.Contains(string(raw), "secret") {
		t.Errorf("rotate-root answer carries a secret: %s", raw)
	}
	if got := c.AccessKeys(engineUser); len(got) != 1 || got[0] != newID {
		t.Errorf("after rotate-root %s has keys %v, want only the new %s", engineUser, got, newID)
	}
	if _, err := c.Identity(c.EngineKey); !aliyun.IsAuthFailure(err) {
		t.Errorf("the old engine key still authenticates, or fails for another reason: %v", err)
	}
	if got := v.Read(mount + "/config").Data["access_key"]; got != newID {
		t.Errorf("config access_key = %v after rotate-root, want %s", got, newID)
	}

	// Vault keeps working on the new key, for both kinds of credentials.
	var sts secretJSON
	v.CLIJSON(&sts, "read", "-format=json", mount+"/creds/readonly")
	if _, err := c.Identity(aliyun.Credentials{AccessKeyID: sts.str(t, "access_key"), AccessKeySecret: sts.str(t, "secret_key"), SecurityToken: sts.str(t, "security_token")}); err != nil {
		t.Errorf("STS credentials issued after rotate-root do not work: %v", err)
	}
	var ram secretJSON
	v.CLIJSON(&ram, "read", "-format=json", mount+"/creds/developer")
	if _, err := c.Identity(aliyun.Credentials{AccessKeyID: ram.str(t, "access_key"), AccessKeySecret: ram.str(t, "secret_key")}); err != nil {
		t.Errorf("a RAM user key issued after rotate-root does not work: %v", err)
	}
	v.MustCLI("lease", "revoke", "-sync", ram.LeaseID)
	if got := c.VaultUsers(); len(got) != 0 {
		t.Errorf("revoking with the rotated key left users %v", got)
	}
}
