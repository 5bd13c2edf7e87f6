package credentials

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// cliConfig is the Alibaba Cloud CLI's ~/.aliyun/config.json.
type cliConfig struct {
	Current  string       `json:"current"`
	Profiles []cliProfile `json:"profiles"`
}

// cliProfile holds the keys of one CLI profile that the supported modes use.
type cliProfile struct {
	Name            string `json:"name"`
	Mode            string `json:"mode"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	StsToken        string `json:"sts_token"`
	RAMRoleARN      string `json:"ram_role_arn"`
	RAMSessionName  string `json:"ram_session_name"`
	ExpiredSeconds  int64  `json:"expired_seconds"`
	StsRegion       string `json:"sts_region"`
	EnableVPC       bool   `json:"enable_vpc"`
	SourceProfile   string `json:"source_profile"`
	RAMRoleName     string `json:"ram_role_name"`
	OIDCTokenFile   string `json:"oidc_token_file"`
	OIDCProviderARN string `json:"oidc_provider_arn"`
	Policy          string `json:"policy"`
	ExternalID      string `json:"external_id"`
	ProcessCommand  string `json:"process_command"`
}

// CLI profile modes supported by NewCLIProfile.
var cliModes = []string{"AK", "StsToken", "RamRoleArn", "EcsRamRole", "OIDC", "ChainableRamRoleArn", "External"}

// cliInteractiveModes are CLI modes whose credentials come from a browser
// sign-in that only the CLI performs and keeps refreshed in its own file.
var cliInteractiveModes = map[string]string{
	"CloudSSO": "a CloudSSO sign-in",
	"OAuth":    "an OAuth sign-in",
}

var cliKeyNames = map[string]string{
	"id": "access_key_id", "secret": "access_key_secret", "token": "sts_token", "role_arn": "ram_role_arn",
	"oidc_provider_arn": "oidc_provider_arn", "oidc_token_file": "oidc_token_file",
	"process_command": "process_command",
}

// maxProfileChain bounds ChainableRamRoleArn nesting, cycles aside.
const maxProfileChain = 16

// parseCLIConfig resolves one profile of a CLI config.json. An empty profile
// means the config's current profile, else "default". errProfileMissing is
// wrapped when the profile is absent.
func parseCLIConfig(data []byte, profile string) (*profileSpec, error) {
	var cfg cliConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("invalid config.json: %s", jsonErrorText(err))
	}
	if profile == "" {
		profile = cfg.Current
	}
	if profile == "" {
		profile = "default"
	}
	byName := make(map[string]*cliProfile, len(cfg.Profiles))
	for i := range cfg.Profiles {
		p := &cfg.Profiles[i]
		if _, dup := byName[p.Name]; !dup {
			byName[p.Name] = p
		}
	}
	if _, ok := byName[profile]; !ok {
		return nil, fmt.Errorf("%w: no profile %q", errProfileMissing, truncate(profile, 64))
	}
	return resolveCLIProfile(byName, profile, nil)
}

// resolveCLIProfile turns a profile into a spec, following source_profile
// for ChainableRamRoleArn. path holds the profiles being resolved, to report
// a cycle instead of recursing forever.
func resolveCLIProfile(byName map[string]*cliProfile, name string, path []string) (*profileSpec, error) {
	for _, seen := range path {
		if seen == name {
			return nil, fmt.Errorf("profile %q: source_profile cycle: %s", path[0], strings.Join(append(path, name), " -> "))
		}
	}
	path = append(path, name)
	if len(path) > maxProfileChain {
		return nil, fmt.Errorf("profile %q: source_profile chain longer than %d", path[0], maxProfileChain)
	}
	p, ok := byName[name]
	if !ok {
		return nil, fmt.Errorf("profile %q: source_profile %q does not exist", path[len(path)-2], truncate(name, 64))
	}
	s := &profileSpec{
		accessKeyID:     strings.TrimSpace(p.AccessKeyID),
		accessKeySecret: strings.TrimSpace(p.AccessKeySecret),
		securityToken:   strings.TrimSpace(p.StsToken),
		roleARN:         p.RAMRoleARN,
		sessionName:     p.RAMSessionName,
		policy:          p.Policy,
		externalID:      p.ExternalID,
		roleName:        p.RAMRoleName,
		oidcProviderARN: p.OIDCProviderARN,
		oidcTokenFile:   p.OIDCTokenFile,
		stsRegion:       p.StsRegion,
		useVPC:          p.EnableVPC,
		processCommand:  p.ProcessCommand,
	}
	if p.ExpiredSeconds < 0 || p.ExpiredSeconds > int64(MaxSessionDuration/time.Second) {
		return nil, fmt.Errorf("profile %q: expired_seconds must be from 900 to 43200", name)
	}
	s.duration = time.Duration(p.ExpiredSeconds) * time.Second
	switch p.Mode {
	case "AK":
		s.kind = SourceAccessKey
	case "StsToken":
		s.kind = SourceSTS
	case "RamRoleArn":
		s.kind = SourceRAMRoleARN
	case "EcsRamRole":
		s.kind = SourceECSRAMRole
	case "OIDC":
		s.kind = SourceOIDCRoleARN
	case "ChainableRamRoleArn":
		s.kind = SourceRAMRoleARN
		if p.SourceProfile == "" {
			return nil, fmt.Errorf("profile %q: mode ChainableRamRoleArn needs source_profile", name)
		}
		src, err := resolveCLIProfile(byName, p.SourceProfile, path)
		if err != nil {
			return nil, err
		}
		s.source = src
	case "External":
		s.kind = SourceExternal
	case "":
		return nil, fmt.Errorf("profile %q: mode is required (one of %s)", name, strings.Join(cliModes, ", "))
	default:
		if what, ok := cliInteractiveModes[p.Mode]; ok {
			return nil, fmt.Errorf("profile %q: mode %s is not supported: its credentials come from %s that only the aliyun CLI performs; "+
				"use a non-interactive mode (one of %s), for example External with a process_command that prints credentials",
				name, p.Mode, what, strings.Join(cliModes, ", "))
		}
		return nil, fmt.Errorf("profile %q: mode %q is not supported (one of %s)", name, truncate(p.Mode, 64), strings.Join(cliModes, ", "))
	}
	if err := s.checkRequired(fmt.Sprintf("profile %q", name), "mode "+p.Mode, cliKeyNames); err != nil {
		return nil, err
	}
	return s, nil
}

// NewCLIProfile returns the provider described by a profile of the Alibaba
// Cloud CLI's ~/.aliyun/config.json, in mode AK, StsToken, RamRoleArn,
// EcsRamRole, OIDC, ChainableRamRoleArn (source_profile chains, cycles
// refused) or External (process_command, see NewExternal); CloudSSO and
// OAuth, which need the CLI's interactive sign-in, are refused. The file is read once, here; the error wraps ErrNotConfigured
// when the file or the profile is missing. The credentials' Source is
// "cli_profile/<type>...".
func NewCLIProfile(o ProfileOptions) (Provider, error) {
	return loadCLIProfile(o)
}

func loadCLIProfile(o ProfileOptions) (Provider, error) {
	getenv := getenvOrOS(o.Getenv)
	path, explicit := o.File, true
	if path == "" {
		path = getenv(EnvConfigFile)
	}
	if path == "" {
		explicit = false
		home := homeDir(o.HomeDir, getenv)
		if home == "" {
			return nil, fmt.Errorf("%s: %w: no home directory to find ~/.aliyun/config.json in", SourceCLIProfile, ErrNotConfigured)
		}
		path = filepath.Join(home, ".aliyun", "config.json")
	}
	data, err := readProfileFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: no file %s", SourceCLIProfile, ErrNotConfigured, path)
		}
		return nil, fmt.Errorf("%s: %w", SourceCLIProfile, err)
	}
	profile := o.Profile
	if profile == "" {
		profile = getenv(EnvProfile)
	}
	spec, err := parseCLIConfig(data, profile)
	if err != nil {
		if errors.Is(err, errProfileMissing) {
			return nil, fmt.Errorf("%s: %w: %s: %v", SourceCLIProfile, ErrNotConfigured, path, err)
		}
		return nil, fmt.Errorf("%s: %s: %w", SourceCLIProfile, path, err)
	}
	p, err := spec.build(buildEnv{
		httpClient:       o.HTTPClient,
		metadataEndpoint: o.MetadataEndpoint,
		stsEndpoint:      o.STSEndpoint,
		clock:            o.Clock,
		disableIMDSv1:    envTrue(getenv(EnvIMDSv1Disabled)),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", SourceCLIProfile, path, err)
	}
	return named(SourceCLIProfile, p), nil
}
