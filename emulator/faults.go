package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault kinds.
const (
	// FaultThrottle answers Throttling.User with HTTP 429 (the status most
	// Alibaba products document for it).
	FaultThrottle = "throttle"
	// Fault5xx answers ServiceUnavailable (503), or InternalError (500) when the
	// rule's Status is 500.
	Fault5xx = "5xx"
	// FaultLatency delays the request by the rule's Latency, then serves it.
	FaultLatency = "latency"
	// FaultDrop closes the connection without an answer, before the request is
	// processed: nothing is applied.
	FaultDrop = "drop"
	// FaultLostAnswer processes the request completely (a create creates, an
	// AssumeRole issues a session, an error is decided as usual), then closes
	// the connection without sending the answer: "the service applied the
	// request, then the answer was lost". It is how tests reproduce a
	// non-idempotent create whose answer never arrived.
	FaultLostAnswer = "lost_answer"
	// FaultReset aborts the connection with a TCP RST (SO_LINGER 0) before
	// the request is processed: nothing is applied, and the client reads
	// "connection reset by peer" rather than an end of file.
	FaultReset = "reset"
)

// FaultRule injects one kind of fault into matching requests.
type FaultRule struct {
	// Action is "*" for every request, an action name ("AssumeRole"), a
	// qualified one ("sts:AssumeRole"), or an edge endpoint ("ECSMetadata",
	// "CredentialsURI").
	Action string
	// Kind is one of FaultThrottle, Fault5xx, FaultLatency, FaultDrop,
	// FaultLostAnswer, FaultReset.
	Kind string
	// Probability that a matching request is affected, in (0, 1]; 0 means 1.
	Probability float64
	// Latency is the delay of FaultLatency.
	Latency time.Duration
	// Count limits the rule to its next Count firings; 0 is unlimited.
	Count int
	// Status selects the 5xx answer: 500 or 503 (0 means 503).
	Status int
}

// FaultConfig is the complete fault set-up. Decisions are drawn from a random
// stream seeded by Seed (0: derived from Options.RandSeed), so a sequence of
// requests meets the same faults on every run.
type FaultConfig struct {
	Seed  int64
	Rules []FaultRule
}

type faultRuleJSON struct {
	Action      string  `json:"action"`
	Kind        string  `json:"kind"`
	Probability float64 `json:"probability,omitempty"`
	Latency     string  `json:"latency,omitempty"`
	Count       int     `json:"count,omitempty"`
	Status      int     `json:"status,omitempty"`
}

// MarshalJSON writes the admin API form (snake_case, latency as a Go duration).
func (r FaultRule) MarshalJSON() ([]byte, error) {
	j := faultRuleJSON{Action: r.Action, Kind: r.Kind, Probability: r.Probability, Count: r.Count, Status: r.Status}
	if r.Latency != 0 {
		j.Latency = r.Latency.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the admin API form.
func (r *FaultRule) UnmarshalJSON(b []byte) error {
	var j faultRuleJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	*r = FaultRule{Action: j.Action, Kind: j.Kind, Probability: j.Probability, Count: j.Count, Status: j.Status}
	if j.Latency != "" {
		d, err := time.ParseDuration(j.Latency)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		r.Latency = d
	}
	return nil
}

type faultConfigJSON struct {
	Seed  int64       `json:"seed,omitempty"`
	Rules []FaultRule `json:"rules"`
}

// MarshalJSON writes the admin API form.
func (c FaultConfig) MarshalJSON() ([]byte, error) {
	rules := c.Rules
	if rules == nil {
		rules = []FaultRule{}
	}
	return json.Marshal(faultConfigJSON{Seed: c.Seed, Rules: rules})
}

// UnmarshalJSON reads the admin API form.
func (c *FaultConfig) UnmarshalJSON(b []byte) error {
	var j faultConfigJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	*c = FaultConfig(j)
	return nil
}

// strictUnmarshal decodes JSON refusing unknown fields (custom UnmarshalJSON
// methods do not inherit the caller decoder's setting).
func strictUnmarshal(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// Validate checks every rule.
func (c FaultConfig) Validate() error {
	for i, r := range c.Rules {
		if r.Action == "" {
			return fmt.Errorf("rules[%d].action: must not be empty (use \"*\" for every action)", i)
		}
		switch r.Kind {
		case FaultThrottle, FaultDrop, FaultLostAnswer, FaultReset:
		case Fault5xx:
			if r.Status != 0 && r.Status != 500 && r.Status != 503 {
				return fmt.Errorf("rules[%d].status: must be 500 or 503", i)
			}
		case FaultLatency:
			if r.Latency <= 0 {
				return fmt.Errorf("rules[%d].latency: must be positive for kind latency", i)
			}
		default:
			return fmt.Errorf("rules[%d].kind: %q is not one of throttle, 5xx, latency, drop, lost_answer, reset", i, r.Kind)
		}
		if r.Probability < 0 || r.Probability > 1 {
			return fmt.Errorf("rules[%d].probability: must be between 0 and 1", i)
		}
		if r.Count < 0 {
			return fmt.Errorf("rules[%d].count: must not be negative", i)
		}
	}
	return nil
}

type faultInjector struct {
	mu          sync.Mutex
	cfg         FaultConfig
	remaining   []int // per rule; -1 unlimited
	rnd         *mrand.Rand
	defaultSeed int64
}

func (f *faultInjector) init(defaultSeed int64) {
	f.defaultSeed = defaultSeed
	f.rnd = mrand.New(mrand.NewPCG(uint64(defaultSeed), 0))
}

// SetFaults replaces the fault rules and restarts the random stream from the
// config's seed. Invalid rules are dropped; use the admin API or
// FaultConfig.Validate to see why.
func (e *Emulator) SetFaults(c FaultConfig) {
	if c.Validate() != nil {
		c = FaultConfig{}
	}
	f := &e.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = FaultConfig{Seed: c.Seed, Rules: append([]FaultRule(nil), c.Rules...)}
	f.remaining = make([]int, len(c.Rules))
	for i, r := range c.Rules {
		f.remaining[i] = r.Count
		if r.Count == 0 {
			f.remaining[i] = -1
		}
	}
	seed := c.Seed
	if seed == 0 {
		seed = f.defaultSeed
	}
	f.rnd = mrand.New(mrand.NewPCG(uint64(seed), 0))
}

// Faults returns the current fault configuration.
func (e *Emulator) Faults() FaultConfig {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	return FaultConfig{Seed: e.faults.cfg.Seed, Rules: append([]FaultRule(nil), e.faults.cfg.Rules...)}
}

func ruleMatches(rule, action string) bool {
	if rule == "*" || rule == action {
		return true
	}
	if _, bare, ok := strings.Cut(action, ":"); ok && rule == bare {
		return true
	}
	return false
}

// decide picks the faults for one request: at most one terminal fault (throttle,
// 5xx, drop, lost_answer, reset) and the sum of the latency faults that fire before it.
func (f *faultInjector) decide(action string) (latency time.Duration, terminal *FaultRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.cfg.Rules {
		r := &f.cfg.Rules[i]
		if f.remaining[i] == 0 || !ruleMatches(r.Action, action) {
			continue
		}
		p := r.Probability
		if p == 0 {
			p = 1
		}
		if p < 1 && f.rnd.Float64() >= p {
			continue
		}
		if f.remaining[i] > 0 {
			f.remaining[i]--
		}
		if r.Kind == FaultLatency {
			latency += r.Latency
			continue
		}
		rule := *r
		return latency, &rule
	}
	return latency, nil
}

// faultVerdict tells the caller of applyFaults what is left to do.
type faultVerdict int

const (
	// faultNone: serve the request (any injected latency has passed).
	faultNone faultVerdict = iota
	// faultAnswered: the fault answered the request or closed its
	// connection; the caller must not touch the request any more.
	faultAnswered
	// faultLoseAnswer: serve the request completely, but into the writer
	// returned by loseAnswer, then drop the connection (FaultLostAnswer).
	faultLoseAnswer
)

// applyFaults injects the configured faults into a request for action
// ("ECSMetadata", "CredentialsURI", or an RPC action). Error bodies are JSON.
func (e *Emulator) applyFaults(w http.ResponseWriter, r *http.Request, action string) faultVerdict {
	return e.applyFaultsFormat(w, r, action, "JSON", r.Host, e.requestID())
}

func (e *Emulator) applyFaultsFormat(w http.ResponseWriter, r *http.Request, action, format, host, requestID string) faultVerdict {
	latency, rule := e.faults.decide(action)
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return faultAnswered
		}
	}
	if rule == nil {
		return faultNone
	}
	prod := productForAction(action)
	switch rule.Kind {
	case FaultThrottle:
		writeError(w, format, host, requestID, prod, apiErr(http.StatusTooManyRequests, "Throttling.User", "Request was denied due to user flow control."))
	case Fault5xx:
		if rule.Status == http.StatusInternalServerError {
			writeError(w, format, host, requestID, prod, apiErr(http.StatusInternalServerError, "InternalError", "The request processing has failed due to some unknown error, exception or failure."))
		} else {
			writeError(w, format, host, requestID, prod, apiErr(http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."))
		}
	case FaultDrop:
		closeConnection(w, false)
	case FaultReset:
		closeConnection(w, true)
	case FaultLostAnswer:
		return faultLoseAnswer
	}
	return faultAnswered
}

// loseAnswer serves FaultLostAnswer: the request is served into sink, which
// keeps nothing, and the caller defers drop, which then closes the connection
// of w without a byte of the answer having been sent.
func loseAnswer(w http.ResponseWriter) (sink http.ResponseWriter, drop func()) {
	return &discardWriter{header: http.Header{}}, func() { closeConnection(w, false) }
}

// discardWriter is a ResponseWriter that throws the answer away.
type discardWriter struct {
	header http.Header
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// closeConnection closes the connection of w without an answer; with reset,
// the TCP connection underneath (TLS included) is aborted with an RST instead
// of the orderly FIN. Nothing must have been written to w.
func closeConnection(w http.ResponseWriter, reset bool) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc := tcpConnOf(conn); reset && tc != nil {
				// Closing only the TCP connection: a TLS close_notify would
				// let the client see an orderly end.
				_ = tc.SetLinger(0)
				_ = tc.Close()
				return
			}
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 or a writer that cannot hijack: abort the response instead
	// (the server resets the stream or closes the connection).
	panic(http.ErrAbortHandler)
}

// tcpConnOf returns the TCP connection under c (a *tls.Conn, or the
// proxy's buffered tunnel connection), or nil.
func tcpConnOf(c net.Conn) *net.TCPConn {
	for range 4 {
		switch t := c.(type) {
		case *net.TCPConn:
			return t
		case interface{ NetConn() net.Conn }:
			c = t.NetConn()
		default:
			return nil
		}
	}
	return nil
}

func productForAction(action string) *product {
	code, _, _ := strings.Cut(action, ":")
	switch code {
	case "sts":
		return productSTS
	case "ram":
		return productRAM
	case "ecs":
		return productECS
	}
	return nil
}
