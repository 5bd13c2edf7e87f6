package emulator_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

func TestCredentialsURI(t *testing.T) {
	clk := newTestClock()
	e, base := newEdgeEmulator(t, clk)

	t.Run("not configured", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+"/credentials-uri", nil)
		var doc struct{ Code, Message string }
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatalf("body %q is not JSON: %v", r.body, err)
		}
		if r.status != http.StatusNotFound || doc.Code != "CredentialsURI.NotConfigured" || doc.Message == "" {
			t.Fatalf("status %d body %s, want 404 CredentialsURI.NotConfigured", r.status, r.body)
		}
	})

	createRole(t, e, "UriRole", ecsTrust)
	createRole(t, e, "OtherRole", ecsTrust)
	createRole(t, e, "NotForEcs", rootTrust)
	e.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: "UriRole"})

	var first map[string]string
	t.Run("configured role", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+"/credentials-uri", nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(r.body), &raw); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"AccessKeyId", "AccessKeySecret", "Code", "Expiration", "SecurityToken"}; !slices.Equal(keys, want) {
			t.Fatalf("keys %v, want exactly %v", keys, want)
		}
		_ = json.Unmarshal([]byte(r.body), &first)
		if first["Code"] != "Success" || !metadataTime.MatchString(first["Expiration"]) {
			t.Errorf("Code %q Expiration %q", first["Code"], first["Expiration"])
		}
		id, err := callerIdentity(t, clk, base, nil, aliyun.Credentials{
			AccessKeyID: first["AccessKeyId"], AccessKeySecret: first["AccessKeySecret"], SecurityToken: first["SecurityToken"],
		})
		if err != nil {
			t.Fatalf("GetCallerIdentity with the URI session: %v", err)
		}
		if !strings.Contains(strings.ToLower(id.Arn), ":assumed-role/urirole/") {
			t.Errorf("Arn %s, want a session of UriRole", id.Arn)
		}
	})

	t.Run("reused until it nears expiry", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+"/credentials-uri", nil)
		var again map[string]string
		_ = json.Unmarshal([]byte(r.body), &again)
		if again["AccessKeyId"] != first["AccessKeyId"] {
			t.Error("a second call got a different session")
		}
		exp, _ := time.Parse(time.RFC3339, first["Expiration"])
		clk.Advance(exp.Sub(clk.Now()) - time.Minute)
		r = do(t, nil, http.MethodGet, base+"/credentials-uri", nil)
		_ = json.Unmarshal([]byte(r.body), &again)
		if again["AccessKeyId"] == first["AccessKeyId"] {
			t.Error("a session one minute from expiry was handed out again")
		}
	})

	t.Run("named role", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+"/credentials-uri/OtherRole", nil)
		var doc map[string]string
		_ = json.Unmarshal([]byte(r.body), &doc)
		if r.status != http.StatusOK || doc["AccessKeyId"] == "" {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		id, err := callerIdentity(t, clk, base, nil, aliyun.Credentials{
			AccessKeyID: doc["AccessKeyId"], AccessKeySecret: doc["AccessKeySecret"], SecurityToken: doc["SecurityToken"],
		})
		if err != nil || !strings.Contains(strings.ToLower(id.Arn), ":assumed-role/otherrole/") {
			t.Fatalf("identity %+v err %v, want a session of OtherRole", id, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name, method, path string
			wantStatus         int
			wantCode           string
		}{
			{"unknown role", http.MethodGet, "/credentials-uri/NoSuchRole", http.StatusNotFound, "EntityNotExist.Role"},
			{"role not trusting the service", http.MethodGet, "/credentials-uri/NotForEcs", http.StatusForbidden, ""},
			{"POST", http.MethodPost, "/credentials-uri", http.StatusMethodNotAllowed, "MethodNotAllowed"},
			{"nested path", http.MethodGet, "/credentials-uri/UriRole/x", http.StatusNotFound, "NotFound"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, nil, tc.method, base+tc.path, nil)
				var doc struct{ Code, Message, AccessKeyId string }
				if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
					t.Fatalf("body %q is not JSON", r.body)
				}
				if r.status != tc.wantStatus || doc.Code == "" || doc.AccessKeyId != "" ||
					(tc.wantCode != "" && doc.Code != tc.wantCode) {
					t.Fatalf("status %d body %s, want %d %s", r.status, r.body, tc.wantStatus, tc.wantCode)
				}
			})
		}
	})

	t.Run("faults", func(t *testing.T) {
		e.SetFaults(emulator.FaultConfig{Seed: 1, Rules: []emulator.FaultRule{
			{Action: "CredentialsURI", Kind: "throttle", Probability: 1, Count: 1},
		}})
		defer e.SetFaults(emulator.FaultConfig{})
		r := do(t, nil, http.MethodGet, base+"/credentials-uri", nil)
		if r.status == http.StatusOK || !strings.Contains(r.body, "Throttling") {
			t.Fatalf("status %d body %s, want an injected throttling error", r.status, r.body)
		}
		if r := do(t, nil, http.MethodGet, base+"/credentials-uri", nil); r.status != http.StatusOK {
			t.Fatalf("after the fault: status %d", r.status)
		}
	})

	// 1 + 1 + 2 + 1 + 4 + 2
	if got := e.Counters()["credentialsuri:GetCredentials"]; got != 11 {
		t.Errorf("credentialsuri:GetCredentials = %d, want 11", got)
	}
}
