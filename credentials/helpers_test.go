package credentials

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock shared by the code under test and, in
// emulator tests, by the emulator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// countingProvider counts calls and answers with fn(call number, from 1).
type countingProvider struct {
	calls atomic.Int64
	fn    func(ctx context.Context, n int64) (Credentials, error)
}

func (p *countingProvider) Retrieve(ctx context.Context) (Credentials, error) {
	return p.fn(ctx, p.calls.Add(1))
}

// sessionProvider issues a new session per call: key id "STS.<n>", valid
// for lifetime from the clock's now.
func sessionProvider(clock *fakeClock, lifetime time.Duration) *countingProvider {
	return &countingProvider{fn: func(_ context.Context, n int64) (Credentials, error) {
		return Credentials{
			AccessKeyID:     "STS.key" + itoa(n),
			AccessKeySecret: "secret" + itoa(n),
			SecurityToken:   "token" + itoa(n),
			Expiration:      clock.Now().Add(lifetime),
			Source:          "fake",
		}, nil
	}}
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// mustContain fails unless s contains every part.
func mustContain(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}

// mustNotContain fails if s contains any secret.
func mustNotContain(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, p := range secrets {
		if p != "" && strings.Contains(s, p) {
			t.Errorf("%q leaks %q", s, p)
		}
	}
}

// envMap is an injected environment.
func envMap(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}
