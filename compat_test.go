package alicloud

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// These are the exact JSON shapes HashiCorp's vault-plugin-secrets-alicloud
// (v0.22) writes: the config entry, roles (ttl and max_ttl are Go durations
// in nanoseconds; inline policies carry a "hash"), and the internal data of
// its leases (role_type "ram" or "sts"; per-lease custom policies under
// inline_policies).

func putRaw(t *testing.T, e *testEnv, key, value string) {
	t.Helper()
	if !json.Valid([]byte(value)) {
		t.Fatalf("fixture %s is not JSON", key)
	}
	if err := e.s.Put(e.ctx, &logical.StorageEntry{Key: key, Value: []byte(value)}); err != nil {
		t.Fatal(err)
	}
}

// hashicorpLease builds a lease as Vault hands it back after a restart:
// internal data decoded from JSON.
func hashicorpLease(t *testing.T, internal string) *logical.Secret {
	t.Helper()
	s := &logical.Secret{}
	if err := json.Unmarshal([]byte(internal), &s.InternalData); err != nil {
		t.Fatal(err)
	}
	s.LeaseOptions = logical.LeaseOptions{TTL: time.Hour, Renewable: true}
	return s
}

func TestCompat_HashiCorpStorage(t *testing.T) {
	e := newTestEnv(t)
	// HashiCorp's config has no endpoint fields: point the transport at the
	// emulator through a partial update after loading it.
	putRaw(t, e, "config", `{"access_key":"`+e.engineKeyID+`","secret_key":"`+e.engineSecret+`"}`)
	read := e.ok(logical.ReadOperation, "config", nil).Data
	if read["credential_type"] != "access_key" || read["access_key"] != e.engineKeyID || read["secret_key_set"] != true || read["max_retries"] != -1 {
		t.Fatalf("HashiCorp config reads as %v", read)
	}
	// Pointing the stored secret at other endpoints needs the secret again.
	e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"sts_endpoint": e.url, "ram_endpoint": e.url}, "secret_key: required when sts_endpoint changes")
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"sts_endpoint": e.url, "ram_endpoint": e.url, "secret_key": e.engineSecret})
	var stored map[string]interface{}
	entry, _ := e.s.Get(e.ctx, "config")
	_ = json.Unmarshal(entry.Value, &stored)
	if stored["access_key"] != e.engineKeyID || stored["secret_key"] != e.engineSecret {
		t.Fatalf("the updated config lost HashiCorp's fields: %v", stored)
	}

	docJSON := `{"Statement":[{"Action":["ecs:DescribeRegions"],"Effect":"Allow","Resource":["*"]}],"Version":"1"}`
	putRaw(t, e, "role/legacy-sts", `{"role_arn":"`+e.readerARN+`","remote_policies":null,"inline_policies":null,"ttl":60000000000,"max_ttl":0}`)
	putRaw(t, e, "role/legacy-ram", `{"role_arn":"","remote_policies":[{"name":"AliyunOSSReadOnlyAccess","type":"System"}],`+
		`"inline_policies":[{"hash":"6f1ed002ab5595859014ebf0951522d9","policy_document":`+docJSON+`}],"ttl":3600000000000,"max_ttl":7200000000000}`)

	t.Run("roles read", func(t *testing.T) {
		e.t = t
		sts := e.ok(logical.ReadOperation, "role/legacy-sts", nil).Data
		if sts["credential_type"] != "assumed_role" || sts["role_arn"] != e.readerARN || sts["ttl"] != int64(60) {
			t.Errorf("legacy STS role = %v", sts)
		}
		ram := e.ok(logical.ReadOperation, "role/legacy-ram", nil).Data
		if ram["credential_type"] != "ram_user" || ram["ttl"] != int64(3600) || ram["max_ttl"] != int64(7200) {
			t.Errorf("legacy RAM role = %v", ram)
		}
		if rp := ram["remote_policies"].([]*remotePolicy); len(rp) != 1 || *rp[0] != (remotePolicy{"AliyunOSSReadOnlyAccess", "System"}) {
			t.Errorf("remote_policies = %v", rp)
		}
		if ip := ram["inline_policies"].([]*inlinePolicy); len(ip) != 1 || ip[0].UUID != "6f1ed002ab5595859014ebf0951522d9" {
			t.Errorf("inline_policies = %v", ip)
		}
		if keys := e.ok(logical.ListOperation, "role/", nil).Data["keys"]; !reflect.DeepEqual(keys, []string{"legacy-ram", "legacy-sts"}) {
			t.Errorf("list = %v", keys)
		}
	})

	t.Run("STS role used", func(t *testing.T) {
		e.t = t
		resp := e.ok(logical.ReadOperation, "creds/legacy-sts", nil)
		// HashiCorp ignored the ttl of STS roles; so do we for its roles.
		if got := resp.Data["expiration"].(time.Time).Sub(e.clock.Now()); got != time.Hour {
			t.Errorf("duration = %s, want the default 1h", got)
		}
		e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":assumed-role/reader/")
	})

	t.Run("RAM role used", func(t *testing.T) {
		e.t = t
		resp := e.ok(logical.ReadOperation, "creds/legacy-ram", nil)
		// The first issue created the role's shared policy once.
		role, err := readRole(e.ctx, e.s, "legacy-ram")
		if err != nil || !reflect.DeepEqual(role.InlinePolicyNames, []string{"vault-5f0c1a2b-legacy-ram-0"}) {
			t.Fatalf("migrated role = %+v, %v", role, err)
		}
		if role.InlinePolicies[0].UUID != "6f1ed002ab5595859014ebf0951522d9" || role.TTL != time.Hour {
			t.Errorf("migration changed HashiCorp's fields: %+v", role)
		}
		if resp.Secret.TTL != time.Hour || resp.Secret.MaxTTL != 2*time.Hour {
			t.Errorf("lease ttl %s max %s", resp.Secret.TTL, resp.Secret.MaxTTL)
		}
		user := resp.Secret.InternalData["username"].(string)
		e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":user/"+user)
		creates := e.emu.Counters()["ram:CreatePolicy"]
		second := e.ok(logical.ReadOperation, "creds/legacy-ram", nil)
		if got := e.emu.Counters()["ram:CreatePolicy"]; got != creates {
			t.Errorf("a second issue created %d more policies", got-creates)
		}
		for _, r := range []*logical.Response{resp, second} {
			if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, r.Secret)}); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("HashiCorp RAM lease renewed and revoked", func(t *testing.T) {
		e.t = t
		// What HashiCorp's plugin created for one lease: a user, a custom
		// policy for that lease alone, the role's remote policy, a key.
		user := "token-legacy-ram-1700000000-4821"
		perLease := user + "-6f1ed002ab5595859014ebf0951522d9"
		if err := e.emu.CreateUser(user); err != nil {
			t.Fatal(err)
		}
		if err := e.emu.CreatePolicy(perLease, docJSON); err != nil {
			t.Fatal(err)
		}
		for _, p := range [][2]string{{"Custom", perLease}, {"System", "AliyunOSSReadOnlyAccess"}} {
			if err := e.emu.AttachPolicy("user", user, p[0], p[1]); err != nil {
				t.Fatal(err)
			}
		}
		keyID, keySecret, err := e.emu.CreateAccessKey(user)
		if err != nil {
			t.Fatal(err)
		}
		e.addSecret(keySecret)
		lease := hashicorpLease(t, `{"secret_type":"alicloud","role_type":"ram","role_name":"legacy-ram","username":"`+user+
			`","access_key_id":"`+keyID+`","inline_policies":[{"name":"`+perLease+`","type":"Custom"}],`+
			`"remote_policies":[{"name":"AliyunOSSReadOnlyAccess","type":"System"}]}`)

		renewed, err := e.renew(&logical.Response{Secret: lease})
		if err != nil || renewed.Secret.TTL != time.Hour || renewed.Secret.MaxTTL != 2*time.Hour {
			t.Fatalf("renew of a HashiCorp lease = %v, %v", renewed, err)
		}
		if err := e.revoke(&logical.Response{Secret: lease}); err != nil {
			t.Fatalf("revoke of a HashiCorp lease: %v", err)
		}
		if e.user(user) != nil {
			t.Fatal("HashiCorp's user survived the revocation")
		}
		if e.policy(perLease) != nil {
			t.Fatal("HashiCorp's per-lease policy survived the revocation")
		}
		if e.policy("vault-5f0c1a2b-legacy-ram-0") == nil {
			t.Fatal("the role's shared policy was deleted by the revocation of a HashiCorp lease")
		}
		// Revoking again (Vault retries) is harmless.
		if err := e.revoke(&logical.Response{Secret: lease}); err != nil {
			t.Fatalf("second revoke: %v", err)
		}
	})

	t.Run("HashiCorp STS lease", func(t *testing.T) {
		e.t = t
		lease := hashicorpLease(t, `{"secret_type":"alicloud","role_type":"sts"}`)
		if r, err := e.renew(&logical.Response{Secret: lease}); err != nil || r != nil {
			t.Errorf("renew = %v, %v", r, err)
		}
		if err := e.revoke(&logical.Response{Secret: lease}); err != nil {
			t.Errorf("revoke = %v", err)
		}
		bad := hashicorpLease(t, `{"secret_type":"alicloud","role_type":"federation"}`)
		if err := e.revoke(&logical.Response{Secret: bad}); err == nil || !strings.Contains(err.Error(), "unrecognized role_type: federation") {
			t.Errorf("unknown role_type: %v", err)
		}
	})

	t.Run("legacy STS role rewritten", func(t *testing.T) {
		e.t = t
		resp := e.ok(logical.UpdateOperation, "role/legacy-sts", map[string]interface{}{"external_id": "abc123"})
		if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "have been cleared") {
			t.Fatalf("warnings = %v", resp)
		}
		read := e.ok(logical.ReadOperation, "role/legacy-sts", nil).Data
		if read["ttl"] != int64(0) || read["external_id"] != "abc123" || read["role_arn"] != e.readerARN {
			t.Errorf("rewritten role = %v", read)
		}
	})

	t.Run("our roles keep HashiCorp's fields", func(t *testing.T) {
		e.t = t
		e.ok(logical.CreateOperation, "role/ours", map[string]interface{}{"remote_policies": []string{"name:AliyunOSSReadOnlyAccess,type:System"}, "ttl": "1h", "max_ttl": "2h"})
		entry, _ := e.s.Get(e.ctx, "role/ours")
		var raw map[string]interface{}
		if err := json.Unmarshal(entry.Value, &raw); err != nil {
			t.Fatal(err)
		}
		want := map[string]interface{}{"role_arn": "", "ttl": float64(3600e9), "max_ttl": float64(7200e9),
			"remote_policies": []interface{}{map[string]interface{}{"name": "AliyunOSSReadOnlyAccess", "type": "System"}}, "inline_policies": nil}
		for k, v := range want {
			if !reflect.DeepEqual(raw[k], v) {
				t.Errorf("stored %s = %#v, want %#v", k, raw[k], v)
			}
		}
		// Our lease data carries HashiCorp's keys too.
		resp := e.ok(logical.ReadOperation, "creds/ours", nil)
		in := leaseRoundTrip(t, resp.Secret).InternalData
		for _, k := range []string{"role_type", "role_name", "username", "access_key_id", "inline_policies", "remote_policies"} {
			if _, ok := in[k]; !ok {
				t.Errorf("lease data lacks %s: %v", k, in)
			}
		}
		if err := e.revoke(resp); err != nil {
			t.Fatal(err)
		}
	})
	e.t = t
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("users left: %v", users)
	}
}
