package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaultsDeterministicUnderSeed(t *testing.T) {
	run := func() []int {
		e, _ := newTestEmulator(t, nil)
		e.SetFaults(FaultConfig{Seed: 99, Rules: []FaultRule{{Action: "GetCallerIdentity", Kind: FaultThrottle, Probability: 0.5}}})
		c := e.rootClient(t)
		var statuses []int
		for i := 0; i < 40; i++ {
			res := c.call("GetCallerIdentity")
			if res.status == http.StatusTooManyRequests && res.code() != "Throttling.User" {
				t.Fatalf("throttle answer: %s", res.raw)
			}
			statuses = append(statuses, res.status)
		}
		return statuses
	}
	a, b := run(), run()
	throttled := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run 1 and 2 differ at %d: %v vs %v", i, a, b)
		}
		if a[i] == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled < 5 || throttled > 35 {
		t.Fatalf("%d of 40 throttled with probability 0.5: %v", throttled, a)
	}
}

func TestFaultKinds(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	tests := []struct {
		name   string
		rule   FaultRule
		action string
		status int
		code   string
	}{
		{"throttle by bare name", FaultRule{Action: "ListUsers", Kind: FaultThrottle}, "ListUsers", 429, "Throttling.User"},
		{"throttle by qualified name", FaultRule{Action: "ram:ListUsers", Kind: FaultThrottle}, "ListUsers", 429, "Throttling.User"},
		{"wildcard", FaultRule{Action: "*", Kind: Fault5xx}, "GetCallerIdentity", 503, "ServiceUnavailable"},
		{"internal error", FaultRule{Action: "*", Kind: Fault5xx, Status: 500}, "GetCallerIdentity", 500, "InternalError"},
		{"other action unaffected", FaultRule{Action: "sts:AssumeRole", Kind: Fault5xx}, "ListUsers", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SetFaults(FaultConfig{Rules: []FaultRule{tt.rule}})
			c.t = t
			res := c.call(tt.action)
			if tt.status == 200 {
				res.ok(t)
				return
			}
			res.expect(t, tt.status, tt.code)
			if res.str("RequestId") == "" || res.str("HostId") == "" {
				t.Errorf("fault body lacks RequestId/HostId: %s", res.raw)
			}
		})
	}
}

func TestFaultCountAndCounters(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: "GetCallerIdentity", Kind: FaultThrottle, Count: 2}}})
	c := e.rootClient(t)
	c.nonce = "same-nonce"
	c.call("GetCallerIdentity").expect(t, 429, "Throttling.User")
	// A throttled request is refused before authentication, so its nonce is
	// not burnt.
	c.call("GetCallerIdentity").expect(t, 429, "Throttling.User")
	c.call("GetCallerIdentity").ok(t)
	if n := e.Counters()["sts:GetCallerIdentity"]; n != 3 {
		t.Fatalf("counter %d, want 3 (faulted calls count)", n)
	}
	e.ResetCounters()
	if len(e.Counters()) != 0 {
		t.Fatal("ResetCounters left counters")
	}
}

func TestFaultLatency(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: "GetCallerIdentity", Kind: FaultLatency, Latency: 30 * time.Millisecond}}})
	start := time.Now()
	e.rootClient(t).call("GetCallerIdentity").ok(t)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("latency fault took %v", d)
	}
}

func TestFaultDrop(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	srv := httptest.NewServer(e)
	defer srv.Close()
	e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: "GetCallerIdentity", Kind: FaultDrop, Count: 1}}})
	c := e.rootClient(t)
	post := func() (*http.Response, error) {
		p := c.params("GetCallerIdentity")
		return http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(p.Encode()))
	}
	if resp, err := post(); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request got a response: %d", resp.StatusCode)
	}
	resp, err := post()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the drop: %d", resp.StatusCode)
	}
}

func TestApplyFaultsForEdgeEndpoints(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: "ECSMetadata", Kind: Fault5xx}}})
	rec := httptest.NewRecorder()
	if e.applyFaults(rec, httptest.NewRequest(http.MethodGet, "/latest/meta-data/", nil), "ECSMetadata") != faultAnswered {
		t.Fatal("ECSMetadata fault not applied")
	}
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "ServiceUnavailable") {
		t.Fatalf("answer %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	if e.applyFaults(rec, httptest.NewRequest(http.MethodGet, "/credentials-uri", nil), "CredentialsURI") != faultNone {
		t.Fatal("CredentialsURI affected by an ECSMetadata rule")
	}
}

func TestFaultConfigValidationAndJSON(t *testing.T) {
	bad := []FaultConfig{
		{Rules: []FaultRule{{Action: "", Kind: FaultThrottle}}},
		{Rules: []FaultRule{{Action: "*", Kind: "explode"}}},
		{Rules: []FaultRule{{Action: "*", Kind: FaultLatency}}},
		{Rules: []FaultRule{{Action: "*", Kind: FaultThrottle, Probability: 1.5}}},
		{Rules: []FaultRule{{Action: "*", Kind: Fault5xx, Status: 502}}},
	}
	for i, c := range bad {
		if c.Validate() == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	for _, kind := range []string{FaultThrottle, Fault5xx, FaultDrop, FaultLostAnswer, FaultReset} {
		if err := (FaultConfig{Rules: []FaultRule{{Action: "*", Kind: kind}}}).Validate(); err != nil {
			t.Errorf("kind %s refused: %v", kind, err)
		}
	}
	in := `{"seed":5,"rules":[{"action":"AssumeRole","kind":"latency","latency":"250ms","count":2}]}`
	var c FaultConfig
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.Seed != 5 || len(c.Rules) != 1 || c.Rules[0].Latency != 250*time.Millisecond || c.Rules[0].Count != 2 {
		t.Fatalf("decoded %+v", c)
	}
	out, err := json.Marshal(c)
	if err != nil || string(out) != in {
		t.Fatalf("round trip %s, %v", out, err)
	}
}
