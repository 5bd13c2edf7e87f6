package main

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

const (
	pluginName    = "vault-plugin-secrets-alicloud"
	pluginVersion = "v0.0.0-soak"
	mount         = "alicloud"
	accountID     = "1234567890123456"

	engineUser   = "soak-engine"    // the engine's own RAM user (config access_key)
	staticUser   = "soak-static"    // the static role's RAM user
	staticRole   = "soak-static"    // the static role's name in Vault
	stsRAMRole   = "soak-sts"       // the RAM role assumed_role credentials assume
	groupReaders = "soak-readers"   // RAM groups ram_user roles put their users in
	groupDevs    = "soak-devs"      //
	seedPolicy   = "soak-seed-read" // a custom policy of the seed, on soak-devs

	roleSTS   = "sts"     // assumed_role
	roleRAM   = "ramuser" // ram_user, inline policies, remote policy, groups, long TTL
	roleShort = "short"   // ram_user with a short TTL: Vault's expiration manager revokes its leases
)

// alnum is the alphabet of generated ids and secrets.
const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randString(r *mrand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// seedAccount is what the emulator starts with; the audit expects exactly
// this plus the engine's and static role's keys at the end.
type seedAccount struct {
	MainKeyID, MainSecret     string
	EngineKeyID, EngineSecret string
}

func trustAccount() map[string]any {
	return map[string]any{"Version": "1", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": "sts:AssumeRole",
		"Principal": map[string]any{"RAM": []string{"acs:ram::" + accountID + ":root"}},
	}}}
}

// writeSeed writes the emulator's seed: the engine's user with one key and
// AdministratorAccess, the static role's user, two groups, a custom policy
// and the RAM role for assumed_role credentials.
func writeSeed(path string, r *mrand.Rand) (seedAccount, error) {
	s := seedAccount{
		MainKeyID: "LTAIsoakmain" + randString(r, 12), MainSecret: randString(r, 30),
		EngineKeyID: "LTAIsoakroot" + randString(r, 12), EngineSecret: randString(r, 30),
	}
	doc := map[string]any{
		"account_id":      accountID,
		"main_access_key": map[string]any{"id": s.MainKeyID, "secret": s.MainSecret},
		"policies": []any{map[string]any{"name": seedPolicy, "description": "soak seed policy",
			"document": map[string]any{"Version": "1", "Statement": []any{map[string]any{
				"Effect": "Allow", "Action": []string{"oss:GetObject"}, "Resource": "acs:oss:*:*:soak-bucket/*"}}}}},
		"groups": []any{
			map[string]any{"name": groupReaders, "policies": []any{map[string]any{"name": "ReadOnlyAccess", "type": "System"}}},
			map[string]any{"name": groupDevs, "policies": []any{map[string]any{"name": seedPolicy, "type": "Custom"}}},
		},
		"users": []any{
			map[string]any{"name": engineUser, "display_name": "Vault engine (soak)",
				"access_keys": []any{map[string]any{"id": s.EngineKeyID, "secret": s.EngineSecret}},
				"policies":    []any{map[string]any{"name": "AdministratorAccess", "type": "System"}}},
			map[string]any{"name": staticUser, "display_name": "static role user (soak)",
				"policies": []any{map[string]any{"name": "ReadOnlyAccess", "type": "System"}}},
		},
		"roles": []any{map[string]any{"name": stsRAMRole, "max_session_duration": 3600, "trust_policy": trustAccount(),
			"policies": []any{map[string]any{"name": "ReadOnlyAccess", "type": "System"}}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return s, err
	}
	return s, os.WriteFile(path, b, 0o600)
}

// inlinePolicy is a small policy document; variant changes its text so a
// role update adds a policy version.
func inlinePolicy(bucket string, variant int) string {
	actions := []string{"oss:GetObject"}
	if variant%2 == 1 {
		actions = append(actions, "oss:ListObjects")
	}
	b, _ := json.Marshal([]any{map[string]any{"Version": "1", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": actions, "Resource": "acs:oss:*:*:" + bucket + "/*"}}}})
	return string(b)
}

// setupVault registers the plugin with its environment, enables it, turns
// on a file audit device, writes the engine config and the roles.
func (s *soak) setupVault(ctx context.Context) error {
	c := s.vc
	sum, err := sha256File(s.pluginExe)
	if err != nil {
		return err
	}
	env := []string{
		"ALICLOUD_PLUGIN_WAL_ROLLBACK_MIN_AGE=5s",
		"ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS=http://127.0.0.1:*",
		"ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true",
	}
	if err := c.do(ctx, http.MethodPut, "sys/plugins/catalog/secret/"+pluginName, map[string]any{
		"sha256": sum, "command": pluginName, "version": pluginVersion, "env": env}, nil); err != nil {
		return fmt.Errorf("registering the plugin: %w", err)
	}
	if err := c.do(ctx, http.MethodPost, "sys/mounts/"+mount, map[string]any{
		"type": pluginName, "plugin_version": pluginVersion}, nil); err != nil {
		return fmt.Errorf("enabling the plugin: %w", err)
	}
	if err := c.do(ctx, http.MethodPut, "sys/audit/file", map[string]any{
		"type": "file", "options": map[string]any{"file_path": s.vault.auditPath}}, nil); err != nil {
		return fmt.Errorf("enabling the file audit device: %w", err)
	}
	var mounts map[string]json.RawMessage
	var resp struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "sys/mounts", nil, &resp); err != nil {
		return err
	}
	mounts = resp.Data
	var m struct {
		UUID string `json:"uuid"`
	}
	if raw, ok := mounts[mount+"/"]; ok {
		_ = json.Unmarshal(raw, &m)
	}
	if m.UUID == "" {
		return fmt.Errorf("sys/mounts: no uuid for %s/", mount)
	}
	s.mountUUID = m.UUID
	if err := c.do(ctx, http.MethodPut, mount+"/config", map[string]any{
		"access_key": s.seed.EngineKeyID, "secret_key": s.seed.EngineSecret,
		"sts_endpoint": s.emu.URL, "ram_endpoint": s.emu.URL,
	}, nil); err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	roles := map[string]map[string]any{
		roleSTS: {"role_arn": "acs:ram::" + accountID + ":role/" + stsRAMRole, "ttl": 900, "max_ttl": 3600},
		roleRAM: {"credential_type": "ram_user", "inline_policies": inlinePolicy("soak-ram", 0),
			"remote_policies": []string{"name:ReadOnlyAccess,type:System"}, "ram_groups": []string{groupReaders, groupDevs},
			"ttl": "1h", "max_ttl": "2h"},
		roleShort: {"credential_type": "ram_user", "inline_policies": inlinePolicy("soak-short", 0),
			"ram_groups": []string{groupReaders}, "ttl": int(s.o.ShortTTL.Seconds()), "max_ttl": int(2 * s.o.ShortTTL.Seconds())},
	}
	for _, name := range []string{roleSTS, roleRAM, roleShort} {
		if err := c.do(ctx, http.MethodPut, mount+"/role/"+name, roles[name], nil); err != nil {
			return fmt.Errorf("writing role %s: %w", name, err)
		}
	}
	var st struct {
		Data struct {
			AccessKey string `json:"access_key"`
		} `json:"data"`
	}
	if err := c.do(ctx, http.MethodPut, mount+"/static-role/"+staticRole, map[string]any{
		"username": staticUser, "rotation_period": int(s.o.StaticPeriod.Seconds()), "grace_period": int(s.o.StaticPeriod.Seconds() / 3),
	}, &st); err != nil {
		return fmt.Errorf("writing static role: %w", err)
	}
	return nil
}

// newWorkDir makes the run's folder.
func newWorkDir(base string) (string, error) {
	if base != "" {
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp(base, "alicloud-soak-")
	if err != nil {
		return "", err
	}
	for _, sub := range []string{"plugins", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// errText shortens an error for the tables.
func errText(err error) string {
	if err == nil {
		return ""
	}
	t := err.Error()
	if len(t) > 300 {
		t = t[:300] + "..."
	}
	return strings.ReplaceAll(t, "\n", " ")
}
