package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestStats_ExpiredSessionsLeaveWithoutNewIssues: expired STS sessions were
// pruned only when another session was issued, so an emulator whose load
// stopped kept every one of them. PruneSessions (run by GET
// /_emulator/stats and by the command on a timer) drops them without a new
// issue, and Stats counts what is left.
func TestStats_ExpiredSessionsLeaveWithoutNewIssues(t *testing.T) {
	clock := newFakeClock()
	e, err := New(Options{Seed: trustSeed(), Clock: clock.Now, RandSeed: 7, MaxIssuedSessionDuration: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		assumeAppRole(t, e)
	}
	if s := e.Stats(); s.Sessions != 5 || s.ExpiredSessions != 0 {
		t.Fatalf("after 5 issues: %+v, want 5 live sessions, none expired", s)
	}
	clock.Advance(91 * time.Second)
	if s := e.Stats(); s.Sessions != 5 || s.ExpiredSessions != 5 {
		t.Fatalf("after expiry, before pruning: %+v, want 5 sessions, 5 of them expired", s)
	}
	if n := e.PruneSessions(); n != 5 {
		t.Fatalf("PruneSessions dropped %d, want 5", n)
	}
	if s := e.Stats(); s.Sessions != 0 || s.PendingExpiries != 0 {
		t.Fatalf("after pruning: %+v, want no session and no pending expiry", s)
	}

	// The admin endpoint prunes, then reports.
	assumeAppRole(t, e)
	clock.Advance(91 * time.Second)
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Stats
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_emulator/stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Sessions != 0 || got.Pruned != 1 || got.Goroutines <= 0 || got.HeapAllocMB <= 0 {
		t.Fatalf("GET /_emulator/stats = %+v, want 0 sessions after pruning 1, goroutines and heap set", got)
	}
}
