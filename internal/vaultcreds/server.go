package vaultcreds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

// URIDocument is the credentials-URI answer Alibaba's SDKs read
// (credentials-go providers/uri.go: AccessKeyId, AccessKeySecret,
// SecurityToken and Expiration must all be present; SecurityToken is ""
// for a RAM user's AccessKey).
type URIDocument struct {
	Code            string `json:"Code"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

// ExternalDocument is the aliyun CLI's External-mode document: the CLI
// decodes the process's output into its profile (config/profile.go: mode,
// access_key_id, access_key_secret, sts_token), and credentials-go's
// external provider reads expiration too.
type ExternalDocument struct {
	Mode            string `json:"mode"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	StsToken        string `json:"sts_token,omitempty"`
	Expiration      string `json:"expiration,omitempty"`
}

// timeLayout is the strict layout credentials-go parses Expiration with.
const timeLayout = "2006-01-02T15:04:05Z"

// NewURIDocument is c as a credentials-URI answer.
func NewURIDocument(c credentials.Credentials) URIDocument {
	return URIDocument{Code: "Success", AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret,
		SecurityToken: c.SecurityToken, Expiration: c.Expiration.UTC().Format(timeLayout)}
}

// NewExternalDocument is c as the aliyun CLI's External-mode output.
func NewExternalDocument(c credentials.Credentials) ExternalDocument {
	d := ExternalDocument{Mode: "AK", AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret}
	if c.SecurityToken != "" {
		d.Mode, d.StsToken = "StsToken", c.SecurityToken
	}
	if c.CanExpire() {
		d.Expiration = c.Expiration.UTC().Format(timeLayout)
	}
	return d
}

// RoleNamePattern is what a served role's name (its URL path) must match.
var RoleNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// reservedNames are the server's own paths.
var reservedNames = map[string]bool{"healthz": true, "readyz": true}

// Served is one role and the cache in front of it.
type Served struct {
	Role  *Role
	Cache *credentials.Cache
}

// Server answers GET /<role> with the role's credentials-URI document (and
// GET / when it serves one role), GET /healthz (the process is up) and GET
// /readyz (every role holds unexpired credentials).
type Server struct {
	roles     map[string]Served
	names     []string
	log       *slog.Logger
	clock     func() time.Time
	checkHost bool
	timeout   time.Duration
}

// ServerOptions configure NewServer.
type ServerOptions struct {
	Roles  []Served
	Logger *slog.Logger
	Clock  func() time.Time
	// LoopbackOnly refuses requests whose Host is not a loopback address or
	// localhost: a web page the user opens cannot reach the server through
	// a DNS name rebound to 127.0.0.1.
	LoopbackOnly bool
	// Timeout bounds how long a request waits for credentials (default 30s).
	Timeout time.Duration
}

// NewServer checks the role names and returns the server.
func NewServer(o ServerOptions) (*Server, error) {
	s := &Server{roles: map[string]Served{}, log: o.Logger, clock: o.Clock, checkHost: o.LoopbackOnly, timeout: o.Timeout}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if len(o.Roles) == 0 {
		return nil, errors.New("no role to serve")
	}
	for _, r := range o.Roles {
		name := r.Role.Name
		if !RoleNamePattern.MatchString(name) || reservedNames[name] {
			return nil, fmt.Errorf("role name %q: must match %s and not be healthz or readyz", name, RoleNamePattern)
		}
		if _, dup := s.roles[name]; dup {
			return nil, fmt.Errorf("role name %q given twice", name)
		}
		s.roles[name] = r
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	return s, nil
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.checkHost && !loopbackHost(r.Host) {
		s.log.Warn("request refused: Host is not a loopback address", "host", r.Host, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusForbidden, map[string]string{"Code": "Forbidden", "Message": "only loopback Host names are served"})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"Code": "MethodNotAllowed", "Message": "use GET"})
		return
	}
	name := strings.Trim(r.URL.Path, "/")
	switch name {
	case "healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "readyz":
		s.ready(w)
		return
	case "":
		if len(s.names) != 1 {
			writeJSON(w, http.StatusNotFound, map[string]any{"Code": "NotFound", "Message": "several roles are served; ask for one", "Roles": s.names})
			return
		}
		name = s.names[0]
	}
	served, ok := s.roles[name]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"Code": "NotFound", "Message": "no such role", "Roles": s.names})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	c, err := served.Cache.Retrieve(ctx)
	if err == nil && c.Expired(s.clock()) {
		err = errors.New("the credentials expired")
	}
	if err != nil {
		s.log.Error("no credentials to serve", "role", name, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"Code": "Unavailable", "Message": "no valid credentials for role " + name + "; see the server's log"})
		return
	}
	writeJSON(w, http.StatusOK, NewURIDocument(c))
}

func (s *Server) ready(w http.ResponseWriter) {
	now := s.clock()
	status, out := http.StatusOK, map[string]any{}
	for _, n := range s.names {
		until := s.roles[n].Role.ValidUntil()
		ok := now.Before(until)
		if !ok {
			status = http.StatusServiceUnavailable
		}
		e := map[string]any{"ready": ok}
		if !until.IsZero() {
			e["expiration"] = until.UTC().Format(timeLayout)
		}
		out[n] = e
	}
	writeJSON(w, status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// loopbackHost reports whether a Host header names a loopback address.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listen opens the listener for addr: host:port over TCP, or unix:/path for
// a unix socket (created mode 0660; a stale socket file is replaced). A TCP
// address that is not a loopback address (127.0.0.0/8, ::1, localhost) is
// refused unless allowNonLoopback: anything that can connect gets
// credentials.
func Listen(addr string, allowNonLoopback bool) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, errors.New("listen: unix: needs a path")
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(path)
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(path, 0o660); err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	if !allowNonLoopback && !loopbackHost(host) {
		what := host
		if what == "" {
			what = "every interface"
		}
		return nil, fmt.Errorf("listen %q: %s is not a loopback address; anything that can connect gets credentials, so this needs -allow-non-loopback", addr, what)
	}
	return net.Listen("tcp", addr)
}

// RoleSpec names a creds path to serve.
type RoleSpec struct {
	Name string // the URL path it is served at
	Path string // the Vault path, e.g. alicloud/creds/app
}

// ServeConfig configures Serve.
type ServeConfig struct {
	Listener net.Listener
	Vault    Vault
	Roles    []RoleSpec
	Logger   *slog.Logger
	// LoopbackOnly: see ServerOptions.
	LoopbackOnly bool
	// Cache configures each role's cache; Prefetch is always on, so
	// credentials are fetched at start and refreshed before they expire
	// whether or not anything asks.
	Cache credentials.CacheOptions
	// ShutdownTimeout bounds the revocation of held leases at shutdown
	// (default 15s).
	ShutdownTimeout time.Duration
}

// Serve serves cfg.Roles on cfg.Listener until ctx ends, then stops
// accepting requests, stops refreshing and revokes the leases it holds.
func Serve(ctx context.Context, cfg ServeConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var served []Served
	for _, spec := range cfg.Roles {
		r := NewRole(RoleOptions{Name: spec.Name, Path: spec.Path, Vault: cfg.Vault, Clock: cfg.Cache.Clock, Logger: log})
		co := cfg.Cache
		co.Prefetch = true
		served = append(served, Served{Role: r, Cache: credentials.NewCache(r, co)})
	}
	srv, err := NewServer(ServerOptions{Roles: served, Logger: log, Clock: cfg.Cache.Clock, LoopbackOnly: cfg.LoopbackOnly})
	if err != nil {
		for _, s := range served {
			s.Cache.Close()
		}
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(cfg.Listener) }()
	log.Info("serving", "addr", cfg.Listener.Addr().String(), "roles", len(served))

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = hs.Shutdown(sctx)
	cancel()
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	rctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		errs = append(errs, serveErr)
	}
	for _, s := range served {
		s.Cache.Close()
		if err := s.Role.Close(rctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
