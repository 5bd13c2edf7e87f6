package credentials

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache defaults.
const (
	DefaultRefreshWindow  = 3 * time.Minute
	DefaultRefreshJitter  = 30 * time.Second
	DefaultRefreshTimeout = time.Minute
	// DefaultRetryAfterFailure is how long a Cache that still holds valid
	// credentials waits after a failed refresh before it tries again, so a
	// failing upstream is not asked on every call.
	DefaultRetryAfterFailure = 10 * time.Second
)

// CacheOptions configure NewCache.
type CacheOptions struct {
	// RefreshWindow: credentials are refreshed when less than this remains
	// before they expire (default 3m), but never earlier than half their
	// lifetime, so short sessions are not refreshed constantly.
	RefreshWindow time.Duration
	// Jitter adds a random part, up to this much, to the refresh window so a
	// fleet of processes does not refresh in step (default 30s; negative: none).
	Jitter time.Duration
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// Prefetch refreshes in a background goroutine when the refresh time
	// comes, so callers never wait for a refresh. Close stops it.
	Prefetch bool
	// RefreshTimeout bounds one refresh, which runs detached from the
	// cancellation of the caller that started it (default 1m).
	RefreshTimeout time.Duration
	// RetryAfterFailure is the pause after a failed refresh while the
	// current credentials remain valid (default 10s, capped so the next try
	// comes before they expire).
	RetryAfterFailure time.Duration
}

// Cache wraps a provider and reuses its credentials until they near expiry.
// One refresh runs at a time; concurrent callers wait for it (or return
// still-valid credentials meanwhile) instead of asking the provider again.
// It never returns expired credentials, and when a refresh fails while the
// current credentials are still valid it keeps returning them. A Cache is
// safe for concurrent use.
type Cache struct {
	provider Provider
	window   time.Duration
	jitter   time.Duration
	clock    func() time.Time
	timeout  time.Duration
	retry    time.Duration

	cur   atomic.Pointer[cacheEntry]
	group singleflight.Group
	// gen is bumped by Invalidate so that a refresh that started earlier does
	// not store what it fetched over the invalidation.
	gen atomic.Uint64
	// lastReject is when Reject last dropped credentials (UnixNano).
	lastReject atomic.Int64

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
	wake      chan struct{}
	// after waits for d in the prefetch loop; tests replace it.
	after func(d time.Duration) <-chan time.Time
}

type cacheEntry struct {
	creds Credentials
	// refreshAt is when the credentials should be renewed; zero for
	// credentials that never expire.
	refreshAt time.Time
	gen       uint64
}

// NewCache returns a Cache around p. With o.Prefetch it starts a goroutine
// that fetches credentials right away and then before each expiry; call
// Close to stop it.
func NewCache(p Provider, o CacheOptions) *Cache {
	return newCache(p, o, time.After)
}

// newCache lets tests drive the prefetch loop's timers.
func newCache(p Provider, o CacheOptions, after func(time.Duration) <-chan time.Time) *Cache {
	c := &Cache{
		provider: p,
		window:   o.RefreshWindow,
		jitter:   o.Jitter,
		clock:    clockOrNow(o.Clock),
		timeout:  o.RefreshTimeout,
		retry:    o.RetryAfterFailure,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		after:    after,
	}
	if c.window <= 0 {
		c.window = DefaultRefreshWindow
	}
	switch {
	case c.jitter == 0:
		c.jitter = DefaultRefreshJitter
	case c.jitter < 0:
		c.jitter = 0
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRefreshTimeout
	}
	if c.retry <= 0 {
		c.retry = DefaultRetryAfterFailure
	}
	if o.Prefetch {
		go c.prefetchLoop()
	} else {
		close(c.done)
	}
	return c
}

// Retrieve returns cached credentials, refreshing them first when they are
// missing, expired or due for renewal.
func (c *Cache) Retrieve(ctx context.Context) (Credentials, error) {
	now := c.clock()
	e := c.cur.Load()
	if e != nil && !e.creds.Expired(now) && (e.refreshAt.IsZero() || now.Before(e.refreshAt)) {
		return e.creds, nil
	}
	ch := c.group.DoChan("refresh", func() (any, error) {
		return c.refresh(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Credentials{}, r.Err
		}
		return r.Val.(Credentials), nil
	case <-ctx.Done():
		// The caller gives up waiting; the refresh goes on for the others.
		return Credentials{}, fmt.Errorf("credentials: waiting for a refresh: %w", ctx.Err())
	}
}

// refresh asks the provider once and stores the answer. It runs inside the
// singleflight group, so at most one refresh is in flight.
func (c *Cache) refresh(ctx context.Context) (Credentials, error) {
	// Another caller may have refreshed between our check and the flight.
	now := c.clock()
	prev := c.cur.Load()
	if prev != nil && !prev.creds.Expired(now) && (prev.refreshAt.IsZero() || now.Before(prev.refreshAt)) {
		return prev.creds, nil
	}
	gen := c.gen.Load()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	creds, err := c.provider.Retrieve(ctx)
	cancel()
	now = c.clock()
	if err == nil && creds.Expired(now) {
		err = fmt.Errorf("credentials: %s returned credentials that expired at %s", sourceName(creds),
			creds.Expiration.UTC().Format(time.RFC3339))
	}
	if err != nil {
		if prev != nil && prev.gen == gen && !prev.creds.Expired(now) {
			// Keep serving what still works, and do not ask again on every
			// call: wait a little, but retry before the credentials expire.
			next := now.Add(c.retry)
			if half := now.Add(prev.creds.Expiration.Sub(now) / 2); next.After(half) {
				next = half
			}
			c.cur.CompareAndSwap(prev, &cacheEntry{creds: prev.creds, refreshAt: next, gen: gen})
			return prev.creds, nil
		}
		return Credentials{}, err
	}
	e := &cacheEntry{creds: creds, refreshAt: c.refreshTime(creds, now), gen: gen}
	if c.gen.Load() == gen {
		c.cur.Store(e)
		c.signal()
	}
	return creds, nil
}

// refreshTime is when creds fetched at now should be renewed: the window
// plus jitter before expiry, but no earlier than half their lifetime.
func (c *Cache) refreshTime(creds Credentials, now time.Time) time.Time {
	if !creds.CanExpire() {
		return time.Time{}
	}
	lifetime := creds.Expiration.Sub(now)
	ahead := c.window
	if c.jitter > 0 {
		ahead += rand.N(c.jitter)
	}
	if ahead > lifetime/2 {
		ahead = lifetime / 2
	}
	return creds.Expiration.Add(-ahead)
}

// Invalidate drops the cached credentials, so the next Retrieve fetches new
// ones: for example after the service rejected them, or after rotating the
// key they came from.
func (c *Cache) Invalidate() {
	c.gen.Add(1)
	c.cur.Store(nil)
	c.signal()
}

// RejectInterval is the least time between two refreshes caused by Reject:
// an identity the service keeps refusing costs at most one extra fetch per
// interval, not one per request.
const RejectInterval = 10 * time.Second

// Reject tells the cache that the service refused credentials it handed out
// (an expired or revoked security token, for example, while the cache still
// thought them valid). When they are the cached ones (same AccessKey ID and
// security token), they are dropped so that the next Retrieve fetches new
// ones; credentials already replaced are left alone, so many requests
// refused at once cause one refresh. It reports whether it dropped them: at
// most once per RejectInterval.
func (c *Cache) Reject(accessKeyID, securityToken string) bool {
	e := c.cur.Load()
	if e == nil || e.creds.AccessKeyID != accessKeyID || e.creds.SecurityToken != securityToken {
		return false
	}
	now := c.clock().UnixNano()
	last := c.lastReject.Load()
	if last != 0 && now-last < int64(RejectInterval) && now >= last {
		return false
	}
	if !c.lastReject.CompareAndSwap(last, now) {
		return false
	}
	c.Invalidate()
	return true
}

// Close stops the prefetch goroutine, if any, and waits for it to end. The
// Cache keeps working without it. Close may be called more than once.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

// String names the cached provider.
func (c *Cache) String() string { return fmt.Sprintf("cache of %v", c.provider) }

func (c *Cache) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// prefetchLoop refreshes when the refresh time of the cached credentials
// comes. It sleeps on timers in real time, converting from the (possibly
// injected) clock each round; a new entry or Invalidate wakes it.
func (c *Cache) prefetchLoop() {
	defer close(c.done)
	failures := 0
	for {
		var wait <-chan time.Time
		e := c.cur.Load()
		switch {
		case e == nil:
			wait = c.after(0)
		case e.refreshAt.IsZero():
			wait = nil // never expires: sleep until woken or closed
		default:
			wait = c.after(max(e.refreshAt.Sub(c.clock()), 0))
		}
		select {
		case <-c.stop:
			return
		case <-c.wake:
			continue
		case <-wait:
		}
		if e != nil && !e.refreshAt.IsZero() && c.clock().Before(e.refreshAt) && c.cur.Load() == e {
			// Woke up early (clock skew between timers and the clock).
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-c.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := c.Retrieve(ctx)
		cancel()
		// Our own store signalled wake; the loop reloads the entry anyway.
		select {
		case <-c.wake:
		default:
		}
		if err != nil || c.cur.Load() == e {
			// Nothing new: back off so a failing provider is not hammered.
			failures++
			select {
			case <-c.stop:
				return
			case <-c.after(backoff(c.retry, failures)):
			}
			continue
		}
		failures = 0
	}
}

// backoff doubles base per consecutive failure up to 32 times base.
func backoff(base time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < 32*base; i++ {
		d *= 2
	}
	return d
}
