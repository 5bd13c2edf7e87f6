package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// options are the run's settings; every random choice derives from Seed.
type options struct {
	Seed          uint64
	Duration      time.Duration
	Clients       int
	PluginKills   int
	VaultRestarts int
	// Faults are the fault kinds with their weights, "kind=weight,...".
	Faults string
	// FaultRate is how many faults are armed per second, on average.
	FaultRate float64
	// RequireFaults fails the run when the emulator refuses a fault kind;
	// otherwise (an emulator older than reset and lost_answer) the kind is
	// left out and the table says so.
	RequireFaults bool
	ShortTTL      time.Duration
	StaticPeriod  time.Duration
	RotateRoot    time.Duration // mean time between config/rotate-root calls
	WALWait       time.Duration // how long the end waits for the rollback to empty the WAL
	// CountKill500s counts the 500s Vault answers when the plugin process
	// dies under a request among the failing 500s.
	CountKill500s bool
	VaultBin      string
	PluginBin     string // a prebuilt plugin instead of building the checkout's (e.g. an older engine)
	VaultLogLevel string
	WorkDir       string // parent of the run's folder (default: the system's temp dir)
	Keep          bool   // keep the run's folder (logs, storage) even when it passes
	Out           string // JSON result path
	Log           io.Writer
}

func defaultOptions() options {
	return options{
		Seed: 0, Duration: 10 * time.Minute, Clients: 4, PluginKills: 20, VaultRestarts: 3,
		Faults:    "throttle=3,5xx=3,latency=2,drop=2,reset=2,lost_answer=3",
		FaultRate: 2, RequireFaults: true, ShortTTL: 30 * time.Second, StaticPeriod: time.Minute, RotateRoot: 40 * time.Second,
		WALWait: 3 * time.Minute, VaultLogLevel: "debug", Log: os.Stderr,
	}
}

// soak is one run.
type soak struct {
	o         options
	root      string
	dir       string
	pluginExe string
	emuExe    string
	seed      seedAccount
	emu       *emulatorProc
	vault     *vaultProc
	vc        *vaultClient
	mountUUID string

	start     time.Time
	res       *result
	ops       tally
	five      fiveHundreds
	leases    leaseBook
	events    eventLog
	secrets   secretBook
	vaultDown atomic.Bool
	churnSeq  atomic.Int64
	roleVar   atomic.Int64

	mu            sync.Mutex
	pluginKills   []killRecord
	vaultRestarts []killRecord
	faults        map[string]*faultTally
	faultsRefused []string
	faultKinds    []weightedKind
	churnRoles    map[string]bool
	killTimes     []time.Time // plugin kills and Vault kills
	// maskedExistenceChecks are the times Vault logged "failed to run
	// existence check" with a gRPC Unavailable error.
	maskedExistenceChecks []time.Time
	// pluginDied are the times Vault logged that its plugin process
	// exited with "signal: killed".
	pluginDied []time.Time
}

type killRecord struct {
	At     string `json:"at"`
	Offset string `json:"offset"`
	PIDs   []int  `json:"pids,omitempty"`
	Note   string `json:"note,omitempty"`
}

func (s *soak) logf(format string, args ...any) {
	if s.o.Log != nil {
		fmt.Fprintf(s.o.Log, "soak %6.1fs: %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
	}
}

// runSoak runs the whole soak and returns its result; err is set when the
// harness itself could not run (the result then says how far it got).
func runSoak(ctx context.Context, o options, s *soak) (*result, error) {
	*s = soak{o: o, start: time.Now(), faults: map[string]*faultTally{}, churnRoles: map[string]bool{}}
	s.res = &result{Seed: o.Seed, Started: s.start.UTC().Format(time.RFC3339)}
	kinds, err := parseFaultKinds(o.Faults)
	if err != nil {
		return s.res, err
	}
	s.faultKinds = kinds
	if s.root, err = repoRoot(); err != nil {
		return s.res, err
	}
	if s.dir, err = newWorkDir(o.WorkDir); err != nil {
		return s.res, err
	}
	s.res.WorkDir = s.dir
	s.logf("seed %d, work folder %s", o.Seed, s.dir)
	s.pluginExe, s.emuExe, err = buildBinaries(s.root, s.dir, filepath.Join(s.dir, "plugins"), pluginVersion)
	if err != nil {
		return s.res, err
	}
	if o.PluginBin != "" {
		if err := copyFile(o.PluginBin, s.pluginExe); err != nil {
			return s.res, fmt.Errorf("-plugin: %w", err)
		}
		s.res.Notes = append(s.res.Notes, "plugin binary from -plugin "+o.PluginBin+", not built from the checkout")
	}
	rng := mrand.New(mrand.NewPCG(o.Seed, 1))
	seedFile := filepath.Join(s.dir, "seed.json")
	if s.seed, err = writeSeed(seedFile, rng); err != nil {
		return s.res, err
	}
	s.secrets.add("engine root secret (seed)", s.seed.EngineSecret)
	s.secrets.add("emulator main secret (seed)", s.seed.MainSecret)
	if s.emu, err = startEmulator(s.emuExe, s.dir, seedFile, int64(o.Seed%(1<<62))+1); err != nil {
		return s.res, err
	}
	defer s.emu.stop(10 * time.Second)
	if s.vault, err = newVault(o.VaultBin, s.dir, filepath.Join(s.dir, "plugins"), s.pluginExe, o.VaultLogLevel); err != nil {
		return s.res, err
	}
	if err := s.vault.Start(ctx); err != nil {
		return s.res, err
	}
	defer s.vault.Stop()
	s.vc = newVaultClient(s.vault.Addr, s.vault.RootToken, o.Clients+4)
	s.vc.on500 = s.five.record
	if err := s.setupVault(ctx); err != nil {
		return s.res, err
	}
	if err := s.probeFaultKinds(); err != nil {
		return s.res, err
	}
	s.logf("vault %s, emulator %s, plugin %s; load for %s with %d clients", s.vault.Addr, s.emu.URL, s.pluginExe, o.Duration, o.Clients)

	// Load, faults and kills run until the duration passes.
	loadCtx, stopLoad := context.WithTimeout(ctx, o.Duration)
	var wg sync.WaitGroup
	for i := 0; i < o.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(loadCtx, i, mrand.New(mrand.NewPCG(o.Seed, uint64(100+i))))
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.rotateRootLoop(loadCtx, mrand.New(mrand.NewPCG(o.Seed, 2)))
	}()
	var faultWG sync.WaitGroup
	faultWG.Add(1)
	go func() {
		defer faultWG.Done()
		s.faultLoop(loadCtx, mrand.New(mrand.NewPCG(o.Seed, 3)))
	}()
	chaosErr := make(chan error, 1)
	go func() { chaosErr <- s.chaosLoop(loadCtx, mrand.New(mrand.NewPCG(o.Seed, 4))) }()
	go s.harvestSecretsLoop(loadCtx)

	err = <-chaosErr
	if err != nil {
		s.logf("chaos: %v", err)
	}
	<-loadCtx.Done()
	stopLoad()
	faultWG.Wait()
	wg.Wait()
	s.logf("load stopped")
	if ctx.Err() != nil {
		return s.res, ctx.Err()
	}
	if err != nil {
		return s.res, err
	}
	return s.res, s.finish(ctx)
}

// tally counts operations by kind.
type tally struct {
	mu  sync.Mutex
	ops map[string]*opStats
}

type opStats struct {
	OK      int                 `json:"ok"`
	Failed  int                 `json:"failed"`
	Reasons map[string]int      `json:"reasons,omitempty"`
	Samples map[string][]string `json:"samples,omitempty"` // a few error texts per reason
}

func (t *tally) add(kind string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ops == nil {
		t.ops = map[string]*opStats{}
	}
	st := t.ops[kind]
	if st == nil {
		st = &opStats{Reasons: map[string]int{}, Samples: map[string][]string{}}
		t.ops[kind] = st
	}
	if err == nil {
		st.OK++
		return
	}
	st.Failed++
	why := reason(err)
	st.Reasons[why]++
	if text := errText(err); len(st.Samples[why]) < 3 && !contains(st.Samples[why], text) {
		st.Samples[why] = append(st.Samples[why], text)
	}
}

// reason classifies an error for the table: the HTTP status, or "vault
// unreachable" for a connection that failed (a Vault restart).
func reason(err error) string {
	var ve *vaultError
	if errors.As(err, &ve) {
		return fmt.Sprintf("HTTP %d", ve.Status)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "cancelled at the end"
	}
	return "vault unreachable"
}

// event is one operation that can create something in RAM, kept to name
// the operation behind an orphan.
type event struct {
	At       time.Time `json:"at"`
	Took     string    `json:"took"`
	Op       string    `json:"op"`
	Role     string    `json:"role,omitempty"`
	LeaseID  string    `json:"lease_id,omitempty"`
	KeyID    string    `json:"access_key_id,omitempty"`
	Result   string    `json:"result"`
	EndedUTC time.Time `json:"-"`
}

type eventLog struct {
	mu     sync.Mutex
	events []event
}

func (l *eventLog) add(e event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) < 500000 {
		l.events = append(l.events, e)
	}
}

// around returns the events of op kinds ops (and role, when not empty)
// that ran at t (within slack).
func (l *eventLog) around(t time.Time, slack time.Duration, role string, ops ...string) []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event
	for _, e := range l.events {
		if role != "" && e.Role != role {
			continue
		}
		match := len(ops) == 0
		for _, o := range ops {
			match = match || e.Op == o
		}
		if !match {
			continue
		}
		if !t.Before(e.At.Add(-slack)) && !t.After(e.EndedUTC.Add(slack)) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// lease is one credential Vault issued.
type lease struct {
	ID        string
	Kind      string // sts, ram (ram_user roles)
	Role      string
	AccessKey string
	Secret    string
	Token     string
	Issued    time.Time
	Expires   time.Time
	Renewable bool
	Revoked   string // how: client, or "" while Vault holds it
	busy      bool
}

type leaseBook struct {
	mu     sync.Mutex
	leases []*lease
	byID   map[string]*lease
}

func (b *leaseBook) add(l *lease) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byID == nil {
		b.byID = map[string]*lease{}
	}
	b.leases = append(b.leases, l)
	b.byID[l.ID] = l
}

// pick marks and returns a random lease that ok accepts and no other worker
// holds; release gives it back.
func (b *leaseBook) pick(r *mrand.Rand, ok func(*lease) bool) *lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	var cands []*lease
	for _, l := range b.leases {
		if !l.busy && l.Revoked == "" && ok(l) {
			cands = append(cands, l)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	l := cands[r.IntN(len(cands))]
	l.busy = true
	return l
}

func (b *leaseBook) release(l *lease, revoked string, expires time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l.busy = false
	if revoked != "" {
		l.Revoked = revoked
	}
	if !expires.IsZero() {
		l.Expires = expires
	}
}

func (b *leaseBook) count(ok func(*lease) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.leases {
		if l.Revoked == "" && ok(l) {
			n++
		}
	}
	return n
}

func (b *leaseBook) all() []*lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*lease(nil), b.leases...)
}

// secretBook holds every secret value that was issued, by what it is.
type secretBook struct {
	mu     sync.Mutex
	values map[string]string // value -> what
}

func (b *secretBook) add(what, value string) {
	if len(value) < 12 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.values == nil {
		b.values = map[string]string{}
	}
	if _, ok := b.values[value]; !ok {
		b.values[value] = what
	}
}

func (b *secretBook) snapshot() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]string, len(b.values))
	for k, v := range b.values {
		out[k] = v
	}
	return out
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// call runs one Vault request as operation kind and tallies it.
func (s *soak) call(ctx context.Context, kind, method, path string, in, out any) error {
	// A request in flight when the load ends runs to its end: cancelling it
	// would disconnect the client and cancel the engine's work half-way.
	err := s.vc.do(context.WithoutCancel(ctx), method, path, in, out)
	s.ops.add(kind, err)
	if err != nil {
		var ve *vaultError
		if !errors.As(err, &ve) {
			pause(ctx, 300*time.Millisecond) // Vault is restarting
		}
	}
	return err
}

// issue reads creds/<role> and records the lease.
func (s *soak) issue(ctx context.Context, op, role, kind string) *lease {
	var sr secretResponse
	t0 := time.Now()
	err := s.call(ctx, op, http.MethodGet, mount+"/creds/"+role, nil, &sr)
	ev := event{At: t0, EndedUTC: time.Now(), Took: time.Since(t0).Round(time.Millisecond).String(), Op: op, Role: role, Result: "ok"}
	if err != nil {
		ev.Result = errText(err)
		if kind == "ram" {
			s.events.add(ev)
		}
		return nil
	}
	l := &lease{ID: sr.LeaseID, Kind: kind, Role: role, AccessKey: sr.Data.AccessKey, Secret: sr.Data.SecretKey,
		Token: sr.Data.SecurityToken, Issued: t0, Expires: t0.Add(time.Duration(sr.LeaseDuration) * time.Second), Renewable: sr.Renewable}
	ev.LeaseID, ev.KeyID = l.ID, l.AccessKey
	if kind == "ram" {
		s.events.add(ev)
	}
	s.secrets.add("secret_key of "+l.ID, l.Secret)
	s.secrets.add("security_token of "+l.ID, l.Token)
	s.leases.add(l)
	return l
}

// revoke revokes a lease the worker picked.
func (s *soak) revoke(ctx context.Context, op string, l *lease) {
	t0 := time.Now()
	err := s.call(ctx, op, http.MethodPut, "sys/leases/revoke", map[string]any{"lease_id": l.ID}, nil)
	if err == nil {
		s.leases.release(l, "client", time.Time{})
	} else {
		s.leases.release(l, "", time.Time{})
	}
	if l.Kind == "ram" {
		s.events.add(event{At: t0, EndedUTC: time.Now(), Took: time.Since(t0).Round(time.Millisecond).String(), Op: op, Role: l.Role,
			LeaseID: l.ID, KeyID: l.AccessKey, Result: resultText(err)})
	}
}

func resultText(err error) string {
	if err == nil {
		return "ok"
	}
	return errText(err)
}

// worker is one client: it issues, renews and revokes credentials, writes
// and deletes roles, and reads the static role, in a mix drawn from r.
func (s *soak) worker(ctx context.Context, id int, r *mrand.Rand) {
	const liveCap = 25 // live ram_user leases per worker, at most
	type choice struct {
		w  int
		fn func()
	}
	liveRAM := func(l *lease) bool { return l.Kind == "ram" && l.Role == roleRAM }
	renewable := func(l *lease) bool { return l.Kind == "ram" && time.Until(l.Expires) > 5*time.Second }
	choices := []choice{
		{20, func() {
			if l := s.issue(ctx, "issue sts", roleSTS, "sts"); l != nil && r.IntN(3) == 0 {
				if p := s.leases.pick(r, func(x *lease) bool { return x == l }); p != nil {
					s.revoke(ctx, "revoke sts", p)
				}
			}
		}},
		{6, func() {
			if l := s.leases.pick(r, func(l *lease) bool { return l.Kind == "sts" }); l != nil {
				s.revoke(ctx, "revoke sts", l)
			}
		}},
		{14, func() {
			if s.leases.count(liveRAM) < liveCap*s.o.Clients {
				s.issue(ctx, "issue ram_user", roleRAM, "ram")
			} else if l := s.leases.pick(r, liveRAM); l != nil {
				s.revoke(ctx, "revoke ram_user", l)
			}
		}},
		{7, func() { s.issue(ctx, "issue ram_user short ttl", roleShort, "ram") }},
		{12, func() {
			if l := s.leases.pick(r, renewable); l != nil {
				var sr secretResponse
				err := s.call(ctx, "renew ram_user", http.MethodPut, "sys/leases/renew", map[string]any{"lease_id": l.ID}, &sr)
				exp := time.Time{}
				if err == nil {
					exp = time.Now().Add(time.Duration(sr.LeaseDuration) * time.Second)
				}
				s.leases.release(l, "", exp)
			}
		}},
		{11, func() {
			if l := s.leases.pick(r, func(l *lease) bool { return l.Kind == "ram" && time.Until(l.Expires) > 3*time.Second }); l != nil {
				s.revoke(ctx, "revoke ram_user", l)
			}
		}},
		{4, func() {
			var sr secretResponse
			if s.call(ctx, "read static-creds", http.MethodGet, mount+"/static-creds/"+staticRole, nil, &sr) == nil {
				s.secrets.add("static role secret", sr.Data.SecretKey)
			}
		}},
		{2, func() {
			// A role update adds a version to the role's custom policy.
			v := int(s.roleVar.Add(1))
			t0 := time.Now()
			err := s.call(ctx, "write role (update)", http.MethodPut, mount+"/role/"+roleRAM, map[string]any{"inline_policies": inlinePolicy("soak-ram", v)}, nil)
			s.events.add(event{At: t0, EndedUTC: time.Now(), Op: "write role (update)", Role: roleRAM, Result: resultText(err)})
		}},
		{4, func() { s.churn(ctx, r) }},
	}
	total := 0
	for _, c := range choices {
		total += c.w
	}
	for ctx.Err() == nil {
		n := r.IntN(total)
		for _, c := range choices {
			if n < c.w {
				c.fn()
				break
			}
			n -= c.w
		}
		pause(ctx, time.Duration(r.IntN(120))*time.Millisecond)
	}
}

// churn writes a new role, issues one credential from it, revokes it and
// deletes the role.
func (s *soak) churn(ctx context.Context, r *mrand.Rand) {
	name := fmt.Sprintf("churn-%d", s.churnSeq.Add(1))
	s.mu.Lock()
	s.churnRoles[name] = true
	s.mu.Unlock()
	var body map[string]any
	kind := "ram"
	if r.IntN(4) == 0 {
		kind = "sts"
		body = map[string]any{"role_arn": "acs:ram::" + accountID + ":role/" + stsRAMRole, "ttl": 900}
	} else {
		body = map[string]any{"credential_type": "ram_user", "inline_policies": inlinePolicy(name, r.IntN(2)),
			"ram_groups": []string{groupDevs}, "ttl": 600}
	}
	t0 := time.Now()
	err := s.call(ctx, "write role (new)", http.MethodPut, mount+"/role/"+name, body, nil)
	s.events.add(event{At: t0, EndedUTC: time.Now(), Op: "write role (new)", Role: name, Result: resultText(err)})
	if err != nil {
		return
	}
	if l := s.issue(ctx, "issue churn role", name, kind); l != nil {
		if p := s.leases.pick(r, func(x *lease) bool { return x == l }); p != nil {
			s.revoke(ctx, "revoke churn role", p)
		}
	}
	t0 = time.Now()
	err = s.call(ctx, "delete role", http.MethodDelete, mount+"/role/"+name, nil, nil)
	s.events.add(event{At: t0, EndedUTC: time.Now(), Op: "delete role", Role: name, Result: resultText(err)})
	if err == nil {
		s.mu.Lock()
		delete(s.churnRoles, name)
		s.mu.Unlock()
	}
}

// rotateRootLoop calls config/rotate-root now and then.
func (s *soak) rotateRootLoop(ctx context.Context, r *mrand.Rand) {
	for {
		pause(ctx, time.Duration(float64(s.o.RotateRoot)*(0.5+r.Float64())))
		if ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		var out struct {
			Data struct {
				AccessKey string `json:"access_key"`
			} `json:"data"`
		}
		err := s.call(ctx, "rotate-root", http.MethodPut, mount+"/config/rotate-root", map[string]any{}, &out)
		s.events.add(event{At: t0, EndedUTC: time.Now(), Took: time.Since(t0).Round(time.Millisecond).String(), Op: "rotate-root",
			KeyID: out.Data.AccessKey, Result: resultText(err)})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
