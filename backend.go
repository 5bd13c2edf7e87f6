// Package alicloud is a Vault secrets engine that issues Alibaba Cloud
// credentials: STS tokens for RAM roles, and RAM users with an AccessKey that
// is deleted when the lease ends. It keeps the paths, field names and storage
// layout of HashiCorp's vault-plugin-secrets-alicloud where they overlap, so
// it can replace that plugin under an existing mount.
package alicloud

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// Version is the plugin's version, reported to Vault as its running version.
// Vault requires it to be a semantic version that matches the version the
// plugin was registered with; builds stamp it through the main package.
var Version = "v0.0.0-dev"

// operationPrefixAliCloud prefixes the OpenAPI operation ids; HashiCorp's
// plugin uses the same prefix, so generated clients keep working.
const operationPrefixAliCloud = "ali-cloud"

// walRollbackMinAge is how old a WAL entry must be before the rollback acts on
// it. It must exceed the slowest request that writes one (Vault's default
// request timeout is 90 seconds; a request with retries stays well under ten
// minutes), so that the rollback never undoes a request still in flight.
const walRollbackMinAge = 10 * time.Minute

// Factory returns a configured instance of the backend. It is the function
// Vault calls for each mount.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	settings, err := processSettings()
	if err != nil {
		return nil, err
	}
	env := defaultEnv()
	env.Settings = settings
	b := newBackend(env)
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return httpStatusBackend{b}, nil
}

// backendEnv is what the backend takes from its surroundings. Production uses
// defaultEnv; tests inject their own clock, environment, HTTP client, sleep
// and crash points.
type backendEnv struct {
	// Clock returns the current time.
	Clock func() time.Time
	// Getenv and HomeDir are used only by credential_type "default" (the
	// default credential chain); no other code looks at the environment.
	// An empty HomeDir lets the chain derive it from Getenv.
	Getenv  func(string) string
	HomeDir string
	// HTTPClient, when set, is used for every call to Alibaba Cloud, the ECS
	// metadata service and a credentials URI. Nil lets each client build its own.
	HTTPClient *http.Client
	// Sleep waits between retries of aliyun calls and of the rotate-root
	// confirmation; it returns early with ctx.Err().
	Sleep func(ctx context.Context, d time.Duration) error
	// RotateConfirmTimeout bounds how long rotate-root waits for a new key to
	// be accepted (RAM is eventually consistent).
	RotateConfirmTimeout time.Duration
	// RotateConfirmInterval is the pause between confirmation attempts.
	RotateConfirmInterval time.Duration
	// RetryBaseDelay overrides the aliyun client's backoff base (tests).
	RetryBaseDelay time.Duration
	// Settings are the operator settings (settings.go).
	Settings pluginSettings

	// crash, when set, is asked at each step of a multi-step operation
	// whether the process should "die" there: the operation then returns at
	// once, without any cleanup, as a crash would. Tests only.
	crash func(step string) bool
}

func defaultEnv() backendEnv {
	return backendEnv{
		Clock:                 time.Now,
		Getenv:                os.Getenv,
		Sleep:                 aliyun.SleepContext,
		RotateConfirmTimeout:  15 * time.Second,
		RotateConfirmInterval: time.Second,
		Settings:              defaultPluginSettings(),
	}
}

func (e *backendEnv) fillDefaults() {
	d := defaultEnv()
	if e.Clock == nil {
		e.Clock = d.Clock
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.Sleep == nil {
		e.Sleep = d.Sleep
	}
	if e.RotateConfirmTimeout <= 0 {
		e.RotateConfirmTimeout = d.RotateConfirmTimeout
	}
	if e.RotateConfirmInterval <= 0 {
		e.RotateConfirmInterval = d.RotateConfirmInterval
	}
	if e.Settings.WALRollbackMinAge <= 0 {
		e.Settings.WALRollbackMinAge = d.Settings.WALRollbackMinAge
	}
}

// periodicTask is one job run from the backend's PeriodicFunc (about once a
// minute, only where storage writes are allowed).
type periodicTask func(ctx context.Context, req *logical.Request) error

type backend struct {
	*framework.Backend
	env backendEnv

	// clientMu guards client, the one aliyun client built from the stored
	// config. Issuing credentials only takes the read lock.
	clientMu sync.RWMutex
	client   *engineClient

	// configMu serializes config writes, config deletes and root rotations.
	configMu sync.Mutex
	// Per-name locks, one set per kind of name, so that a lock of one kind
	// never shares a bucket with a lock of another (locksutil hashes names
	// into buckets, and two names of one kind may share one). Where two are
	// held at once the order is: static role, then RAM user.
	//
	// roleLocks: writers of a role (role writes and deletes, the
	// managed-policy bookkeeping) take the write lock; issuing a RAM user
	// takes the read lock so the role's policies stay put meanwhile.
	roleLocks []*locksutil.LockEntry
	// staticLocks: one per static role (see staticLock).
	staticLocks []*locksutil.LockEntry
	// staticUserLocks: one per RAM user a static role manages, so that two
	// static roles cannot be created for one user at once.
	staticUserLocks []*locksutil.LockEntry

	// roleCache holds decoded roles by name for the creds hot path, each
	// tagged with the roleGen it was read under; roleGen moves on after
	// every role write or delete (here or, through invalidate, on another
	// node), which retires every cached role at once.
	// Each change also clears the map (rolesChanged), which bounds it by
	// the roles that exist.
	roleCache sync.Map // name -> cachedRoleEntry
	roleGen   atomic.Uint64

	// templates caches parsed name templates by their text (bounded).
	templates templateCache

	// backendUUID identifies the mount (stable across restarts); managed
	// policy names carry a tag of it.
	backendUUID string

	// periodicTasks run from periodicFunc; later features append theirs.
	periodicTasks []periodicTask
	// lastPolicyGC is when the managed-policy garbage collection last ran.
	gcMu         sync.Mutex
	lastPolicyGC time.Time

	// issued paces the sweep of the issued-users ledger (issued_ledger.go).
	issued issuedSweep

	// static caches when each static role is next due (static_rotation.go).
	static staticSchedule
}

func newBackend(env backendEnv) *backend {
	env.fillDefaults()
	b := &backend{env: env, roleLocks: locksutil.CreateLocks(), staticLocks: locksutil.CreateLocks(), staticUserLocks: locksutil.CreateLocks()}
	b.Backend = &framework.Backend{
		Help:        strings.TrimSpace(backendHelp),
		BackendType: logical.TypeLogical,
		PathsSpecial: &logical.Paths{
			SealWrapStorage: []string{configStorageKey, staticRoleStoragePrefix},
			// WAL entries describe what this cluster created; on a performance
			// secondary they must stay local, as its leases do.
			LocalStorage: []string{framework.WALPrefix},
		},
		Paths: framework.PathAppend(
			[]*framework.Path{
				pathConfig(b),
				pathConfigIdentity(b),
				pathConfigRotateRoot(b),
				pathListRoles(b),
				pathRole(b),
				pathCreds(b),
				pathListStaticRoles(b),
				pathStaticRole(b),
				pathStaticRoleRotate(b),
				pathStaticCreds(b),
			},
		),
		Secrets:           []*framework.Secret{secretAccessKey(b)},
		WALRollback:       b.walRollback,
		WALRollbackMinAge: env.Settings.WALRollbackMinAge,
		Invalidate:        b.invalidate,
		Clean:             b.clean,
		PeriodicFunc:      b.periodicFunc,
		RunningVersion:    Version,
	}
	b.periodicTasks = append(b.periodicTasks, b.policyGCTask, b.staticRotationTask, b.rootRotationTask, b.issuedSweepTask)
	return b
}

// Setup keeps the mount's backend UUID, then sets up the framework backend.
// The system view is wrapped so that the replication state Vault is asked
// for before every request is cached (sysview.go).
func (b *backend) Setup(ctx context.Context, conf *logical.BackendConfig) error {
	b.backendUUID = conf.BackendUUID
	c := *conf
	c.System = withReplicationStateCache(conf.System)
	return b.Backend.Setup(ctx, &c)
}

// now returns the backend's current time.
func (b *backend) now() time.Time { return b.env.Clock() }

// invalidate drops the cached client when another node changed the config
// (performance standbys and secondaries receive the key here).
func (b *backend) invalidate(_ context.Context, key string) {
	b.static.invalidateKey(key)
	if strings.HasPrefix(key, roleStoragePrefix) {
		b.rolesChanged()
	}
	if key == configStorageKey {
		b.clearClient()
	}
}

func (b *backend) clean(context.Context) { b.clearClient() }

// periodicFunc runs the registered periodic tasks where writes are safe.
func (b *backend) periodicFunc(ctx context.Context, req *logical.Request) error {
	if !b.WriteSafeReplicationState() {
		return nil
	}
	var errs []error
	for _, task := range b.periodicTasks {
		if err := task(ctx, req); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// crashed reports whether a test asked the process to die at step.
func (b *backend) crashed(step string) bool {
	return b.env.crash != nil && b.env.crash(step)
}

// errSimulatedCrash is returned at a crash point chosen by a test.
var errSimulatedCrash = errors.New("simulated crash")

const backendHelp = `
The AliCloud secrets engine issues Alibaba Cloud credentials.

After mounting it, configure the engine's own identity at "config" (an
AccessKey, an STS token, a RAM role, the ECS instance RAM role, an OIDC role,
a credentials URI or the default credential chain), then write roles at
"role/<name>". Reading "creds/<name>" returns either STS credentials for a RAM
role ("assumed_role") or a new RAM user with an AccessKey ("ram_user") that is
deleted when the lease ends. "config/rotate-root" replaces the engine's own
AccessKey.
`
