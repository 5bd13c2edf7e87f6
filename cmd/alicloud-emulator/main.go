// Command alicloud-emulator runs an in-memory Alibaba Cloud account (STS, RAM,
// ECS instance metadata, a credentials URI endpoint) for development and
// tests. It listens on loopback by default and never contacts Alibaba Cloud.
//
// Usage:
//
//	alicloud-emulator [-listen 127.0.0.1:8100] [-tls-listen 127.0.0.1:8443]
//	    [-proxy-listen 127.0.0.1:8102] [-seed seed.json] [-state state.json]
//	    [-ca-out ca.pem] [-ca-cert ca.pem -ca-key ca-key.pem]
//	    [-sts-max-duration 2m] [-fault-seed 42] [-quiet] [-version]
//
// It prints the account id, the main AccessKey (this is a development tool:
// the secret goes to stdout only) and the endpoints and environment variables
// to use. See emulator/README.md.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/atomicfile"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is the parsed command line.
type config struct {
	listen        string
	tlsListen     string
	proxyListen   string
	seedFile      string
	stateFile     string
	stateInterval time.Duration
	caOut         string
	caCert        string
	caKey         string
	stsMaxDur     time.Duration
	faultSeed     int64
	quiet         bool
	showVersion   bool
}

// defaultCAOut is where the CA certificate goes when TLS or the proxy is on
// and neither -ca-out nor -ca-cert names a file.
func defaultCAOut() string { return filepath.Join(os.TempDir(), "alicloud-emulator-ca.pem") }

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("alicloud-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8100", "address of the plain-HTTP listener (RPC, admin API, metadata, credentials URI)")
	fs.StringVar(&c.tlsListen, "tls-listen", "", "address of an HTTPS listener with the emulator's CA (e.g. 127.0.0.1:8443); empty: off")
	fs.StringVar(&c.proxyListen, "proxy-listen", "", "address of the HTTP proxy for unmodified SDKs (e.g. 127.0.0.1:8102); empty: off")
	fs.StringVar(&c.seedFile, "seed", "", "seed file (JSON) with the initial account state; see emulator/README.md")
	fs.StringVar(&c.stateFile, "state", "", "state file: loaded at start when present, saved on exit and periodically when changed")
	fs.DurationVar(&c.stateInterval, "state-interval", 5*time.Second, "how often a changed state is saved to -state")
	fs.StringVar(&c.caOut, "ca-out", "", "write the CA certificate (PEM) here, for SSL_CERT_FILE (default: "+defaultCAOut()+" when TLS or the proxy is on)")
	fs.StringVar(&c.caCert, "ca-cert", "", "CA certificate to use (PEM); generated and written here if the file does not exist (needs -ca-key)")
	fs.StringVar(&c.caKey, "ca-key", "", "CA private key to use (PEM); generated and written here (mode 0600) if the file does not exist")
	fs.DurationVar(&c.stsMaxDur, "sts-max-duration", 0, "test option: every STS credential the emulator issues expires after at most this (0: off)")
	fs.Int64Var(&c.faultSeed, "fault-seed", 0, "seed for fault injection and generated ids, for reproducible runs (0: random)")
	fs.BoolVar(&c.quiet, "quiet", false, "do not log requests to stderr")
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.listen == "" {
		return nil, errors.New("-listen must not be empty")
	}
	if (c.caCert == "") != (c.caKey == "") {
		return nil, errors.New("-ca-cert and -ca-key go together")
	}
	if c.stsMaxDur < 0 {
		return nil, errors.New("-sts-max-duration must not be negative")
	}
	if c.stateInterval <= 0 {
		return nil, errors.New("-state-interval must be positive")
	}
	if c.caOut == "" && c.caCert == "" && (c.tlsListen != "" || c.proxyListen != "") {
		c.caOut = defaultCAOut()
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "alicloud-emulator:", err)
		return 2
	}
	if cfg.showVersion {
		fmt.Fprintln(stdout, "alicloud-emulator", version)
		return 0
	}
	logger := log.New(stderr, "", log.LstdFlags)
	s, err := newServer(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "alicloud-emulator:", err)
		return 1
	}
	s.start()
	s.printBanner(stdout)

	// Expired STS sessions go every minute even when no new session is
	// issued (issuing prunes too), so an idle emulator keeps none for long.
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	var save <-chan time.Time
	if s.cfg.stateFile != "" {
		t := time.NewTicker(cfg.stateInterval)
		defer t.Stop()
		save = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-prune.C:
			s.emu.PruneSessions()
		case <-save:
			if err := s.saveState(); err != nil {
				logger.Printf("alicloud-emulator: save state: %v", err)
			}
		case err := <-s.failed:
			logger.Printf("alicloud-emulator: %v", err)
			done = true
		}
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(stderr, "alicloud-emulator: shutdown:", err)
		return 1
	}
	return 0
}

// server is one running emulator with its listeners.
type server struct {
	cfg    *config
	emu    *emulator.Emulator
	ca     *emulator.CA
	proxy  *emulator.Proxy
	logger *log.Logger

	mainURL, tlsURL, proxyURL string
	caFile                    string

	listeners []net.Listener
	servers   []*http.Server
	wg        sync.WaitGroup
	failed    chan error

	saveMu    sync.Mutex
	savedHash [32]byte
	stateNote string
}

// newServer builds the emulator (seed, then saved state) and binds every
// listener, so address errors surface before anything is printed.
func newServer(cfg *config, logger *log.Logger) (_ *server, err error) {
	s := &server{cfg: cfg, logger: logger, failed: make(chan error, 3)}
	defer func() {
		if err != nil {
			for _, l := range s.listeners {
				_ = l.Close()
			}
		}
	}()

	opts := emulator.Options{RandSeed: cfg.faultSeed, MaxIssuedSessionDuration: cfg.stsMaxDur}
	if !cfg.quiet {
		opts.Logger = logger.Printf
	}
	if cfg.seedFile != "" {
		seed, err := emulator.LoadSeedFile(cfg.seedFile)
		if err != nil {
			return nil, err
		}
		opts.Seed = seed
	}
	if s.emu, err = emulator.New(opts); err != nil {
		return nil, err
	}
	if cfg.stateFile != "" {
		b, err := os.ReadFile(cfg.stateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			s.stateNote = "new (will be created)"
		case err != nil:
			return nil, fmt.Errorf("read state: %w", err)
		default:
			if err := s.emu.LoadState(bytes.NewReader(b)); err != nil {
				return nil, fmt.Errorf("%s: %w", cfg.stateFile, err)
			}
			s.savedHash = sha256.Sum256(b)
			s.stateNote = "loaded"
			if cfg.seedFile != "" {
				s.stateNote = "loaded (the seed file was not applied: the saved state wins)"
			}
		}
	}

	if cfg.tlsListen != "" || cfg.proxyListen != "" {
		if s.ca, err = loadOrCreateCA(cfg.caCert, cfg.caKey); err != nil {
			return nil, err
		}
		s.caFile = cfg.caCert
		if cfg.caOut != "" {
			if err := s.ca.WritePEM(cfg.caOut); err != nil {
				return nil, fmt.Errorf("write CA certificate: %w", err)
			}
			s.caFile = cfg.caOut
		}
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, fmt.Errorf("-listen: %w", err)
	}
	s.listeners = append(s.listeners, ln)
	s.mainURL = "http://" + ln.Addr().String()
	// The built-in OIDC issuer's "iss" must be a URL clients can fetch keys from.
	s.emu.SetOIDCIssuerURL(s.mainURL + "/_emulator/oidc")
	s.servers = append(s.servers, s.newHTTPServer(s.emu))

	if cfg.tlsListen != "" {
		ln, err := net.Listen("tcp", cfg.tlsListen)
		if err != nil {
			return nil, fmt.Errorf("-tls-listen: %w", err)
		}
		s.listeners = append(s.listeners, ln)
		s.tlsURL = "https://" + ln.Addr().String()
		srv := s.newHTTPServer(s.emu)
		srv.TLSConfig = s.ca.TLSConfig()
		s.servers = append(s.servers, srv)
	}
	// The admin API accepts loopback Host headers, and the exact address of a
	// listener that serves it (as given on the command line, and as bound).
	// The proxy's own address is not one: it forwards no admin request.
	adminAddrs := []string{cfg.listen, s.listeners[0].Addr().String()}
	if cfg.tlsListen != "" {
		adminAddrs = append(adminAddrs, cfg.tlsListen, s.listeners[1].Addr().String())
	}
	s.emu.SetListenerAddrs(adminAddrs...)

	if cfg.proxyListen != "" {
		ln, err := net.Listen("tcp", cfg.proxyListen)
		if err != nil {
			return nil, fmt.Errorf("-proxy-listen: %w", err)
		}
		s.listeners = append(s.listeners, ln)
		s.proxyURL = "http://" + ln.Addr().String()
		s.proxy = s.emu.ProxyHandler(s.ca)
		s.proxy.ErrorLog = logger
		s.servers = append(s.servers, s.newHTTPServer(s.proxy))
	}
	return s, nil
}

func (s *server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          s.logger,
	}
}

// start serves every listener in the background.
func (s *server) start() {
	for i, srv := range s.servers {
		ln := s.listeners[i]
		if srv.TLSConfig != nil {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.failed <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		}()
	}
}

// shutdown stops accepting, lets requests in flight finish, ends proxy
// tunnels and saves the state a last time.
func (s *server) shutdown(ctx context.Context) error {
	var errs []error
	if s.proxy != nil {
		// Tunnels are hijacked connections that Shutdown does not track.
		go func() { _ = s.proxy.Close() }()
	}
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	for _, l := range s.listeners {
		_ = l.Close() // already closed when served; not when start was never called
	}
	if err := s.saveState(); err != nil {
		errs = append(errs, fmt.Errorf("save state: %w", err))
	}
	return errors.Join(errs...)
}

// saveState writes the state file when the state changed since the last save
// or load. The file holds secrets and is written with mode 0600.
func (s *server) saveState() error {
	if s.cfg.stateFile == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	var buf bytes.Buffer
	if err := s.emu.SaveState(&buf); err != nil {
		return err
	}
	h := sha256.Sum256(buf.Bytes())
	if h == s.savedHash {
		return nil
	}
	if err := atomicfile.Write(s.cfg.stateFile, buf.Bytes(), 0o600); err != nil {
		return err
	}
	s.savedHash = h
	return nil
}

// printBanner tells the user what to connect to. The main secret is printed
// on purpose: this is a local development tool and stdout is its only channel.
func (s *server) printBanner(w io.Writer) {
	id, secret := s.emu.MainAccessKey()
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("alicloud-emulator %s", version)
	p("  account id:             %s", s.emu.AccountID())
	p("  main AccessKey id:      %s", id)
	p("  main AccessKey secret:  %s", secret)
	p("  endpoint (RPC):         %s   (STS, RAM and ECS on one listener; Version and Action pick the API)", s.mainURL)
	p("  admin API:              %s/_emulator/", s.mainURL)
	p("  ECS metadata:           %s/latest/meta-data/ram/security-credentials/", s.mainURL)
	p("  credentials URI:        %s/credentials-uri", s.mainURL)
	p("  OIDC issuer:            %s/_emulator/oidc", s.mainURL)
	if s.tlsURL != "" {
		p("  HTTPS endpoint:         %s", s.tlsURL)
	}
	if s.proxyURL != "" {
		p("  proxy:                  %s   (CONNECT *.aliyuncs.com:443, http://%s)", s.proxyURL, emulator.MetadataHost)
	}
	if s.caFile != "" {
		p("  CA certificate:         %s", s.caFile)
	}
	if s.cfg.stateFile != "" {
		p("  state file:             %s (%s)", s.cfg.stateFile, s.stateNote)
	}
	if s.cfg.stsMaxDur > 0 {
		p("  test option:            STS credentials expire after at most %s", s.cfg.stsMaxDur)
	}
	p("")
	p("Our client / Vault plugin:")
	p("  endpoint %s (sts and ram)", s.mainURL)
	p("Environment for programs using the official SDKs and credentials library:")
	p("  export ALIBABA_CLOUD_ACCESS_KEY_ID=%s ALIBABA_CLOUD_ACCESS_KEY_SECRET=%s", id, secret)
	if s.proxyURL != "" {
		p("  export HTTPS_PROXY=%s HTTP_PROXY=%s NO_PROXY= SSL_CERT_FILE=%s", s.proxyURL, s.proxyURL, s.caFile)
	}
	p("  export ALIBABA_CLOUD_CREDENTIALS_URI=%s/credentials-uri", s.mainURL)
}

func loadOrCreateCA(certFile, keyFile string) (*emulator.CA, error) {
	if certFile == "" {
		return emulator.NewCA()
	}
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		return emulator.LoadCA(certFile, keyFile)
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
		ca, err := emulator.NewCA()
		if err != nil {
			return nil, err
		}
		if err := ca.WriteKeyPEM(keyFile); err != nil {
			return nil, fmt.Errorf("write CA key: %w", err)
		}
		if err := ca.WritePEM(certFile); err != nil {
			return nil, fmt.Errorf("write CA certificate: %w", err)
		}
		return ca, nil
	default:
		return nil, fmt.Errorf("-ca-cert %s and -ca-key %s must both exist or both be absent", certFile, keyFile)
	}
}
