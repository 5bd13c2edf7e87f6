package aliyun

import (
	"fmt"
	"strings"
	"time"
)

// The types below hold secrets. Each prints, with every fmt verb (%v, %+v,
// %#v, %s, %q, ...), a form that shows the key ID and never the secret or
// the security token, so a stray debug print or a %+v in an error cannot
// leak them.

const redacted = "[redacted]"

type redactedField struct{ name, value string }

func redactedString(typ string, fields ...redactedField) string {
	var b strings.Builder
	b.WriteString(typ)
	b.WriteByte('{')
	n := 0
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString(f.name)
		b.WriteString(": ")
		b.WriteString(f.value)
	}
	b.WriteByte('}')
	return b.String()
}

func secretMark(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// formatRedacted writes s for every verb, quoted for %q.
func formatRedacted(f fmt.State, verb rune, s, goString string) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", s)
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(goString))
	default:
		_, _ = f.Write([]byte(s))
	}
}

// String shows the key ID; the secret and token are redacted.
func (c Credentials) String() string {
	return redactedString("Credentials",
		redactedField{"AccessKeyID", c.AccessKeyID},
		redactedField{"AccessKeySecret", secretMark(c.AccessKeySecret)},
		redactedField{"SecurityToken", secretMark(c.SecurityToken)})
}

// GoString is String with the package name, for %#v.
func (c Credentials) GoString() string { return "aliyun." + c.String() }

// Format prints the redacted form for every verb.
func (c Credentials) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

// String shows the key ID, status and creation date; the secret is redacted.
func (k AccessKey) String() string {
	return redactedString("AccessKey",
		redactedField{"AccessKeyID", k.AccessKeyID},
		redactedField{"AccessKeySecret", secretMark(k.AccessKeySecret)},
		redactedField{"Status", k.Status},
		redactedField{"CreateDate", timeText(k.CreateDate)})
}

// GoString is String with the package name, for %#v.
func (k AccessKey) GoString() string { return "aliyun." + k.String() }

// Format prints the redacted form for every verb.
func (k AccessKey) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.String(), k.GoString()) }

// String shows the key ID and expiration; the secret and token are redacted.
func (c STSCredentials) String() string {
	return redactedString("STSCredentials",
		redactedField{"AccessKeyID", c.AccessKeyID},
		redactedField{"AccessKeySecret", secretMark(c.AccessKeySecret)},
		redactedField{"SecurityToken", secretMark(c.SecurityToken)},
		redactedField{"Expiration", timeText(c.Expiration)})
}

// GoString is String with the package name, for %#v.
func (c STSCredentials) GoString() string { return "aliyun." + c.String() }

// Format prints the redacted form for every verb.
func (c STSCredentials) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}
