package main

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// hourSample is one sample of the hours axis.
type hourSample struct {
	AtS      float64               `json:"at_s"`
	Plugins  map[string]procSample `json:"plugins"`
	Emulator procSample            `json:"emulator"`
	// Sessions are the emulator's STS sessions at the sample, after it
	// pruned Pruned expired ones (GET /_emulator/stats prunes first):
	// Pruned is how many expired sessions it was still holding.
	Sessions int        `json:"sessions"`
	Pruned   int        `json:"pruned"`
	Vault    procSample `json:"vault"`
	// Ops and Errors are the operations finished since the previous sample.
	Ops    map[string]int `json:"ops"`
	Errors map[string]int `json:"errors"`
}

// trend is a least-squares line through a series, over the samples after
// the warm-up.
type trend struct {
	First  float64 `json:"first"`
	Last   float64 `json:"last"`
	Max    float64 `json:"max"`
	Slope  float64 `json:"slope_per_hour"`
	Growth float64 `json:"growth"` // slope times the span of the samples
	Flat   bool    `json:"flat"`
	Limit  float64 `json:"limit"` // the largest growth counted as flat
	// WarmS is where the fit starts: the emulator's sessions and its
	// proxy's idle tunnels (2 minutes) level off by then. Points is how many
	// samples the fit used.
	WarmS  float64 `json:"warm_s"`
	Points int     `json:"points"`
	Note   string  `json:"note,omitempty"`
}

// proxyIdleTimeout is how long the emulator's proxy keeps an idle tunnel
// (emulator/proxy.go): a client that opens a connection per request (as
// HashiCorp's plugin does) holds that many seconds of them.
const proxyIdleTimeout = 2 * time.Minute

// hoursResult is the hours axis.
type hoursResult struct {
	Duration string       `json:"duration"`
	Interval string       `json:"interval"`
	Rate     float64      `json:"rate_per_plugin"`
	Session  string       `json:"emulator_session"`
	Samples  []hourSample `json:"samples"`
	// Trends by series: "<impl> rss_mb", "<impl> goroutines" (ours) or
	// "<impl> threads" (HashiCorp's), "emulator rss_mb", "emulator
	// goroutines", "emulator sessions".
	Trends map[string]*trend `json:"trends"`
	// Issue is each plugin's latency over the whole run.
	Issue map[string]latencies `json:"issue"`
	// SessionsBound is the most STS sessions the emulator can hold alive:
	// rate times lifetime for each plugin.
	SessionsBound int      `json:"sessions_bound"`
	MaxPruned     int      `json:"max_pruned"`
	Profiles      []string `json:"profiles,omitempty"`
}

func (r *runner) hoursAxis(ctx context.Context, rep *report) error {
	var emuArgs []string
	if r.o.hoursSession > 0 {
		emuArgs = []string{"-sts-max-duration", r.o.hoursSession.String()}
	}
	s, err := r.newStack(ctx, "hours", "inmem", emuArgs...)
	if err != nil {
		return err
	}
	impls := []string{implOurs}
	if r.o.hashicorp {
		impls = append(impls, implHC)
	}
	res := &hoursResult{Duration: r.o.hoursDuration.String(), Interval: r.o.hoursInterval.String(), Rate: r.o.hoursRate,
		Session: r.o.hoursSession.String(), Trends: map[string]*trend{}, Issue: map[string]latencies{}}
	rep.Hours = res
	for _, impl := range impls {
		if err := s.mount(ctx, impl+"-hours", impl, accessKey); err != nil {
			return err
		}
		if err := s.vc.do(ctx, http.MethodPost, impl+"-hours/role/sts", map[string]any{"role_arn": targetARN}, nil); err != nil {
			return err
		}
	}
	life := r.o.hoursSession
	if life <= 0 {
		life = time.Hour
	}
	res.SessionsBound = int(r.o.hoursRate*life.Seconds()+0.5) * len(impls)

	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	ops, errs := map[string]int{}, map[string]int{}
	firstErr := map[string]string{}
	runCtx, cancel := context.WithTimeout(ctx, r.o.hoursDuration)
	defer cancel()
	var wg sync.WaitGroup
	begin := time.Now()
	for _, impl := range impls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Open loop: one operation every 1/rate, whatever the last one
			// took, at most 64 in flight.
			sem := make(chan struct{}, 64)
			tick := time.NewTicker(time.Duration(float64(time.Second) / r.o.hoursRate))
			defer tick.Stop()
			var inflight sync.WaitGroup
			defer inflight.Wait()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-tick.C:
				}
				select {
				case sem <- struct{}{}:
				default:
					mu.Lock()
					errs[impl]++
					mu.Unlock()
					continue
				}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					defer func() { <-sem }()
					t0 := time.Now()
					sec, err := s.vc.readCreds(ctx, impl+"-hours", "sts", true)
					if err == nil {
						err = s.vc.revoke(ctx, sec.LeaseID)
					}
					d := time.Since(t0)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs[impl]++
						if firstErr[impl] == "" {
							firstErr[impl] = err.Error()
						}
						return
					}
					ops[impl]++
					lat[impl] = append(lat[impl], d)
				}()
			}
		}()
	}
	sample := func() {
		h := hourSample{AtS: round2(time.Since(begin).Seconds()), Plugins: map[string]procSample{}}
		for _, impl := range impls {
			h.Plugins[impl] = s.plugin(impl)
		}
		var es emulatorStats
		h.Emulator, es = s.emulatorSample()
		h.Sessions, h.Pruned = es.Sessions, es.Pruned
		h.Vault = s.vaultSample()
		mu.Lock()
		h.Ops, h.Errors = ops, errs
		ops, errs = map[string]int{}, map[string]int{}
		mu.Unlock()
		res.Samples = append(res.Samples, h)
		res.MaxPruned = max(res.MaxPruned, h.Pruned)
		r.logf("hours: %6.0fs ours %.1f MB %d goroutines | emulator %.1f MB %d goroutines %d sessions | ops %v errors %v",
			h.AtS, h.Plugins[implOurs].RSSMB, h.Plugins[implOurs].Goroutines, h.Emulator.RSSMB, h.Emulator.Goroutines, h.Sessions, h.Ops, h.Errors)
	}
	tick := time.NewTicker(r.o.hoursInterval)
sampling:
	for {
		select {
		case <-runCtx.Done():
			break sampling
		case <-tick.C:
			sample()
		}
	}
	tick.Stop()
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	elapsed := time.Since(begin)
	res.Profiles = r.profiles(s, "hours")
	for _, impl := range impls {
		res.Issue[impl] = summarize(lat[impl], errs[impl], firstErr[impl], elapsed)
	}
	warm := (max(r.o.hoursSession, proxyIdleTimeout) + r.o.hoursInterval).Seconds()
	series := func(name string, get func(hourSample) float64, absLimit, relLimit float64) {
		var xs, ys []float64
		for _, h := range res.Samples {
			xs, ys = append(xs, h.AtS), append(ys, get(h))
		}
		res.Trends[name] = fit(xs, ys, warm, absLimit, relLimit)
	}
	for _, impl := range impls {
		series(impl+" rss_mb", func(h hourSample) float64 { return h.Plugins[impl].RSSMB }, 4, 0.10)
		if impl == implOurs {
			series(impl+" goroutines", func(h hourSample) float64 { return float64(h.Plugins[impl].Goroutines) }, 5, 0.10)
		} else {
			series(impl+" threads", func(h hourSample) float64 { return float64(h.Plugins[impl].Threads) }, 3, 0.10)
		}
	}
	series("emulator rss_mb", func(h hourSample) float64 { return h.Emulator.RSSMB }, 4, 0.10)
	series("emulator goroutines", func(h hourSample) float64 { return float64(h.Emulator.Goroutines) }, 5, 0.10)
	series("emulator sessions", func(h hourSample) float64 { return float64(h.Sessions) }, 0.1*float64(res.SessionsBound)+10, 0)
	series("vault rss_mb", func(h hourSample) float64 { return h.Vault.RSSMB }, 8, 0.10)
	return nil
}

// fit draws the least-squares line through the points from warm seconds on
// (the last half of them when fewer than three are that late) and calls the
// series flat when its growth over their span stays within max(absLimit,
// relLimit times the mean).
func fit(xs, ys []float64, warm, absLimit, relLimit float64) *trend {
	t := &trend{WarmS: warm}
	if len(ys) == 0 {
		return t
	}
	t.First, t.Last = ys[0], ys[len(ys)-1]
	for _, y := range ys {
		t.Max = max(t.Max, y)
	}
	from := len(xs)
	for i, x := range xs {
		if x >= warm {
			from = i
			break
		}
	}
	if len(xs)-from < 3 {
		from = len(xs) / 2
		t.Note = "run shorter than the warm-up: fitted on the last half of the samples"
	}
	xs, ys = xs[from:], ys[from:]
	t.Points = len(xs)
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	mean := sy / n
	t.Limit = round2(max(absLimit, relLimit*mean))
	if d := n*sxx - sx*sx; d > 0 && n >= 2 {
		slope := (n*sxy - sx*sy) / d // per second
		t.Slope = round2(slope * 3600)
		t.Growth = round2(slope * (xs[len(xs)-1] - xs[0]))
	}
	t.Flat = len(ys) >= 2 && t.Growth <= t.Limit
	return t
}
