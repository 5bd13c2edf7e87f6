package credentials

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "prog", want: []string{"prog"}},
		{in: "  prog  a\tb\n c ", want: []string{"prog", "a", "b", "c"}},
		{in: `prog 'a b' "c d" e\ f`, want: []string{"prog", "a b", "c d", "e f"}},
		{in: `prog 'it''s' "x\"y" "a\b" '\n'`, want: []string{"prog", "its", `x"y`, `a\b`, `\n`}},
		{in: `prog "" ''`, want: []string{"prog", "", ""}},
		{in: `"/opt/my tools/prog" -role=app`, want: []string{"/opt/my tools/prog", "-role=app"}},
		{in: "prog a\\\nb", want: []string{"prog", "ab"}},
		{in: `prog 'open`, wantErr: "unclosed single quote"},
		{in: `prog "open`, wantErr: "unclosed double quote"},
		{in: `prog \`, wantErr: "trailing backslash"},
		{in: `   `, wantErr: "is empty"},
		{in: `"" arg`, wantErr: "is empty"},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("splitCommand(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExternal(t *testing.T) {
	const secret, token = "ExtSecret4242", "ExtToken4343"
	dir := t.TempDir()
	tests := []struct {
		name    string
		body    string
		timeout time.Duration
		check   func(t *testing.T, c Credentials)
		wantErr []string
	}{
		{name: "sts", body: `echo '{"mode":"StsToken","access_key_id":"STS.ext","access_key_secret":"` + secret + `","sts_token":"` + token + `","expiration":"2030-01-01T00:00:00Z"}'`,
			check: func(t *testing.T, c Credentials) {
				if c.AccessKeyID != "STS.ext" || c.AccessKeySecret != secret || c.SecurityToken != token || c.Source != "external" ||
					!c.Expiration.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("credentials = %v", c)
				}
			}},
		{name: "ak without expiration", body: `echo '{"mode":"AK","access_key_id":"LTAIext","access_key_secret":"` + secret + `"}'`,
			check: func(t *testing.T, c Credentials) {
				if c.AccessKeyID != "LTAIext" || c.SecurityToken != "" || c.CanExpire() {
					t.Errorf("credentials = %v", c)
				}
			}},
		{name: "arguments and environment", body: `printf '{"access_key_id":"%s","access_key_secret":"%s"}' "$1" "$HOME"`,
			check: func(t *testing.T, c Credentials) {
				if c.AccessKeyID != "first arg" || c.AccessKeySecret != os.Getenv("HOME") {
					t.Errorf("credentials = %v", c)
				}
			}},
		{name: "exit status", body: `echo "vault: permission denied, no ` + secret + `" >&2; echo '{"access_key_secret":"` + secret + `"}'; exit 3`,
			wantErr: []string{"external: ", "failed: exit status 3: vault: permission denied, no [redacted]"}},
		{name: "not JSON", body: `echo "` + secret + `"`, wantErr: []string{"is not a credentials document: invalid JSON"}},
		{name: "missing secret", body: `echo '{"access_key_id":"a"}'`, wantErr: []string{"has no access_key_id or access_key_secret"}},
		{name: "sts without token", body: `echo '{"mode":"StsToken","access_key_id":"a","access_key_secret":"` + secret + `"}'`,
			wantErr: []string{"mode StsToken but has no sts_token"}},
		{name: "bad expiration", body: `echo '{"access_key_id":"a","access_key_secret":"` + secret + `","expiration":"soon"}'`,
			wantErr: []string{`expiration: invalid time "soon"`}},
		{name: "too much output", body: `head -c 70000 /dev/zero`, wantErr: []string{"printed more than 65536 bytes"}},
		{name: "timeout", body: `sleep 30`, timeout: 200 * time.Millisecond, wantErr: []string{"did not finish within 200ms"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := script(t, dir, fmt.Sprintf("cred%d.sh", i), tt.body)
			p, err := NewExternal(ExternalOptions{ProcessCommand: prog + ` "first arg"`, Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c, err := p.Retrieve(context.Background())
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Retrieve took %s", took)
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %v, want an error", c)
				}
				mustContain(t, err.Error(), tt.wantErr...)
				mustNotContain(t, err.Error(), secret, token, "first arg")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
	if _, err := NewExternal(ExternalOptions{ProcessCommand: " "}); err == nil || err.Error() != "external: process_command is required" {
		t.Errorf("empty command: %v", err)
	}
	if _, err := NewExternal(ExternalOptions{ProcessCommand: "x 'y"}); err == nil || !strings.Contains(err.Error(), "process_command unclosed single quote") {
		t.Errorf("bad quoting: %v", err)
	}
	p, _ := NewExternal(ExternalOptions{ProcessCommand: "/bin/cred --token=SecretArg"})
	mustNotContain(t, fmt.Sprintf("%v %#v %s", p, p, p), "SecretArg")
}

// TestCLIProfileExternal: a CLI profile in External mode runs its command
// again once the credentials it printed near expiry, through a Cache.
func TestCLIProfileExternal(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	for i, exp := range []time.Time{clock.Now().Add(20 * time.Minute), clock.Now().Add(40 * time.Minute)} {
		doc := fmt.Sprintf(`{"mode":"StsToken","access_key_id":"STS.ext%d","access_key_secret":"s%d","sts_token":"t%d","expiration":%q}`,
			i+1, i+1, i+1, exp.Format(time.RFC3339))
		writeFile(t, filepath.Join(dir, fmt.Sprintf("doc.%d", i+1)), doc)
	}
	prog := script(t, dir, "print.sh", `d=$(dirname "$0"); n=$(($(cat "$d/n" 2>/dev/null || echo 0) + 1)); echo $n > "$d/n"; cat "$d/doc.$n"`)
	cfg := writeFile(t, filepath.Join(dir, "config.json"), `{"current":"vault","profiles":[
  {"name":"vault","mode":"External","process_command":"`+prog+` print","region_id":"cn-hangzhou"}]}`)
	p, err := NewCLIProfile(ProfileOptions{File: cfg, Getenv: envMap(nil), Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(p, CacheOptions{Jitter: -1, Clock: clock.Now})
	defer c.Close()
	ctx := context.Background()
	got, err := c.Retrieve(ctx)
	if err != nil || got.AccessKeyID != "STS.ext1" || got.Source != "cli_profile/external" || got.SecurityToken != "t1" {
		t.Fatalf("first: %v, %v", got, err)
	}
	clock.Advance(10 * time.Minute)
	if got, _ := c.Retrieve(ctx); got.AccessKeyID != "STS.ext1" {
		t.Errorf("before the refresh window: %v", got)
	}
	clock.Advance(8 * time.Minute) // 2 minutes left: inside the 3-minute window
	if got, err := c.Retrieve(ctx); err != nil || got.AccessKeyID != "STS.ext2" {
		t.Errorf("after the refresh window: %v, %v", got, err)
	}
	n, _ := os.ReadFile(filepath.Join(dir, "n"))
	if strings.TrimSpace(string(n)) != "2" {
		t.Errorf("the command ran %s times, want 2", n)
	}
}
