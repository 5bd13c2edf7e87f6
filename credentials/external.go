package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unicode"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// DefaultExternalTimeout bounds one run of an external credentials process,
// as credentials-go's default does.
const DefaultExternalTimeout = time.Minute

// maxExternalOutput bounds what is read of the process's output.
const maxExternalOutput = 64 << 10

// ExternalOptions configure NewExternal.
type ExternalOptions struct {
	// ProcessCommand is the command line to run: a program and its
	// arguments, split on white space outside quotes ('single' quotes keep
	// everything literal, "double" quotes and a backslash escape as in a
	// POSIX shell). It is run directly, not through a shell.
	ProcessCommand string
	// Timeout bounds one run (default 1m); the process is killed after it.
	Timeout time.Duration
}

// externalOutput is what the process prints on its standard output: the
// format of the Alibaba Cloud CLI's External mode, read by credentials-go's
// external provider too.
type externalOutput struct {
	Mode            string `json:"mode"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	StsToken        string `json:"sts_token"`
	Expiration      string `json:"expiration"`
}

type externalProcess struct {
	command string
	args    []string
	timeout time.Duration
}

// NewExternal returns a provider that runs a command and reads credentials
// from its standard output, as the Alibaba Cloud CLI's External mode and
// credentials-go do:
//
//	{"mode":"StsToken","access_key_id":"STS...","access_key_secret":"...","sts_token":"...","expiration":"2030-01-01T00:00:00Z"}
//
// mode is "AK" or "StsToken" (which needs sts_token); expiration, optional,
// is when the credentials stop working: without it they are taken as
// long-term and a Cache keeps them until Invalidate. The process inherits
// the environment; its standard error is not read into errors beyond one
// short line. Wrap the provider in a Cache: each Retrieve runs the command.
func NewExternal(o ExternalOptions) (Provider, error) {
	const name = SourceExternal
	if strings.TrimSpace(o.ProcessCommand) == "" {
		return nil, fieldError(name, "process_command", "is required")
	}
	args, err := splitCommand(o.ProcessCommand)
	if err != nil {
		return nil, fieldError(name, "process_command", "%v", err)
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultExternalTimeout
	}
	if timeout < 0 {
		return nil, fieldError(name, "timeout", "must not be negative")
	}
	return &externalProcess{command: args[0], args: args[1:], timeout: timeout}, nil
}

// Retrieve runs the command once and parses its output.
func (p *externalProcess) Retrieve(ctx context.Context) (Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.command, p.args...)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxExternalOutput, 4<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A grandchild that keeps the pipes open must not hold Retrieve past the timeout.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return Credentials{}, fmt.Errorf("%s: %s did not finish within %s: %w", SourceExternal, p.command, p.timeout, ctx.Err())
	}
	var out externalOutput
	parseErr := json.Unmarshal(stdout.Bytes(), &out)
	// Whatever the process printed as credentials must not come back in an
	// error through its standard error.
	errLine := scrub(lastLine(stderr.String()), out.AccessKeySecret, out.StsToken)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && errLine != "" {
			return Credentials{}, fmt.Errorf("%s: %s failed: %v: %s", SourceExternal, p.command, err, truncate(errLine, 200))
		}
		return Credentials{}, fmt.Errorf("%s: %s failed: %w", SourceExternal, p.command, err)
	}
	if stdout.overflow {
		return Credentials{}, fmt.Errorf("%s: %s printed more than %d bytes", SourceExternal, p.command, maxExternalOutput)
	}
	if parseErr != nil {
		return Credentials{}, fmt.Errorf("%s: the output of %s is not a credentials document: %s", SourceExternal, p.command, jsonErrorText(parseErr))
	}
	if out.AccessKeyID == "" || out.AccessKeySecret == "" {
		return Credentials{}, fmt.Errorf("%s: the output of %s has no access_key_id or access_key_secret", SourceExternal, p.command)
	}
	if out.Mode == "StsToken" && out.StsToken == "" {
		return Credentials{}, fmt.Errorf("%s: the output of %s is in mode StsToken but has no sts_token", SourceExternal, p.command)
	}
	c := Credentials{
		AccessKeyID:     out.AccessKeyID,
		AccessKeySecret: out.AccessKeySecret,
		SecurityToken:   out.StsToken,
		Source:          SourceExternal,
	}
	if out.Expiration != "" {
		exp, err := aliyun.ParseTime(out.Expiration)
		if err != nil {
			return Credentials{}, fmt.Errorf("%s: the output of %s: expiration: %v", SourceExternal, p.command, err)
		}
		c.Expiration = exp
	}
	return c, nil
}

// String names the provider and the program it runs (not its arguments,
// which could carry a token).
func (p *externalProcess) String() string { return SourceExternal + " provider (" + p.command + ")" }

// GoString implements fmt.GoStringer.
func (p *externalProcess) GoString() string { return p.String() }

// limitedBuffer keeps the first max bytes written and notes an overflow.
// It has no ReadFrom, so io.Copy goes through Write.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) Bytes() []byte  { return b.buf.Bytes() }
func (b *limitedBuffer) String() string { return b.buf.String() }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// splitCommand splits a command line into words the way a POSIX shell does
// for plain words and quotes, without expansions: white space separates
// words; inside single quotes every character is literal; inside double
// quotes a backslash escapes only " \ $ and `; elsewhere a backslash escapes
// the next character. The rules are those of credentials-go's
// process_command on Unix.
func splitCommand(line string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inTok bool
	)
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\'':
			inTok = true
			end := indexRune(rs, i+1, '\'')
			if end < 0 {
				return nil, errors.New("unclosed single quote")
			}
			cur.WriteString(string(rs[i+1 : end]))
			i = end
		case r == '"':
			inTok = true
			i++
			for ; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '\\' && i+1 < len(rs) && strings.ContainsRune("\"\\$`\n", rs[i+1]) {
					i++
					if rs[i] == '\n' {
						continue
					}
				}
				cur.WriteRune(rs[i])
			}
			if i >= len(rs) {
				return nil, errors.New("unclosed double quote")
			}
		case r == '\\':
			if i+1 >= len(rs) {
				return nil, errors.New("trailing backslash")
			}
			i++
			if rs[i] == '\n' {
				continue
			}
			inTok = true
			cur.WriteRune(rs[i])
		case unicode.IsSpace(r):
			if inTok {
				words = append(words, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			inTok = true
			cur.WriteRune(r)
		}
	}
	if inTok {
		words = append(words, cur.String())
	}
	if len(words) == 0 || words[0] == "" {
		return nil, errors.New("is empty")
	}
	return words, nil
}

func indexRune(rs []rune, from int, r rune) int {
	for i := from; i < len(rs); i++ {
		if rs[i] == r {
			return i
		}
	}
	return -1
}
