package emulator

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// MetadataHost is the address of the ECS instance metadata service, which
// the proxy serves from the emulator.
const MetadataHost = "100.100.100.200"

const (
	proxyHandshakeTimeout = 10 * time.Second
	proxyIdleTimeout      = 2 * time.Minute
)

// Proxy is an HTTP proxy that lets unmodified programs reach the emulator by
// setting HTTPS_PROXY, HTTP_PROXY and SSL_CERT_FILE:
//
//   - CONNECT to <anything>.aliyuncs.com:443 (or aliyuncs.com:443) opens a
//     tunnel whose TLS the proxy terminates with a certificate from its CA;
//     the requests inside are served by the emulator, which learns the product
//     from the Host header.
//   - Plain-HTTP proxy requests to http://100.100.100.200/... are served by
//     the emulator's ECS metadata service, and those to
//     http://*.aliyuncs.com/... by the emulator.
//   - Everything else is refused with 403: nothing leaves the machine.
//
// Create it with Emulator.ProxyHandler and mount it on an http.Server; call
// Close when shutting the server down to end open tunnels, which
// http.Server.Shutdown does not track because they are hijacked.
type Proxy struct {
	e  *Emulator
	ca *CA

	// ErrorLog, when set, receives one line per refused request and per
	// tunnel failure (never request contents). Set it before serving.
	ErrorLog *log.Logger

	mu      sync.Mutex
	closed  bool
	tunnels map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// ProxyHandler returns the proxy-mode handler; ca issues the certificates the
// tunnels present, so clients must trust ca (SSL_CERT_FILE).
func (e *Emulator) ProxyHandler(ca *CA) *Proxy {
	return &Proxy{e: e, ca: ca, tunnels: map[net.Conn]struct{}{}}
}

// Close ends every open tunnel and waits for their handlers to return. Later
// CONNECT requests are refused with 503.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.tunnels {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.serveConnect(w, r)
		return
	}
	if r.URL.Host == "" || !r.URL.IsAbs() {
		// An origin-form request: someone talked to the proxy as a server.
		p.refuse(w, http.StatusBadRequest, r.Host,
			"this is the alicloud-emulator proxy; send proxy requests (absolute URLs or CONNECT), or use the emulator's own listener")
		return
	}
	host := strings.ToLower(r.URL.Hostname())
	port := r.URL.Port()
	if r.URL.Scheme != "http" {
		p.refuse(w, http.StatusBadRequest, r.URL.Host, "only http:// URLs are proxied in plain form; use CONNECT for https")
		return
	}
	if port != "" && port != "80" {
		p.refuse(w, http.StatusForbidden, r.URL.Host, refusalText)
		return
	}
	switch {
	case host == MetadataHost:
		p.e.serveMetadata(w, originForm(r))
	case isAliyunHost(host):
		p.e.ServeHTTP(w, originForm(r))
	default:
		p.refuse(w, http.StatusForbidden, r.URL.Host, refusalText)
	}
}

const refusalText = "only *.aliyuncs.com (CONNECT to port 443, or plain http) and http://" + MetadataHost +
	" are served; nothing is forwarded off this machine"

func (p *Proxy) refuse(w http.ResponseWriter, status int, target, why string) {
	p.logf("alicloud-emulator proxy: refused %q: %s", target, why)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "alicloud-emulator proxy refuses %q: %s\n", target, why)
}

func (p *Proxy) logf(format string, args ...any) {
	if p.ErrorLog != nil {
		p.ErrorLog.Printf(format, args...)
	}
}

// originForm turns an absolute-form proxy request into the origin-form
// request a server would have received, minus the hop-by-hop proxy headers.
func originForm(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Host = r.URL.Host
	r2.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Proxy-Connection")
	r2.Header.Del("Proxy-Authorization")
	return r2
}

// isAliyunHost reports whether host (no port) is aliyuncs.com or a name
// under it.
func isAliyunHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host == "aliyuncs.com" || (strings.HasSuffix(host, ".aliyuncs.com") && validDNSName(host))
}

func (p *Proxy) serveConnect(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		p.refuse(w, http.StatusBadRequest, r.Host, "CONNECT needs host:port")
		return
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if port != "443" || !isAliyunHost(host) {
		p.refuse(w, http.StatusForbidden, r.Host, refusalText)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		p.refuse(w, http.StatusHTTPVersionNotSupported, r.Host, "CONNECT is only supported over HTTP/1.1")
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.refuse(w, http.StatusServiceUnavailable, r.Host, "the proxy is shutting down")
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	conn, brw, err := hj.Hijack()
	if err != nil {
		p.logf("alicloud-emulator proxy: hijack %s: %v", r.Host, err)
		return
	}
	if !p.track(conn) {
		_ = conn.Close()
		return
	}
	defer p.untrack(conn)
	defer conn.Close()

	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var raw net.Conn = conn
	if brw != nil && brw.Reader.Buffered() > 0 {
		// The client sent its ClientHello before reading our 200; keep it.
		raw = &bufferedConn{Conn: conn, r: brw.Reader}
	}
	tlsConn := tls.Server(raw, p.ca.TLSConfig())
	_ = conn.SetDeadline(time.Now().Add(proxyHandshakeTimeout))
	if err := tlsConn.Handshake(); err != nil {
		p.logf("alicloud-emulator proxy: TLS handshake for %s: %v", r.Host, err)
		return
	}
	_ = conn.SetDeadline(time.Time{})

	ln := newOneConnListener(tlsConn)
	srv := &http.Server{
		Handler:           p.tunnelHandler(host),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       proxyIdleTimeout,
		ErrorLog:          p.ErrorLog,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				_ = ln.Close()
			}
		},
	}
	if srv.ErrorLog == nil {
		srv.ErrorLog = log.New(io.Discard, "", 0)
	}
	_ = srv.Serve(ln)
}

// tunnelHandler serves the requests inside a CONNECT tunnel to host.
func (p *Proxy) tunnelHandler(host string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" {
			r.Host = host
		}
		p.e.ServeHTTP(w, r)
	})
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.tunnels[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.tunnels, c)
	p.mu.Unlock()
}

// bufferedConn reads first what the HTTP server had already buffered from the
// hijacked connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// NetConn returns the connection underneath, like tls.Conn.NetConn, so a
// reset fault can reach the TCP connection of a tunnel.
func (c *bufferedConn) NetConn() net.Conn { return c.Conn }

// oneConnListener hands one connection to an http.Server, then blocks in
// Accept until closed, so Serve returns once that connection is done.
type oneConnListener struct {
	mu   sync.Mutex
	conn net.Conn
	addr net.Addr
	done chan struct{}
	once sync.Once
}

func newOneConnListener(c net.Conn) *oneConnListener {
	return &oneConnListener{conn: c, addr: c.LocalAddr(), done: make(chan struct{})}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.addr }
