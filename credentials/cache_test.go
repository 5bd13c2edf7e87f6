package credentials

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheRefreshTiming(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		window   time.Duration
		// refreshAfter is how long after a fetch the cache refreshes.
		refreshAfter time.Duration
	}{
		{"one hour, default window", time.Hour, 0, time.Hour - 3*time.Minute},
		{"custom window", time.Hour, 10 * time.Minute, 50 * time.Minute},
		{"short lifetime caps the window at half", 4 * time.Minute, 0, 2 * time.Minute},
		{"window larger than lifetime", 15 * time.Minute, time.Hour, 7*time.Minute + 30*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			prov := sessionProvider(clock, tt.lifetime)
			c := NewCache(prov, CacheOptions{RefreshWindow: tt.window, Jitter: -1, Clock: clock.Now})
			ctx := context.Background()
			first, err := c.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if first.AccessKeyID != "STS.key1" {
				t.Fatalf("first = %v", first)
			}
			clock.Advance(tt.refreshAfter - time.Second)
			got, _ := c.Retrieve(ctx)
			if got.AccessKeyID != "STS.key1" || prov.calls.Load() != 1 {
				t.Fatalf("1s before the refresh time: got %s after %d calls, want the cached STS.key1 after 1", got.AccessKeyID, prov.calls.Load())
			}
			clock.Advance(time.Second)
			got, _ = c.Retrieve(ctx)
			if got.AccessKeyID != "STS.key2" || prov.calls.Load() != 2 {
				t.Fatalf("at the refresh time: got %s after %d calls, want STS.key2 after 2", got.AccessKeyID, prov.calls.Load())
			}
			got, _ = c.Retrieve(ctx)
			if got.AccessKeyID != "STS.key2" || prov.calls.Load() != 2 {
				t.Fatalf("right after the refresh: got %s after %d calls", got.AccessKeyID, prov.calls.Load())
			}
		})
	}
}

func TestCacheJitterStaysInBounds(t *testing.T) {
	clock := newFakeClock()
	c := NewCache(sessionProvider(clock, time.Hour), CacheOptions{Jitter: 5 * time.Minute, Clock: clock.Now})
	creds := Credentials{Expiration: clock.Now().Add(time.Hour)}
	seen := map[time.Time]bool{}
	for range 200 {
		at := c.refreshTime(creds, clock.Now())
		ahead := creds.Expiration.Sub(at)
		if ahead < 3*time.Minute || ahead >= 8*time.Minute {
			t.Fatalf("refreshes %s before expiry, want within [3m, 8m)", ahead)
		}
		seen[at] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct refresh times in 200 draws: no jitter", len(seen))
	}
	// The cap at half the lifetime includes the jitter.
	short := Credentials{Expiration: clock.Now().Add(6 * time.Minute)}
	for range 50 {
		if ahead := short.Expiration.Sub(c.refreshTime(short, clock.Now())); ahead > 3*time.Minute {
			t.Fatalf("6m session refreshed %s before expiry, want at most half (3m)", ahead)
		}
	}
	if !c.refreshTime(Credentials{}, clock.Now()).IsZero() {
		t.Error("credentials that never expire got a refresh time")
	}
}

func TestCacheStaticCredentialsFetchedOnce(t *testing.T) {
	clock := newFakeClock()
	prov := &countingProvider{fn: func(context.Context, int64) (Credentials, error) {
		return Credentials{AccessKeyID: "LTAI", AccessKeySecret: "s", Source: "access_key"}, nil
	}}
	c := NewCache(prov, CacheOptions{Clock: clock.Now})
	for range 5 {
		if _, err := c.Retrieve(context.Background()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(100 * 24 * time.Hour)
	}
	if n := prov.calls.Load(); n != 1 {
		t.Errorf("provider called %d times, want 1", n)
	}
}

func TestCacheFailures(t *testing.T) {
	errUpstream := errors.New("sts: Throttling.User")
	ctx := context.Background()

	t.Run("first fetch fails", func(t *testing.T) {
		clock := newFakeClock()
		prov := &countingProvider{fn: func(context.Context, int64) (Credentials, error) { return Credentials{}, errUpstream }}
		c := NewCache(prov, CacheOptions{Clock: clock.Now})
		if _, err := c.Retrieve(ctx); !errors.Is(err, errUpstream) {
			t.Fatalf("err = %v, want the provider's error", err)
		}
		// Nothing cached: the next call asks again.
		c.Retrieve(ctx)
		if n := prov.calls.Load(); n != 2 {
			t.Errorf("provider called %d times, want 2", n)
		}
	})

	t.Run("refresh fails while credentials are valid", func(t *testing.T) {
		clock := newFakeClock()
		fail := false
		var mu sync.Mutex
		ok := sessionProvider(clock, time.Hour)
		prov := &countingProvider{fn: func(ctx context.Context, n int64) (Credentials, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return Credentials{}, errUpstream
			}
			return ok.fn(ctx, n)
		}}
		c := NewCache(prov, CacheOptions{Jitter: -1, Clock: clock.Now, RetryAfterFailure: 10 * time.Second})
		if _, err := c.Retrieve(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		fail = true
		mu.Unlock()
		clock.Advance(58 * time.Minute) // inside the 3m window, 2m left
		got, err := c.Retrieve(ctx)
		if err != nil || got.AccessKeyID != "STS.key1" {
			t.Fatalf("got %v, %v; want the still-valid STS.key1", got, err)
		}
		if n := prov.calls.Load(); n != 2 {
			t.Fatalf("provider called %d times, want 2 (one failed refresh)", n)
		}
		// No new attempt on every call: the next one waits RetryAfterFailure.
		clock.Advance(9 * time.Second)
		c.Retrieve(ctx)
		if n := prov.calls.Load(); n != 2 {
			t.Fatalf("provider called %d times within the retry pause, want 2", n)
		}
		clock.Advance(time.Second)
		c.Retrieve(ctx)
		if n := prov.calls.Load(); n != 3 {
			t.Fatalf("provider called %d times after the retry pause, want 3", n)
		}
		// Past the expiry the old credentials are never served.
		clock.Advance(2 * time.Minute)
		got, err = c.Retrieve(ctx)
		if !errors.Is(err, errUpstream) {
			t.Fatalf("after expiry got %v, %v; want the provider's error", got, err)
		}
		if got != (Credentials{}) {
			t.Errorf("after expiry got credentials %v with the error", got)
		}
		// Recovery.
		mu.Lock()
		fail = false
		mu.Unlock()
		got, err = c.Retrieve(ctx)
		if err != nil || got.AccessKeyID == "STS.key1" {
			t.Fatalf("after recovery got %v, %v", got, err)
		}
	})

	t.Run("retry pause capped before expiry", func(t *testing.T) {
		clock := newFakeClock()
		n := 0
		prov := &countingProvider{fn: func(context.Context, int64) (Credentials, error) {
			n++
			if n > 1 {
				return Credentials{}, errUpstream
			}
			return Credentials{AccessKeyID: "STS.a", AccessKeySecret: "s", Expiration: clock.Now().Add(time.Minute)}, nil
		}}
		c := NewCache(prov, CacheOptions{Jitter: -1, Clock: clock.Now, RetryAfterFailure: time.Hour})
		c.Retrieve(ctx)
		clock.Advance(40 * time.Second) // past the half-life refresh time, 20s left
		if got, err := c.Retrieve(ctx); err != nil || got.AccessKeyID != "STS.a" {
			t.Fatalf("got %v, %v", got, err)
		}
		clock.Advance(10 * time.Second) // half of the remaining 20s
		c.Retrieve(ctx)
		if calls := prov.calls.Load(); calls != 3 {
			t.Errorf("provider called %d times, want 3: the retry must come before expiry despite a 1h pause", calls)
		}
	})

	t.Run("provider returns expired credentials", func(t *testing.T) {
		clock := newFakeClock()
		prov := &countingProvider{fn: func(context.Context, int64) (Credentials, error) {
			return Credentials{AccessKeyID: "STS.old", AccessKeySecret: "s", Expiration: clock.Now().Add(-time.Second), Source: "sts"}, nil
		}}
		c := NewCache(prov, CacheOptions{Clock: clock.Now})
		got, err := c.Retrieve(ctx)
		if err == nil {
			t.Fatalf("got %v, want an error for expired credentials", got)
		}
		mustContain(t, err.Error(), "sts returned credentials that expired at 2030-01-02T03:04:04Z")
	})
}

func TestCacheInvalidate(t *testing.T) {
	clock := newFakeClock()
	prov := sessionProvider(clock, time.Hour)
	c := NewCache(prov, CacheOptions{Clock: clock.Now})
	ctx := context.Background()
	c.Retrieve(ctx)
	c.Invalidate()
	got, _ := c.Retrieve(ctx)
	if got.AccessKeyID != "STS.key2" {
		t.Errorf("after Invalidate got %s, want a new session STS.key2", got.AccessKeyID)
	}
}

func TestCacheReject(t *testing.T) {
	clock := newFakeClock()
	prov := sessionProvider(clock, time.Hour)
	c := NewCache(prov, CacheOptions{Clock: clock.Now})
	ctx := context.Background()
	first, _ := c.Retrieve(ctx)

	// Refusal of credentials the cache no longer holds, or never held: kept.
	if c.Reject("STS.other", first.SecurityToken) || c.Reject(first.AccessKeyID, "other-token") {
		t.Fatal("dropped credentials that were not the refused ones")
	}
	// The cached ones: dropped once, however many requests report them.
	var rejected atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Reject(first.AccessKeyID, first.SecurityToken) {
				rejected.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := rejected.Load(); n != 1 {
		t.Fatalf("20 concurrent rejections dropped the credentials %d times, want 1", n)
	}
	got, _ := c.Retrieve(ctx)
	if got.AccessKeyID != "STS.key2" || prov.calls.Load() != 2 {
		t.Fatalf("after Reject got %s after %d fetches, want STS.key2 after 2", got.AccessKeyID, prov.calls.Load())
	}
	// The new ones refused at once too: not before RejectInterval.
	if c.Reject(got.AccessKeyID, got.SecurityToken) {
		t.Fatal("a second rejection within RejectInterval dropped the credentials")
	}
	clock.Advance(RejectInterval)
	if !c.Reject(got.AccessKeyID, got.SecurityToken) {
		t.Fatal("a rejection after RejectInterval was ignored")
	}
	if got, _ := c.Retrieve(ctx); got.AccessKeyID != "STS.key3" {
		t.Fatalf("after the second Reject got %s, want STS.key3", got.AccessKeyID)
	}
}

func TestCacheInvalidateDuringRefreshDropsTheResult(t *testing.T) {
	clock := newFakeClock()
	inFlight, release := make(chan struct{}), make(chan struct{})
	base := sessionProvider(clock, time.Hour)
	prov := &countingProvider{fn: func(ctx context.Context, n int64) (Credentials, error) {
		if n == 1 {
			close(inFlight)
			<-release
		}
		return base.fn(ctx, n)
	}}
	c := NewCache(prov, CacheOptions{Clock: clock.Now})
	done := make(chan Credentials)
	go func() {
		got, _ := c.Retrieve(context.Background())
		done <- got
	}()
	<-inFlight
	c.Invalidate()
	close(release)
	if got := <-done; got.AccessKeyID != "STS.key1" {
		t.Fatalf("the waiting caller got %s", got.AccessKeyID)
	}
	got, _ := c.Retrieve(context.Background())
	if got.AccessKeyID != "STS.key2" {
		t.Errorf("after an Invalidate during the refresh, got %s; want a new fetch (STS.key2)", got.AccessKeyID)
	}
}

// TestCacheConcurrentRefreshIsSingle drives 100 goroutines at a cache whose
// credentials are due: the provider must be called once and everyone must
// get the new credentials.
func TestCacheConcurrentRefreshIsSingle(t *testing.T) {
	clock := newFakeClock()
	release := make(chan struct{})
	base := sessionProvider(clock, time.Hour)
	prov := &countingProvider{fn: func(ctx context.Context, n int64) (Credentials, error) {
		if n == 2 {
			<-release
		}
		return base.fn(ctx, n)
	}}
	c := NewCache(prov, CacheOptions{Jitter: -1, Clock: clock.Now})
	c.Retrieve(context.Background())
	clock.Advance(58 * time.Minute)

	const n = 100
	var wg sync.WaitGroup
	results := make([]Credentials, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.Retrieve(context.Background())
		}()
	}
	// Let the goroutines pile up behind the one refresh, then release it.
	for prov.calls.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if calls := prov.calls.Load(); calls != 2 {
		t.Errorf("provider called %d times, want 2 (the first fetch and one refresh)", calls)
	}
	for i := range n {
		if errs[i] != nil || results[i].AccessKeyID != "STS.key2" || results[i].Expired(clock.Now()) {
			t.Fatalf("goroutine %d got %v, %v; want STS.key2", i, results[i], errs[i])
		}
	}
}

func TestCacheCallerCancellation(t *testing.T) {
	clock := newFakeClock()
	release := make(chan struct{})
	var gotCtxErr error
	base := sessionProvider(clock, time.Hour)
	prov := &countingProvider{fn: func(ctx context.Context, n int64) (Credentials, error) {
		<-release
		gotCtxErr = ctx.Err()
		return base.fn(ctx, n)
	}}
	c := NewCache(prov, CacheOptions{Clock: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := c.Retrieve(ctx)
		errc <- err
	}()
	for prov.calls.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(release)
	// The refresh the cancelled caller started finishes for the others.
	got, err := c.Retrieve(context.Background())
	if err != nil || got.AccessKeyID != "STS.key1" {
		t.Fatalf("got %v, %v; want STS.key1 from the detached refresh", got, err)
	}
	if gotCtxErr != nil {
		t.Errorf("the provider saw a cancelled context: %v", gotCtxErr)
	}
	if n := prov.calls.Load(); n != 1 {
		t.Errorf("provider called %d times, want 1", n)
	}
}

func TestCachePrefetch(t *testing.T) {
	clock := newFakeClock()
	prov := sessionProvider(clock, time.Hour)
	timers := make(chan time.Duration, 10)
	fire := make(chan time.Time)
	after := func(d time.Duration) <-chan time.Time {
		timers <- d
		return fire
	}
	c := newCache(prov, CacheOptions{Prefetch: true, Jitter: -1, Clock: clock.Now}, after)
	defer c.Close()

	// The loop fetches right away (a zero wait) ...
	if d := <-timers; d != 0 {
		t.Fatalf("first wait %s, want 0", d)
	}
	fire <- clock.Now()
	// ... then sleeps until the refresh time.
	if d := <-timers; d != 57*time.Minute {
		t.Fatalf("wait after the first fetch = %s, want 57m", d)
	}
	if n := prov.calls.Load(); n != 1 {
		t.Fatalf("provider called %d times, want 1", n)
	}
	got, _ := c.Retrieve(context.Background())
	if got.AccessKeyID != "STS.key1" || prov.calls.Load() != 1 {
		t.Fatalf("Retrieve got %s after %d calls, want the prefetched STS.key1", got.AccessKeyID, prov.calls.Load())
	}
	clock.Advance(57 * time.Minute)
	fire <- clock.Now()
	if d := <-timers; d != 57*time.Minute {
		t.Fatalf("wait after the refresh = %s, want 57m", d)
	}
	got, _ = c.Retrieve(context.Background())
	if got.AccessKeyID != "STS.key2" || prov.calls.Load() != 2 {
		t.Fatalf("Retrieve got %s after %d calls, want the prefetched STS.key2", got.AccessKeyID, prov.calls.Load())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c.Close() // idempotent
	// The cache keeps working after Close.
	clock.Advance(time.Hour)
	if got, err := c.Retrieve(context.Background()); err != nil || got.AccessKeyID != "STS.key3" {
		t.Fatalf("after Close got %v, %v", got, err)
	}
}

func TestCachePrefetchBacksOffOnFailure(t *testing.T) {
	clock := newFakeClock()
	prov := &countingProvider{fn: func(context.Context, int64) (Credentials, error) {
		return Credentials{}, errors.New("metadata service unreachable")
	}}
	timers := make(chan time.Duration, 10)
	fire := make(chan time.Time)
	after := func(d time.Duration) <-chan time.Time {
		timers <- d
		return fire
	}
	c := newCache(prov, CacheOptions{Prefetch: true, Clock: clock.Now, RetryAfterFailure: time.Second}, after)
	defer c.Close()
	want := []time.Duration{0, time.Second, 0, 2 * time.Second, 0, 4 * time.Second}
	for i, w := range want {
		if d := <-timers; d != w {
			t.Fatalf("wait %d = %s, want %s", i, d, w)
		}
		fire <- clock.Now()
	}
}

func BenchmarkCacheRetrieve(b *testing.B) {
	clock := newFakeClock()
	c := NewCache(sessionProvider(clock, time.Hour), CacheOptions{Clock: clock.Now})
	ctx := context.Background()
	if _, err := c.Retrieve(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Retrieve(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCacheRetrieveRealClock(b *testing.B) {
	c := NewCache(sessionProvider(&fakeClock{t: time.Now()}, 24*time.Hour), CacheOptions{})
	ctx := context.Background()
	if _, err := c.Retrieve(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Retrieve(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
