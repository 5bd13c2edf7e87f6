package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func adminCall(t *testing.T, e *Emulator, method, path, body string) *result {
	t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Host = "127.0.0.1:8100"
	return serve(t, e, req)
}

func TestAdminAPI(t *testing.T) {
	e, _ := newTestEmulator(t, trustSeed())
	creds := assumeAppRole(t, e)

	state := adminCall(t, e, http.MethodGet, "/_emulator/state", "")
	if state.status != 200 {
		t.Fatalf("state: %d %s", state.status, state.raw)
	}
	var view StateView
	if err := json.Unmarshal([]byte(state.raw), &view); err != nil {
		t.Fatal(err)
	}
	if view.AccountID != DefaultAccountID || len(view.Users) != 1 || len(view.Roles) != 1 || len(view.Sessions) != 1 || view.Counters["sts:AssumeRole"] != 1 {
		t.Fatalf("state view %+v", view)
	}
	_, mainSecret := e.MainAccessKey()
	for _, secret := range []string{mainSecret, callerSecret, creds["AccessKeySecret"].(string), creds["SecurityToken"].(string)} {
		if strings.Contains(state.raw, secret) {
			t.Fatalf("state view leaks a secret")
		}
	}

	counters := adminCall(t, e, http.MethodGet, "/_emulator/counters", "")
	if counters.status != 200 || counters.str("sts:AssumeRole") != "1" {
		t.Fatalf("counters: %s", counters.raw)
	}
	if res := adminCall(t, e, http.MethodDelete, "/_emulator/counters", ""); res.status != http.StatusNoContent || len(e.Counters()) != 0 {
		t.Fatalf("delete counters: %d", res.status)
	}

	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"faults", http.MethodPut, "/_emulator/faults", `{"seed":3,"rules":[{"action":"ListUsers","kind":"throttle","count":1}]}`, 200},
		{"faults bad kind", http.MethodPut, "/_emulator/faults", `{"rules":[{"action":"*","kind":"boom"}]}`, 400},
		{"faults unknown field", http.MethodPut, "/_emulator/faults", `{"rulez":[]}`, 400},
		{"ecs", http.MethodPut, "/_emulator/ecs", `{"role_name":"app","require_token":true}`, 200},
		{"ecs bad json", http.MethodPut, "/_emulator/ecs", `{"role_name":`, 400},
		{"credentials uri", http.MethodPut, "/_emulator/credentials-uri", `{"role_name":"app"}`, 200},
		{"unknown", http.MethodGet, "/_emulator/nothing", "", 404},
		{"wrong method", http.MethodPost, "/_emulator/state", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := adminCall(t, e, tt.method, tt.path, tt.body)
			if res.status != tt.status {
				t.Fatalf("%s %s: %d %s", tt.method, tt.path, res.status, res.raw)
			}
		})
	}
	if f := e.Faults(); f.Seed != 3 || len(f.Rules) != 1 || f.Rules[0].Count != 1 {
		t.Fatalf("faults %+v", f)
	}
	if got := e.ecsSettings(); got.RoleName != "app" || !got.RequireToken {
		t.Fatalf("ecs %+v", got)
	}
	if got := e.credentialsURISettings(); got.RoleName != "app" {
		t.Fatalf("credentials uri %+v", got)
	}
	e.rootClient(t).call("ListUsers").expect(t, 429, "Throttling.User")
	if res := adminCall(t, e, http.MethodDelete, "/_emulator/faults", ""); res.status != http.StatusNoContent || len(e.Faults().Rules) != 0 {
		t.Fatalf("delete faults: %d", res.status)
	}

	// Every kind through the admin API, and the refusal naming them all.
	res := adminCall(t, e, http.MethodPut, "/_emulator/faults", `{"rules":[{"action":"CreateUser","kind":"lost_answer","count":1},{"action":"sts:AssumeRole","kind":"reset","probability":0.5}]}`)
	if res.status != 200 {
		t.Fatalf("PUT lost_answer and reset: %d %s", res.status, res.raw)
	}
	if f := e.Faults(); len(f.Rules) != 2 || f.Rules[0].Kind != FaultLostAnswer || f.Rules[0].Count != 1 || f.Rules[1].Kind != FaultReset || f.Rules[1].Probability != 0.5 {
		t.Fatalf("faults %+v", f)
	}
	if got := adminCall(t, e, http.MethodGet, "/_emulator/faults", ""); !strings.Contains(got.raw, `"kind": "lost_answer"`) || !strings.Contains(got.raw, `"kind": "reset"`) {
		t.Fatalf("GET faults: %s", got.raw)
	}
	res = adminCall(t, e, http.MethodPut, "/_emulator/faults", `{"rules":[{"action":"*","kind":"boom"}]}`)
	if res.status != 400 || !strings.Contains(res.str("error"), "throttle, 5xx, latency, drop, lost_answer, reset") {
		t.Fatalf("bad kind: %d %s", res.status, res.raw)
	}
	if got := len(e.Faults().Rules); got != 2 {
		t.Fatalf("a refused PUT changed the rules: %d", got)
	}
	e.SetFaults(FaultConfig{})

	if err := e.CreateUser("temporary"); err != nil {
		t.Fatal(err)
	}
	if res := adminCall(t, e, http.MethodPost, "/_emulator/reset", ""); res.status != http.StatusNoContent {
		t.Fatalf("reset: %d", res.status)
	}
	if v := e.Snapshot(); len(v.Users) != 1 || len(v.Sessions) != 0 || v.ECS.RoleName != "" {
		t.Fatalf("after reset %+v", v)
	}
}
