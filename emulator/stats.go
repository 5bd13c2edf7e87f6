package emulator

import (
	"net/http"
	"runtime"
)

// Stats are the emulator's own sizes, for watching it over a long run: the
// STS sessions it holds, the Go runtime's goroutines and heap.
type Stats struct {
	// Sessions are the STS sessions held; ExpiredSessions are those among
	// them already past their expiration (kept until pruned).
	Sessions        int `json:"sessions"`
	ExpiredSessions int `json:"expired_sessions"`
	// PendingExpiries is the length of the expiry heap (at least Sessions).
	PendingExpiries int `json:"pending_expiries"`
	// Pruned is how many sessions the request that reported these stats
	// pruned first (GET /_emulator/stats only).
	Pruned      int     `json:"pruned"`
	Goroutines  int     `json:"goroutines"`
	HeapAllocMB float64 `json:"heap_alloc_mb"`
	HeapSysMB   float64 `json:"heap_sys_mb"`
}

// Stats reports the emulator's sizes without changing anything.
func (e *Emulator) Stats() Stats {
	now := e.now()
	e.mu.RLock()
	s := Stats{Sessions: len(e.st.Sessions), PendingExpiries: len(e.expiries)}
	for _, ss := range e.st.Sessions {
		if !now.Before(ss.Expiration) {
			s.ExpiredSessions++
		}
	}
	e.mu.RUnlock()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.Goroutines = runtime.NumGoroutine()
	s.HeapAllocMB = float64(m.HeapAlloc) / (1 << 20)
	s.HeapSysMB = float64(m.HeapSys) / (1 << 20)
	return s
}

// PruneSessions forgets the STS sessions that have expired and returns how
// many. Issuing a session prunes too; this is for an emulator whose load
// stopped, so that it does not keep the last hour's sessions for ever.
func (e *Emulator) PruneSessions() int {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.st.Sessions)
	e.pruneSessionsLocked(now)
	return n - len(e.st.Sessions)
}

// serveStats answers GET /_emulator/stats: prune, then report.
func (e *Emulator) serveStats(w http.ResponseWriter) {
	pruned := e.PruneSessions()
	s := e.Stats()
	s.Pruned = pruned
	writeJSON(w, http.StatusOK, s)
}
