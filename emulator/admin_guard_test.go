package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// adminRequest sends one admin request with the given Host and headers.
func adminRequest(t *testing.T, e *Emulator, method, path, host, body string, hdr map[string]string) *result {
	t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return serve(t, e, req)
}

// expectRefused fails unless res is a refusal by rule with status.
func expectRefused(t *testing.T, res *result, status int, rule string) {
	t.Helper()
	if res.status != status || res.str("rule") != rule || !strings.HasPrefix(res.str("error"), "admin API: ") {
		t.Fatalf("want %d rule %s, got %d: %s", status, rule, res.status, res.raw)
	}
}

func TestAdminHostRule(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	e.SetListenerAddrs("emu.internal:9000", "10.0.0.5:8100", "0.0.0.0:8101", ":8102", "[::]:8103")
	tests := []struct {
		host string
		ok   bool
	}{
		{"localhost", true},
		{"localhost:8100", true},
		{"LocalHost:1", true},
		{"127.0.0.1", true},
		{"127.0.0.1:8100", true},
		{"127.3.4.5:80", true},
		{"[::1]", true},
		{"[::1]:8100", true},
		{"emu.internal:9000", true},
		{"EMU.internal:9000", true},
		{"10.0.0.5:8100", true},
		{"", false},
		{"evil.example", false},
		{"evil.example:8100", false},
		{"127.0.0.1.nip.io:8100", false},
		{"localhost.evil.example:8100", false},
		{"sts.aliyuncs.com", false},
		{"emu.internal:9001", false},
		{"emu.internal", false},
		{"10.0.0.5:8101", false},
		{"0.0.0.0:8101", false},
		{":8102", false},
		{"[::]:8103", false},
		{"128.0.0.1:8100", false},
		{"[::2]:8100", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			res := adminRequest(t, e, http.MethodGet, "/_emulator/counters", tt.host, "", nil)
			if tt.ok {
				if res.status != http.StatusOK {
					t.Fatalf("Host %q: %d %s, want 200", tt.host, res.status, res.raw)
				}
				return
			}
			expectRefused(t, res, http.StatusForbidden, adminRuleHost)
			if !strings.Contains(res.str("error"), "loopback") {
				t.Fatalf("the error does not name the rule: %s", res.raw)
			}
		})
	}
}

func TestAdminRefusalsChangeNothing(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	if err := e.CreateUser("keep-me"); err != nil {
		t.Fatal(err)
	}
	const local = "127.0.0.1:8100"
	faults := `{"rules":[{"action":"*","kind":"5xx"}]}`
	tests := []struct {
		name, method, path, host, body string
		hdr                            map[string]string
		status                         int
		rule                           string
	}{
		{"rebound host resets", http.MethodPost, "/_emulator/reset", "attacker.example:8100", "", nil, 403, adminRuleHost},
		{"rebound host sets faults", http.MethodPut, "/_emulator/faults", "attacker.example", faults,
			map[string]string{"Content-Type": "application/json"}, 403, adminRuleHost},
		{"cross-origin form post", http.MethodPost, "/_emulator/reset", local, "a=b",
			map[string]string{"Origin": "https://attacker.example", "Content-Type": "application/x-www-form-urlencoded"}, 403, adminRuleOrigin},
		{"Origin null", http.MethodPost, "/_emulator/reset", local, "", map[string]string{"Origin": "null"}, 403, adminRuleOrigin},
		{"Origin of the emulator itself", http.MethodDelete, "/_emulator/counters", local, "", map[string]string{"Origin": "http://" + local}, 403, adminRuleOrigin},
		{"Origin on a JSON put", http.MethodPut, "/_emulator/faults", local, faults,
			map[string]string{"Origin": "https://attacker.example", "Content-Type": "application/json"}, 403, adminRuleOrigin},
		{"Sec-Fetch-Site cross-site", http.MethodPost, "/_emulator/reset", local, "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, adminRuleCrossSite},
		{"Sec-Fetch-Site same-site", http.MethodDelete, "/_emulator/faults", local, "", map[string]string{"Sec-Fetch-Site": "Same-Site"}, 403, adminRuleCrossSite},
		{"text/plain body", http.MethodPut, "/_emulator/faults", local, faults, map[string]string{"Content-Type": "text/plain"}, 415, adminRuleContentType},
		{"form body", http.MethodPut, "/_emulator/faults", local, faults, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, adminRuleContentType},
		{"body without Content-Type", http.MethodPut, "/_emulator/faults", local, faults, nil, 415, adminRuleContentType},
		{"unparsable Content-Type", http.MethodPut, "/_emulator/faults", local, faults, map[string]string{"Content-Type": "application/json;;"}, 415, adminRuleContentType},
		{"mint token without Content-Type", http.MethodPost, "/_emulator/oidc/token", local, `{"provider":"p","subject":"s"}`, nil, 415, adminRuleContentType},
		{"mint token by a rebound host", http.MethodPost, "/_emulator/oidc/token", "attacker.example", `{"provider":"p","subject":"s"}`,
			map[string]string{"Content-Type": "application/json"}, 403, adminRuleHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectRefused(t, adminRequest(t, e, tt.method, tt.path, tt.host, tt.body, tt.hdr), tt.status, tt.rule)
			if v := e.Snapshot(); len(v.Users) != 1 || v.Users[0].Name != "keep-me" {
				t.Fatalf("a refused request changed the users: %+v", v.Users)
			}
			if f := e.Faults(); len(f.Rules) != 0 {
				t.Fatalf("a refused request set faults: %+v", f)
			}
		})
	}
}

func TestAdminAcceptedRequests(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	const local = "localhost:8100"
	jsonType := map[string]string{"Content-Type": "application/json; charset=utf-8"}
	res := adminRequest(t, e, http.MethodPut, "/_emulator/faults", local, `{"rules":[{"action":"ListUsers","kind":"throttle"}]}`, jsonType)
	if res.status != 200 || len(e.Faults().Rules) != 1 {
		t.Fatalf("PUT faults with application/json; charset=utf-8: %d %s", res.status, res.raw)
	}
	res = adminRequest(t, e, http.MethodDelete, "/_emulator/faults", local, "", map[string]string{"Sec-Fetch-Site": "same-origin"})
	if res.status != http.StatusNoContent || len(e.Faults().Rules) != 0 {
		t.Fatalf("DELETE faults with Sec-Fetch-Site same-origin: %d %s", res.status, res.raw)
	}
	if err := e.CreateUser("gone-after-reset"); err != nil {
		t.Fatal(err)
	}
	// A body-less POST needs no Content-Type (curl -X POST sends none).
	res = adminRequest(t, e, http.MethodPost, "/_emulator/reset", "[::1]:8100", "", map[string]string{"Sec-Fetch-Site": "none"})
	if res.status != http.StatusNoContent || len(e.Snapshot().Users) != 0 {
		t.Fatalf("POST reset: %d %s", res.status, res.raw)
	}
	// Reads may come with an Origin: a page cannot read the answer without
	// CORS headers, which the emulator never sends.
	res = adminRequest(t, e, http.MethodGet, "/_emulator/state", local, "", map[string]string{"Origin": "https://attacker.example"})
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET state with Origin: %d %v", res.status, res.header)
	}
	// The OIDC issuer's public documents answer under any Host.
	for _, path := range []string{"/_emulator/oidc/.well-known/openid-configuration", "/_emulator/oidc/jwks"} {
		if res := adminRequest(t, e, http.MethodGet, path, "issuer.example", "", nil); res.status != 200 {
			t.Fatalf("GET %s with a foreign Host: %d %s", path, res.status, res.raw)
		}
	}
	// RPC calls keep accepting any Host.
	c := e.rootClient(t)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.params("GetCallerIdentity").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://attacker.example")
	req.Host = "sts.aliyuncs.com"
	if res := serve(t, e, req); res.status != 200 || res.str("AccountId") != DefaultAccountID {
		t.Fatalf("RPC with Host sts.aliyuncs.com: %d %s", res.status, res.raw)
	}
}

// TestAdminOverHTTP checks the rules on a real listener, where the Host
// header and the body framing come from net/http.
func TestAdminOverHTTP(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	srv := httptest.NewServer(e)
	defer srv.Close()
	body := `{"rules":[{"action":"ListUsers","kind":"throttle"}]}`
	put := func(contentType string, chunked bool) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPut, srv.URL+"/_emulator/faults", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if chunked {
			req.ContentLength = -1
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := put("", false); got != http.StatusUnsupportedMediaType {
		t.Fatalf("PUT without Content-Type: %d", got)
	}
	if got := put("text/plain", true); got != http.StatusUnsupportedMediaType {
		t.Fatalf("chunked PUT as text/plain: %d", got)
	}
	if len(e.Faults().Rules) != 0 {
		t.Fatal("a refused PUT set faults")
	}
	if got := put("application/json", true); got != http.StatusOK || len(e.Faults().Rules) != 1 {
		t.Fatalf("chunked PUT as application/json: %d", got)
	}
	// A rebound name reaching the loopback listener.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/_emulator/state", nil)
	req.Host = "rebound.attacker.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET state as rebound.attacker.example: %d", resp.StatusCode)
	}
}
