package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// result is the run's outcome, printed as a table and written as JSON.
type result struct {
	Seed     uint64 `json:"seed"`
	Replay   string `json:"replay"`
	Started  string `json:"started"`
	Duration string `json:"duration"`
	WorkDir  string `json:"work_dir"`
	Error    string `json:"error,omitempty"`

	Operations    map[string]*opStats    `json:"operations"`
	Faults        map[string]*faultTally `json:"faults"`
	FaultsRefused []string               `json:"fault_kinds_refused_by_emulator,omitempty"`
	PluginKills   []killRecord           `json:"plugin_kills"`
	VaultRestarts []killRecord           `json:"vault_restarts"`
	// VaultStrayPluginKills counts plugin processes a killed Vault left
	// running, which the harness killed.
	VaultStrayPluginKills int `json:"vault_stray_plugin_kills"`

	LiveChecked    int      `json:"live_credentials_checked"`
	LiveRefused    []string `json:"live_credentials_refused"`
	RevokeAll      []string `json:"revoke_all"`
	WALWait        string   `json:"wal_wait"`
	WALLeft        []string `json:"wal_left"`
	RevokedChecked int      `json:"revoked_credentials_checked"`

	Orphans []orphan `json:"orphans"`
	// Held are RAM users whose lease Vault never stored (the plugin died
	// between finishing the issue and answering) and that the engine's own
	// record (issued/ in its storage) holds: the engine takes each back once
	// its max TTL and an hour have passed. Not orphans: still under control.
	Held            []string                    `json:"held_by_engine,omitempty"`
	Leaks           []leak                      `json:"leaked_secrets"`
	SecretsTracked  int                         `json:"secrets_tracked"`
	LogBytesScanned int64                       `json:"log_bytes_scanned"`
	Unrevocable     []string                    `json:"unrevocable_leases"`
	FiveHundreds    map[string]*fiveHundredPath `json:"http_500"`
	FiveHundredN    int                         `json:"http_500_count"`
	// The 500s Vault answered because the harness killed the plugin
	// process under the request (see fiveHundreds.split for the evidence
	// asked for).
	// They count in FiveHundredN only with -count-kill-500s.
	FiveHundredsAtKill map[string]*fiveHundredPath `json:"http_500_at_plugin_kill"`
	FiveHundredAtKillN int                         `json:"http_500_at_plugin_kill_count"`
	Notes              []string                    `json:"notes,omitempty"`
}

// passed reports whether the four zero columns are zero, every live
// credential worked and the harness ran to the end.
func (r *result) passed() bool {
	return r.Error == "" && len(r.Orphans) == 0 && len(r.Leaks) == 0 && len(r.Unrevocable) == 0 &&
		r.FiveHundredN == 0 && len(r.LiveRefused) == 0
}

// collect copies the run's tallies into the result.
func (s *soak) collect(runErr error) {
	r := s.res
	if runErr != nil {
		r.Error = runErr.Error()
	}
	r.Duration = time.Since(s.start).Round(time.Second).String()
	s.ops.mu.Lock()
	r.Operations = s.ops.ops
	s.ops.mu.Unlock()
	s.mu.Lock()
	r.Faults = s.faults
	r.FaultsRefused = s.faultsRefused
	r.PluginKills = s.pluginKills
	r.VaultRestarts = s.vaultRestarts
	s.mu.Unlock()
	s.mu.Lock()
	kills := append([]time.Time(nil), s.killTimes...)
	s.mu.Unlock()
	other, atKill := s.five.split(kills, s.pluginDied, s.maskedExistenceChecks)
	if s.o.CountKill500s {
		other, atKill = s.five.split(nil, nil, nil)
	}
	r.FiveHundreds, r.FiveHundredN = other, countOf(other)
	r.FiveHundredsAtKill, r.FiveHundredAtKillN = atKill, countOf(atKill)
	if r.Operations == nil {
		r.Operations = map[string]*opStats{}
	}
}

// printTable writes the one table of the run.
func printTable(w io.Writer, r *result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SOAK\tseed %d, %s\n", r.Seed, r.Duration)
	fmt.Fprintln(tw, "operation\tok\tfailed\tfailures by cause")
	for _, k := range sortedKeys(r.Operations) {
		st := r.Operations[k]
		var causes []string
		for _, c := range sortedKeys(st.Reasons) {
			causes = append(causes, fmt.Sprintf("%s x%d", c, st.Reasons[c]))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\n", k, st.OK, st.Failed, strings.Join(causes, ", "))
	}
	fmt.Fprintln(tw, "fault (emulator)\tinjected\tbursts\t")
	for _, k := range allFaultKinds {
		if f, ok := r.Faults[k]; ok {
			extra := ""
			if f.Unfired > 0 {
				extra = fmt.Sprintf("%d armed at the end, maybe unfired", f.Unfired)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\n", k, f.Injected, f.Bursts, extra)
		}
	}
	for _, k := range r.FaultsRefused {
		fmt.Fprintf(tw, "  %s\t-\t-\trefused by this emulator (not injected)\n", k)
	}
	fmt.Fprintf(tw, "plugin kills\t%d\t\t\n", len(r.PluginKills))
	fmt.Fprintf(tw, "vault restarts\t%d\t\t(kill -9, restart on the same storage, unseal)\n", len(r.VaultRestarts))
	fmt.Fprintf(tw, "live credentials refused\t%d\t\tof %d checked before the revoke-all\n", len(r.LiveRefused), r.LiveChecked)
	fmt.Fprintf(tw, "WAL entries left\t%d\t\tafter %s\n", len(r.WALLeft), r.WALWait)
	fmt.Fprintf(tw, "users held by the engine\t%d\t\tVault stored no lease (the plugin died under the answer); the engine's record takes each back at its max TTL\n", len(r.Held))
	fmt.Fprintf(tw, "ORPHANS\t%d\t\t%d revoked ram_user keys checked\n", len(r.Orphans), r.RevokedChecked)
	fmt.Fprintf(tw, "LEAKED SECRETS\t%d\t\t%d secrets in %d MB of Vault and audit log\n", len(r.Leaks), r.SecretsTracked, r.LogBytesScanned>>20)
	fmt.Fprintf(tw, "UNREVOCABLE LEASES\t%d\t\t\n", len(r.Unrevocable))
	fmt.Fprintf(tw, "HTTP 500\t%d\t\t\n", r.FiveHundredN)
	fmt.Fprintf(tw, "(HTTP 500 at a plugin kill)\t%d\t\tVault's answer to a request whose plugin process was killed under it (within 10 s of a kill, and Vault's log shows the plugin killed within 1 s: gRPC Unavailable, or \"internal error\" for an existence check); not counted above unless -count-kill-500s\n", r.FiveHundredAtKillN)
	tw.Flush()

	for _, o := range r.Orphans {
		fmt.Fprintf(w, "orphan %s %s: %s\n", o.Kind, o.Name, o.Detail)
		for _, m := range o.MadeBy {
			fmt.Fprintf(w, "    made by? %s\n", m)
		}
	}
	for _, l := range r.Leaks {
		fmt.Fprintf(w, "leaked %s at %s:%d (%s)\n", l.What, l.File, l.Line, l.Prefix)
	}
	for i, u := range r.Unrevocable {
		if i == 20 {
			fmt.Fprintf(w, "unrevocable: ... and %d more\n", len(r.Unrevocable)-20)
			break
		}
		fmt.Fprintf(w, "unrevocable %s\n", u)
	}
	for _, p := range sortedKeys(r.FiveHundreds) {
		f := r.FiveHundreds[p]
		for _, t := range sortedKeys(f.Texts) {
			fmt.Fprintf(w, "500 %s x%d: %s\n", p, f.Texts[t], strings.Join(strings.Fields(t), " "))
		}
	}
	for _, p := range sortedKeys(r.FiveHundredsAtKill) {
		f := r.FiveHundredsAtKill[p]
		fmt.Fprintf(w, "500 at a plugin kill: %s x%d at %s\n", p, f.Count, strings.Join(f.Times, ", "))
	}
	for _, l := range r.LiveRefused {
		fmt.Fprintf(w, "live credential refused: %s\n", l)
	}
	for _, wl := range r.WALLeft {
		fmt.Fprintf(w, "WAL entry left: %s\n", wl)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "HARNESS ERROR: %s\n", r.Error)
	}
	verdict := "PASS"
	if !r.passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s; seed %d; replay: %s\n", verdict, r.Seed, r.Replay)
}

// writeJSON writes the result to path, creating its folder.
func writeJSON(path string, r *result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
