package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// finish stops nothing itself (the load has stopped and the faults are
// cleared): it checks a sample of live credentials, revokes every lease,
// deletes the dynamic roles, waits for the WAL rollback, audits the
// emulator's state, checks every revoked RAM-user credential, stops Vault
// and searches its logs for secrets.
func (s *soak) finish(ctx context.Context) error {
	res := s.res
	_ = s.emu.admin(http.MethodDelete, "/_emulator/faults", nil, nil)
	s.harvestSecrets()
	if err := s.waitMount(ctx, 90*time.Second); err != nil {
		return err
	}
	r := mrand.New(mrand.NewPCG(s.o.Seed, 5))

	// Live leases must work.
	var ram, sts []*lease
	for _, l := range s.leases.all() {
		if l.Revoked != "" || time.Until(l.Expires) < 15*time.Second {
			continue
		}
		if l.Kind == "ram" {
			ram = append(ram, l)
		} else {
			sts = append(sts, l)
		}
	}
	for _, group := range [][]*lease{ram, sts} {
		r.Shuffle(len(group), func(i, j int) { group[i], group[j] = group[j], group[i] })
		if len(group) > 25 {
			group = group[:25]
		}
		for _, l := range group {
			// A revoke that failed for the client may have been done by
			// Vault all the same: only leases Vault still holds are live.
			if err := s.vc.do(ctx, http.MethodPut, "sys/leases/lookup", map[string]any{"lease_id": l.ID}, nil); err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("lease %s: not checked, lookup: %s", l.ID, errText(err)))
				continue
			}
			res.LiveChecked++
			if _, err := s.identity(ctx, l.AccessKey, l.Secret, l.Token); err != nil {
				res.LiveRefused = append(res.LiveRefused, fmt.Sprintf("%s (%s, key %s, issued %s): %s", l.ID, l.Role, l.AccessKey,
					l.Issued.UTC().Format("15:04:05"), errText(err)))
			}
		}
	}
	var sr secretResponse
	if err := s.vc.do(ctx, http.MethodGet, mount+"/static-creds/"+staticRole, nil, &sr); err != nil {
		res.LiveRefused = append(res.LiveRefused, "static-creds read: "+errText(err))
	} else {
		s.secrets.add("static role secret", sr.Data.SecretKey)
		res.LiveChecked++
		if _, err := s.identity(ctx, sr.Data.AccessKey, sr.Data.SecretKey, ""); err != nil {
			res.LiveRefused = append(res.LiveRefused, "static role key "+sr.Data.AccessKey+": "+errText(err))
		}
	}
	staticCurrent := sr.Data.AccessKey
	s.logf("live credentials: %d checked, %d refused", res.LiveChecked, len(res.LiveRefused))

	// Revoke every lease.
	for attempt := 1; attempt <= 5; attempt++ {
		t0 := time.Now()
		err := s.vc.do(ctx, http.MethodPut, "sys/leases/revoke-prefix/"+mount+"/creds", map[string]any{"sync": true}, nil)
		res.RevokeAll = append(res.RevokeAll, fmt.Sprintf("attempt %d: %s in %s", attempt, resultText(err), time.Since(t0).Round(time.Millisecond)))
		if err == nil {
			break
		}
		pause(ctx, 5*time.Second)
	}
	// Delete the dynamic roles.
	roles, err := s.vc.list(ctx, mount+"/role")
	if err != nil {
		res.Notes = append(res.Notes, "listing roles: "+errText(err))
	}
	for _, name := range roles {
		var derr error
		for attempt := 0; attempt < 3; attempt++ {
			if derr = s.vc.do(ctx, http.MethodDelete, mount+"/role/"+name, nil, nil); derr == nil {
				break
			}
			pause(ctx, 2*time.Second)
		}
		if derr != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("deleting role %s: %s", name, errText(derr)))
		}
	}
	s.logf("revoked every lease (%s), deleted %d roles; waiting for the WAL rollback", strings.Join(res.RevokeAll, "; "), len(roles))

	// Wait for Vault's rollback to empty the mount's WAL.
	walPath := "sys/raw/logical/" + s.mountUUID + "/wal/"
	t0 := time.Now()
	var wal []string
	for {
		wal, err = s.vc.list(ctx, walPath)
		if err == nil && len(wal) == 0 {
			break
		}
		if time.Since(t0) > s.o.WALWait || ctx.Err() != nil {
			break
		}
		pause(ctx, 5*time.Second)
	}
	res.WALWait = time.Since(t0).Round(time.Second).String()
	for _, id := range wal {
		var e struct {
			Data struct {
				Value string `json:"value"`
			} `json:"data"`
		}
		if s.vc.do(ctx, http.MethodGet, walPath+id, nil, &e) == nil {
			res.WALLeft = append(res.WALLeft, e.Data.Value)
		} else {
			res.WALLeft = append(res.WALLeft, id)
		}
	}
	s.logf("WAL: %d entries left after %s", len(wal), res.WALWait)

	// Leases Vault could not revoke.
	prefixes, err := s.vc.list(ctx, "sys/leases/lookup/"+mount+"/creds/")
	if err != nil {
		res.Unrevocable = append(res.Unrevocable, "listing leases: "+errText(err))
	}
	for _, p := range prefixes {
		ids, err := s.vc.list(ctx, "sys/leases/lookup/"+mount+"/creds/"+p)
		if err != nil {
			res.Unrevocable = append(res.Unrevocable, "listing leases of "+p+": "+errText(err))
			continue
		}
		for _, id := range ids {
			res.Unrevocable = append(res.Unrevocable, mount+"/creds/"+p+id)
		}
	}

	// The engine's key as Vault knows it.
	var cfg struct {
		Data struct {
			AccessKey string `json:"access_key"`
		} `json:"data"`
	}
	if err := s.vc.do(ctx, http.MethodGet, mount+"/config", nil, &cfg); err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	s.harvestSecrets()
	if err := s.audit(ctx, cfg.Data.AccessKey, staticCurrent); err != nil {
		return err
	}
	s.checkRevoked(ctx)

	// Stop Vault so its logs are complete, then search them.
	s.vault.Stop()
	res.VaultStrayPluginKills = s.vault.strayKills
	s.logLinesOfOrphans()
	s.maskedExistenceChecks = logTimes(s.vault.logPath, "failed to run existence check", "code = Unavailable")
	s.pluginDied = logTimes(s.vault.logPath, "plugin process exited", `error="signal: killed"`)
	for _, f := range []string{s.vault.logPath, s.vault.auditPath} {
		leaks, n, err := scanForSecrets(f, s.secrets.snapshot())
		if err != nil {
			res.Notes = append(res.Notes, "scanning "+f+": "+err.Error())
		}
		res.LogBytesScanned += n
		res.Leaks = append(res.Leaks, leaks...)
	}
	res.SecretsTracked = len(s.secrets.snapshot())
	return nil
}

// waitMount waits until the mount answers.
func (s *soak) waitMount(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := s.vc.do(ctx, http.MethodGet, mount+"/config", nil, nil)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the mount does not answer: %w", err)
		}
		pause(ctx, time.Second)
	}
}

// identity calls STS GetCallerIdentity with the credentials, at the emulator.
func (s *soak) identity(ctx context.Context, id, secret, token string) (*aliyun.CallerIdentity, error) {
	c, err := aliyun.NewClient(aliyun.Options{
		Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token}),
		Endpoints:   map[aliyun.Product]string{aliyun.STS: s.emu.URL, aliyun.RAM: s.emu.URL},
		MaxRetries:  2,
	})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.GetCallerIdentity(cctx)
}

// checkRevoked calls GetCallerIdentity with every RAM-user credential ever
// issued (all revoked by now): each must be refused as unknown.
func (s *soak) checkRevoked(ctx context.Context) {
	for _, l := range s.leases.all() {
		if l.Kind != "ram" {
			continue
		}
		s.res.RevokedChecked++
		_, err := s.identity(ctx, l.AccessKey, l.Secret, "")
		if aliyun.ErrorCode(err) == "InvalidAccessKeyId.NotFound" {
			continue
		}
		how := "still accepted"
		if err != nil {
			how = "refused with " + errText(err) + " instead of InvalidAccessKeyId.NotFound"
		}
		s.res.Orphans = append(s.res.Orphans, orphan{Kind: "revoked lease's key works", Name: l.AccessKey,
			Detail: fmt.Sprintf("lease %s of role %s issued %s, revoked by %s: %s", l.ID, l.Role, l.Issued.UTC().Format("15:04:05.000"), revokedBy(l), how),
			MadeBy: s.eventsOfKey(l.AccessKey)})
	}
}

func revokedBy(l *lease) string {
	if l.Revoked != "" {
		return "the client"
	}
	if time.Now().After(l.Expires) {
		return "expiry or revoke-prefix"
	}
	return "revoke-prefix"
}

// stateView is the part of GET /_emulator/state the audit reads.
type stateView struct {
	Users []struct {
		Name       string `json:"name"`
		Comments   string `json:"comments"`
		CreateDate string `json:"create_date"`
		AccessKeys []struct {
			ID         string `json:"id"`
			Status     string `json:"status"`
			CreateDate string `json:"create_date"`
		} `json:"access_keys"`
		Policies []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"policies"`
		Groups []string `json:"groups"`
	} `json:"users"`
	Groups []struct {
		Name     string   `json:"name"`
		Users    []string `json:"users"`
		Policies []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"policies"`
	} `json:"groups"`
	Policies []struct {
		Name            string `json:"name"`
		DefaultVersion  string `json:"default_version"`
		AttachmentCount int    `json:"attachment_count"`
		Versions        []struct {
			ID         string `json:"id"`
			CreateDate string `json:"create_date"`
		} `json:"versions"`
	} `json:"policies"`
	Roles []struct {
		Name string `json:"name"`
	} `json:"roles"`
}

// orphan is one thing left in the emulator that should not be, with the
// operations that may have made it.
type orphan struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	Detail string   `json:"detail"`
	MadeBy []string `json:"made_by,omitempty"`
}

// audit compares the emulator's state with what must be left: the seed, the
// static role's user with at most its current and previous key, the
// engine's user with exactly the key in its config.
func (s *soak) audit(ctx context.Context, configKey, staticCurrent string) error {
	var st stateView
	if err := s.emu.admin(http.MethodGet, "/_emulator/state", nil, &st); err != nil {
		return fmt.Errorf("reading the emulator's state: %w", err)
	}
	res := s.res
	add := func(o orphan) { res.Orphans = append(res.Orphans, o) }
	held, err := s.heldUsers(ctx)
	if err != nil {
		return fmt.Errorf("reading the engine's records of issued users: %w", err)
	}
	heldAttachments := map[string]int{}
	for _, u := range st.Users {
		if held[u.Name] != "" {
			for _, p := range u.Policies {
				heldAttachments[p.Name]++
			}
		}
	}
	seedUsers := map[string]bool{engineUser: true, staticUser: true}
	for _, u := range st.Users {
		var keys, pols []string
		for _, k := range u.AccessKeys {
			keys = append(keys, k.ID+" ("+k.Status+", created "+shortTime(k.CreateDate)+")")
		}
		for _, p := range u.Policies {
			pols = append(pols, p.Name+"/"+p.Type)
		}
		switch u.Name {
		case engineUser:
			found := false
			for _, k := range u.AccessKeys {
				if k.ID == configKey {
					found = true
					continue
				}
				add(orphan{Kind: "access key", Name: k.ID, Detail: fmt.Sprintf("on the engine's user %s (config holds %s), created %s",
					engineUser, configKey, shortTime(k.CreateDate)), MadeBy: s.eventsAt(k.CreateDate, "", "rotate-root")})
			}
			if !found {
				add(orphan{Kind: "config key missing", Name: configKey, Detail: "the engine's config holds a key its user does not have; keys: " + strings.Join(keys, ", ")})
			}
			if len(u.Policies) != 1 || len(u.Groups) != 0 {
				add(orphan{Kind: "user attachments", Name: engineUser, Detail: "policies " + strings.Join(pols, ", ") + "; groups " + strings.Join(u.Groups, ", ")})
			}
		case staticUser:
			prev := 0
			for _, k := range u.AccessKeys {
				if k.ID != staticCurrent {
					prev++
				}
			}
			if prev > 1 || len(u.AccessKeys) > 2 {
				add(orphan{Kind: "access key", Name: staticUser, Detail: fmt.Sprintf("the static role's user holds %d keys (current %s): %s",
					len(u.AccessKeys), staticCurrent, strings.Join(keys, ", "))})
			}
			if len(u.Policies) != 1 || len(u.Groups) != 0 {
				add(orphan{Kind: "user attachments", Name: staticUser, Detail: "policies " + strings.Join(pols, ", ") + "; groups " + strings.Join(u.Groups, ", ")})
			}
		default:
			if exp := held[u.Name]; exp != "" {
				res.Held = append(res.Held, fmt.Sprintf("%s (created %s; taken back after %s)", u.Name, shortTime(u.CreateDate), exp))
				continue
			}
			made := s.eventsOfUser(u.Name)
			for _, k := range u.AccessKeys {
				made = append(made, s.eventsOfKey(k.ID)...)
			}
			add(orphan{Kind: "user", Name: u.Name, Detail: fmt.Sprintf("created %s (%q); keys [%s]; policies [%s]; groups [%s]",
				shortTime(u.CreateDate), u.Comments, strings.Join(keys, ", "), strings.Join(pols, ", "), strings.Join(u.Groups, ", ")), MadeBy: made})
		}
	}
	seedGroups := map[string]bool{groupReaders: true, groupDevs: true}
	for _, g := range st.Groups {
		if !seedGroups[g.Name] {
			add(orphan{Kind: "group", Name: g.Name, Detail: "not in the seed"})
			continue
		}
		for _, u := range g.Users {
			if !seedUsers[u] && held[u] == "" {
				add(orphan{Kind: "group member", Name: g.Name + "/" + u, Detail: "a user that is not the seed's is in group " + g.Name})
			}
		}
	}
	for _, p := range st.Policies {
		if p.Name == seedPolicy {
			continue
		}
		if n := heldAttachments[p.Name]; n > 0 && n == p.AttachmentCount {
			// Held by users the engine takes back; collected with the last.
			continue
		}
		var vers []string
		for _, v := range p.Versions {
			vers = append(vers, v.ID+" "+shortTime(v.CreateDate))
		}
		created := ""
		if len(p.Versions) > 0 {
			created = p.Versions[0].CreateDate
		}
		role := policyRole(p.Name)
		made := s.eventsOfRole(role, "write role (new)", "write role (update)", "delete role")
		if len(made) == 0 {
			made = s.eventsAt(created, "", "write role (new)", "write role (update)", "delete role")
		}
		add(orphan{Kind: "policy", Name: p.Name, Detail: fmt.Sprintf("custom policy of role %q, attached %d times, versions [%s]",
			role, p.AttachmentCount, strings.Join(vers, ", ")), MadeBy: made})
	}
	for _, r := range st.Roles {
		if r.Name != stsRAMRole {
			add(orphan{Kind: "ram role", Name: r.Name, Detail: "not in the seed"})
		}
	}
	return ctx.Err()
}

// heldUsers reads the engine's records of issued RAM users from Vault's
// storage (sys/raw): user name -> when the engine takes it back. After the
// revoke-all every record left is of a lease Vault never stored.
func (s *soak) heldUsers(ctx context.Context) (map[string]string, error) {
	base := "sys/raw/logical/" + s.mountUUID + "/issued/"
	held := map[string]string{}
	buckets, err := s.vc.list(ctx, base)
	if err != nil {
		return nil, err
	}
	for _, b := range buckets {
		ids, err := s.vc.list(ctx, base+b)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			var e struct {
				Data struct {
					Value string `json:"value"`
				} `json:"data"`
			}
			if err := s.vc.do(ctx, http.MethodGet, base+b+id, nil, &e); err != nil {
				return nil, err
			}
			var rec struct {
				UserName string    `json:"user_name"`
				Expires  time.Time `json:"expires"`
			}
			if err := json.Unmarshal([]byte(e.Data.Value), &rec); err != nil {
				return nil, fmt.Errorf("decoding %s%s: %w", b, id, err)
			}
			held[rec.UserName] = rec.Expires.Add(time.Hour).UTC().Format("15:04:05")
		}
	}
	return held, nil
}

func shortTime(rfc string) string {
	t, err := time.Parse(time.RFC3339Nano, rfc)
	if err != nil {
		return rfc
	}
	return t.UTC().Format("15:04:05")
}

var policyNameRE = regexp.MustCompile(`^vault-[^-]+-(.+)-[0-9]+$`)

// policyRole is the role part of a managed policy name vault-<mount>-<role>-<i>.
func policyRole(name string) string {
	if m := policyNameRE.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

func (e event) String() string {
	s := e.At.UTC().Format("15:04:05.000") + " " + e.Op
	if e.Role != "" {
		s += " " + e.Role
	}
	if e.LeaseID != "" {
		s += " lease " + e.LeaseID
	}
	if e.KeyID != "" {
		s += " key " + e.KeyID
	}
	if e.Took != "" {
		s += " (" + e.Took + ")"
	}
	return s + ": " + e.Result
}

func eventStrings(evs []event, limit int) []string {
	var out []string
	for i, e := range evs {
		if i == limit {
			out = append(out, fmt.Sprintf("... and %d more", len(evs)-limit))
			break
		}
		out = append(out, e.String())
	}
	return out
}

// eventsAt names the operations of kinds ops running when a thing was
// created (an RFC 3339 time from the emulator).
func (s *soak) eventsAt(rfc, role string, ops ...string) []string {
	t, err := time.Parse(time.RFC3339Nano, rfc)
	if err != nil {
		return nil
	}
	return eventStrings(s.events.around(t, 2*time.Second, role, ops...), 8)
}

// eventsOfKey names the operations that returned or revoked a key.
func (s *soak) eventsOfKey(keyID string) []string {
	s.events.mu.Lock()
	var evs []event
	for _, e := range s.events.events {
		if e.KeyID == keyID {
			evs = append(evs, e)
		}
	}
	s.events.mu.Unlock()
	return eventStrings(evs, 8)
}

// eventsOfRole names the operations on a role.
func (s *soak) eventsOfRole(role string, ops ...string) []string {
	if role == "" {
		return nil
	}
	s.events.mu.Lock()
	var evs []event
	for _, e := range s.events.events {
		if e.Role != role {
			continue
		}
		for _, o := range ops {
			if e.Op == o {
				evs = append(evs, e)
			}
		}
	}
	s.events.mu.Unlock()
	return eventStrings(evs, 8)
}

// eventsOfUser names the issue operations that could have made a user
// named vault-<display>-<role>-<unix time>-<random>: those of its role that
// ran at that second and did not return a lease for another user.
func (s *soak) eventsOfUser(name string) []string {
	parts := strings.Split(name, "-")
	if len(parts) < 5 || parts[0] != "vault" {
		return []string{"not a name of the engine's template"}
	}
	unix, err := strconv.ParseInt(parts[len(parts)-2], 10, 64)
	if err != nil {
		return []string{"no time in the name"}
	}
	rest := strings.Join(parts[1:len(parts)-2], "-")
	role := ""
	for _, cand := range s.rolesSeen() {
		if strings.HasSuffix(rest, "-"+cand) && len(cand) > len(role) {
			role = cand
		}
	}
	evs := s.events.around(time.Unix(unix, 0), 1500*time.Millisecond, role,
		"issue ram_user", "issue ram_user short ttl", "issue churn role")
	var out []event
	for _, e := range evs {
		if e.Result != "ok" {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		out = evs
	}
	strs := eventStrings(out, 8)
	if len(strs) == 0 {
		strs = []string{fmt.Sprintf("no issue of role %q at %s recorded", role, time.Unix(unix, 0).UTC().Format("15:04:05"))}
	}
	return strs
}

func (s *soak) rolesSeen() []string {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range s.events.events {
		if e.Role != "" {
			seen[e.Role] = true
		}
	}
	return sortedKeys(seen)
}

// leak is a secret found in a log.
type leak struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	What   string `json:"what"`
	Prefix string `json:"secret_prefix"` // the first characters only
}

// scanForSecrets searches a file for any of the secrets (value -> what it
// is) that starts after a character that is not a letter or digit.
func scanForSecrets(path string, secrets map[string]string) ([]leak, int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	// Secrets are indexed by characters 16 to 28: STS tokens share their
	// first characters, so a prefix index would put them in one bucket.
	const off, k = 16, 12
	byKey := map[string][]string{}
	for v := range secrets {
		if len(v) >= off+k {
			byKey[v[off:off+k]] = append(byKey[v[off:off+k]], v)
		}
	}
	isAlnum := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	var leaks []leak
	seen := map[string]bool{}
	for i := 0; i+off+k <= len(data); i++ {
		if i > 0 && isAlnum(data[i-1]) {
			continue
		}
		cands, ok := byKey[string(data[i+off:i+off+k])]
		if !ok {
			continue
		}
		for _, v := range cands {
			if bytes.HasPrefix(data[i:], []byte(v)) && !seen[v] {
				seen[v] = true
				line := bytes.Count(data[:i], []byte("\n")) + 1
				leaks = append(leaks, leak{File: path, Line: line, What: secrets[v], Prefix: v[:4] + "..."})
			}
		}
	}
	sort.Slice(leaks, func(i, j int) bool { return leaks[i].Line < leaks[j].Line })
	return leaks, int64(len(data)), nil
}

// logLinesOfOrphans adds to each orphan the lines of Vault's log (which
// holds the plugin's) that name it, without the logger's prefix.
func (s *soak) logLinesOfOrphans() {
	if len(s.res.Orphans) == 0 {
		return
	}
	data, err := os.ReadFile(s.vault.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(string(data), "\n")
	for i := range s.res.Orphans {
		o := &s.res.Orphans[i]
		name := o.Name
		if _, member, ok := strings.Cut(name, "/"); ok && o.Kind == "group member" {
			name = member
		}
		n := 0
		for _, l := range lines {
			if !strings.Contains(l, name) {
				continue
			}
			if n == 4 {
				o.MadeBy = append(o.MadeBy, "vault.log: ...")
				break
			}
			// "<time> [LEVEL] secrets.<plugin>...: message": keep time and message.
			if j := strings.Index(l, ": "); j > 0 && strings.HasPrefix(l[strings.Index(l, " ")+1:], "[") {
				l = l[:strings.Index(l, " ")] + " " + l[j+2:]
			}
			if len(l) > 300 {
				l = l[:300] + "..."
			}
			o.MadeBy = append(o.MadeBy, "vault.log: "+l)
			n++
		}
	}
}

// logTimes returns the times of the lines of Vault's log that hold every
// one of parts: "failed to run existence check" with gRPC Unavailable (Vault
// answers those requests "internal error"), "plugin process exited" with
// "signal: killed".
func logTimes(path string, parts ...string) []time.Time {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []time.Time
next:
	for _, l := range strings.Split(string(data), "\n") {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		ts, _, _ := strings.Cut(l, " ")
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			out = append(out, t)
		}
	}
	return out
}
