package aliyun

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// maxSharedTransports bounds the transports NewHTTPClient shares: one per
// pair of timeouts asked for, and configurations use a handful of pairs.
// Pairs beyond the bound get a transport of their own, as before sharing.
const maxSharedTransports = 16

type transportKey struct{ connect, request time.Duration }

// sharedTransports are the transports NewHTTPClient hands out, by timeouts.
// A plugin process serves every mount from one process, and every mount
// builds its own Client: sharing the transport keeps one pool of idle
// connections per endpoint for the process rather than one per mount. The
// requests of each Client are still signed with its own credentials; a
// connection carries no identity.
var sharedTransports struct {
	mu sync.Mutex
	m  map[transportKey]*http.Transport
}

// sharedTransport returns the shared transport for the timeouts, making it
// on first use, or a new unshared one past the bound.
func sharedTransport(connectTimeout, requestTimeout time.Duration) *http.Transport {
	k := transportKey{connectTimeout, requestTimeout}
	sharedTransports.mu.Lock()
	defer sharedTransports.mu.Unlock()
	if t, ok := sharedTransports.m[k]; ok {
		return t
	}
	t := newTransport(connectTimeout, requestTimeout)
	if len(sharedTransports.m) < maxSharedTransports {
		if sharedTransports.m == nil {
			sharedTransports.m = map[transportKey]*http.Transport{}
		}
		sharedTransports.m[k] = t
	}
	return t
}

// sharedTransportCount is the number of shared transports (tests).
func sharedTransportCount() int {
	sharedTransports.mu.Lock()
	defer sharedTransports.mu.Unlock()
	return len(sharedTransports.m)
}

// newTransport is the transport of NewHTTPClient: proxy from the
// environment, keep-alive, HTTP/2.
func newTransport(connectTimeout, requestTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connectTimeout,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: requestTimeout,
	}
}
