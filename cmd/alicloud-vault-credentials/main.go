// Command alicloud-vault-credentials hands Vault-issued Alibaba Cloud
// credentials to applications that know nothing of Vault.
//
//	alicloud-vault-credentials serve -role app=alicloud/creds/app [-role ro=alicloud/creds/readonly] [-listen 127.0.0.1:9911]
//	alicloud-vault-credentials print -path alicloud/creds/app
//
// serve answers GET /<name> (and GET / with one role) with the
// credentials-URI document Alibaba's SDKs read from
// ALIBABA_CLOUD_CREDENTIALS_URI, refreshed before expiry; print writes one
// credential in the aliyun CLI's External-mode format, for
// `aliyun configure --mode External --process-command "..."`.
//
// Vault is reached as Vault's own CLI does: VAULT_ADDR, VAULT_CACERT,
// VAULT_NAMESPACE and friends; the token comes from -token-file (re-read for
// every request, as Vault Agent's auto-auth sink rewrites it), else
// VAULT_TOKEN, else none (Vault Agent's API proxy adds its own).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/vaultcreds"
)

// version is stamped at build time (-ldflags "-X main.version=...").
var version = "dev"

const usage = `usage:
  alicloud-vault-credentials serve -role [name=]path [-role ...] [-listen addr] [-token-file file]
  alicloud-vault-credentials print -path path [-token-file file]
  alicloud-vault-credentials version

Run "alicloud-vault-credentials serve -h" or "... print -h" for the flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "print":
		err = printCmd(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "alicloud-vault-credentials", version)
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "alicloud-vault-credentials:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

// parseError keeps -h a success and makes other flag errors usage errors.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}

// roleFlags collects -role [name=]path.
type roleFlags []vaultcreds.RoleSpec

func (r *roleFlags) String() string { return fmt.Sprint(*r) }

func (r *roleFlags) Set(v string) error {
	name, p, ok := strings.Cut(v, "=")
	if !ok {
		p, name = v, path.Base(strings.TrimRight(v, "/"))
	}
	p = strings.Trim(p, "/")
	if p == "" || !strings.Contains(p, "/") {
		return fmt.Errorf("%q: want [name=]<mount>/creds/<role>", v)
	}
	*r = append(*r, vaultcreds.RoleSpec{Name: name, Path: p})
	return nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var roles roleFlags
	fs.Var(&roles, "role", "`[name=]path` of a creds path to serve at /name (repeatable; name defaults to the path's last part)")
	listen := fs.String("listen", "127.0.0.1:9911", "`address` to listen on: host:port, or unix:/path/to/socket")
	allow := fs.Bool("allow-non-loopback", false, "allow a listen address that is not a loopback address (anything that can connect gets credentials)")
	tokenFile := fs.String("token-file", "", "`file` holding the Vault token, re-read for every request (Vault Agent's auto-auth sink)")
	window := fs.Duration("refresh-window", credentials.DefaultRefreshWindow, "refresh credentials when less than this remains (never earlier than half their lifetime)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))}
	}
	if len(roles) == 0 {
		return usageError{errors.New("serve: at least one -role is required")}
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return usageError{err}
	}
	vault, err := newVault(*tokenFile)
	if err != nil {
		return err
	}
	l, err := vaultcreds.Listen(*listen, *allow)
	if err != nil {
		return err
	}
	return vaultcreds.Serve(ctx, vaultcreds.ServeConfig{
		Listener:     l,
		Vault:        vault,
		Roles:        roles,
		Logger:       log,
		LoopbackOnly: !*allow && !strings.HasPrefix(*listen, "unix:"),
		Cache:        credentials.CacheOptions{RefreshWindow: *window},
	})
}

func printCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("print", flag.ContinueOnError)
	fs.SetOutput(stderr)
	p := fs.String("path", "", "the creds `path` to read, e.g. alicloud/creds/app")
	tokenFile := fs.String("token-file", "", "`file` holding the Vault token (Vault Agent's auto-auth sink)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("print: unexpected argument %q", fs.Arg(0))}
	}
	if *p == "" {
		return usageError{errors.New("print: -path is required")}
	}
	vault, err := newVault(*tokenFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	r := vaultcreds.NewRole(vaultcreds.RoleOptions{Name: path.Base(*p), Path: strings.Trim(*p, "/"), Vault: vault})
	c, err := r.Retrieve(ctx)
	if err != nil {
		return err
	}
	if c.SecurityToken == "" {
		// Each run makes a RAM user that lives until its lease ends; the CLI runs the command for every call.
		fmt.Fprintln(stderr, "alicloud-vault-credentials: warning: "+*p+" issued a RAM user's AccessKey, which lives until its lease ends; prefer an STS (role_arn) role for print")
	}
	out, err := json.Marshal(vaultcreds.NewExternalDocument(c))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

func newVault(tokenFile string) (*vaultcreds.APIVault, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault configuration from the environment: %w", cfg.Error)
	}
	cfg.Timeout = 30 * time.Second
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	var tokens vaultcreds.TokenSource
	if tokenFile != "" {
		tokens = vaultcreds.FileToken(tokenFile)
		if _, err := tokens.Token(); err != nil {
			return nil, err
		}
	}
	return vaultcreds.NewAPIVault(client, tokens), nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: %v", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
