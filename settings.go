package alicloud

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Operator settings come from the plugin process's environment, which only
// a writer of sys/plugins/catalog can set (`vault plugin register -env
// NAME=value`). A writer of config or of a role cannot change them, so they
// decide what the plugin may reach whatever those writers ask for.
const (
	// envWALRollbackMinAge overrides how old a WAL entry must be before the
	// rollback acts on it (a Go duration, at least 1s). Tests and the soak
	// shorten it so that a crash's leftovers are removed within a minute or
	// two; production keeps the default (walRollbackMinAge).
	envWALRollbackMinAge = "ALICLOUD_PLUGIN_WAL_ROLLBACK_MIN_AGE"
)

// pluginSettings are the operator settings of one plugin process.
type pluginSettings struct {
	// WALRollbackMinAge is how old a WAL entry must be before the rollback
	// acts on it.
	WALRollbackMinAge time.Duration
}

// defaultPluginSettings are the settings of a plugin started with no
// operator setting.
func defaultPluginSettings() pluginSettings {
	return pluginSettings{WALRollbackMinAge: walRollbackMinAge}
}

// loadPluginSettings reads the operator settings from getenv. A malformed
// value is an error naming the variable: the mount then fails to start
// rather than run with a setting the operator did not mean.
func loadPluginSettings(getenv func(string) string) (pluginSettings, error) {
	s := defaultPluginSettings()
	if raw := strings.TrimSpace(getenv(envWALRollbackMinAge)); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < time.Second {
			return s, fmt.Errorf("%s: must be a duration of at least 1s, such as 30s or 10m; got %q", envWALRollbackMinAge, raw)
		}
		s.WALRollbackMinAge = d
	}
	return s, nil
}

// processSettings loads the settings of this process from its environment.
func processSettings() (pluginSettings, error) { return loadPluginSettings(os.Getenv) }
