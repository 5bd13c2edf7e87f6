package aliyun

import (
	"net/http"
	"testing"
	"time"
)

// TestNewHTTPClient_SharedTransport: every mount of the plugin builds its
// own Client, and each Client used to get a transport of its own, so a
// plugin process with many mounts kept a pool of idle connections (two
// goroutines and buffers each) per mount to the same endpoints. Clients
// with the same timeouts now share one transport, and the number of shared
// transports is bounded however many distinct timeouts are asked for.
func TestNewHTTPClient_SharedTransport(t *testing.T) {
	a := NewHTTPClient(3*time.Second, 7*time.Second)
	b := NewHTTPClient(3*time.Second, 7*time.Second)
	if a == b {
		t.Fatal("NewHTTPClient returned the same *http.Client twice; callers may change theirs")
	}
	if a.Transport != b.Transport {
		t.Fatal("two clients with the same timeouts have different transports")
	}
	if a.Timeout != 7*time.Second || a.CheckRedirect == nil {
		t.Fatalf("client: Timeout %s, CheckRedirect set %v; want 7s and set", a.Timeout, a.CheckRedirect != nil)
	}
	if c := NewHTTPClient(4*time.Second, 7*time.Second); c.Transport == a.Transport {
		t.Fatal("a different connect timeout shares the transport")
	}
	// Defaults are the same key as the explicit default values.
	if d, e := NewHTTPClient(0, 0), NewHTTPClient(DefaultConnectTimeout, DefaultRequestTimeout); d.Transport != e.Transport {
		t.Fatal("zero timeouts and the defaults do not share a transport")
	}

	seen := map[http.RoundTripper]bool{}
	for i := range 3 * maxSharedTransports {
		seen[NewHTTPClient(time.Duration(i+100)*time.Millisecond, time.Second).Transport] = true
	}
	if n := sharedTransportCount(); n > maxSharedTransports {
		t.Fatalf("%d shared transports, want at most %d", n, maxSharedTransports)
	}
	if len(seen) != 3*maxSharedTransports {
		t.Fatalf("%d distinct transports for %d distinct timeouts (those beyond the bound get their own)", len(seen), 3*maxSharedTransports)
	}
}
