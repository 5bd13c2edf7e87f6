package alicloud

import (
	"fmt"
	"strings"
	"time"
)

// String shows a static role's user, key IDs and schedule; the secret key
// is redacted. With Format and GoString, every fmt verb prints this form,
// so a debug print of an entry cannot leak the key.
func (e staticRoleEntry) String() string {
	var parts []string
	add := func(name, value string) {
		if value != "" {
			parts = append(parts, name+": "+value)
		}
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	add("Username", e.Username)
	add("RotationPeriod", fmt.Sprint(e.RotationPeriod))
	add("GracePeriod", fmt.Sprint(e.GracePeriod))
	add("AccessKeyID", e.AccessKeyID)
	if e.SecretKey != "" {
		add("SecretKey", "[redacted]")
	}
	add("LastRotated", at(e.LastRotated))
	add("NextRotation", at(e.NextRotation))
	add("PreviousAccessKeyID", e.PreviousAccessKeyID)
	add("PreviousExpires", at(e.PreviousExpires))
	add("LastError", e.LastError)
	if e.FailedAttempts != 0 {
		add("FailedAttempts", fmt.Sprint(e.FailedAttempts))
	}
	add("NextAttempt", at(e.NextAttempt))
	return "staticRoleEntry{" + strings.Join(parts, ", ") + "}"
}

// GoString is the same redacted form, for %#v.
func (e staticRoleEntry) GoString() string { return "alicloud." + e.String() }

// Format prints the redacted form for every verb.
func (e staticRoleEntry) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", e.String())
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(e.GoString()))
	default:
		_, _ = f.Write([]byte(e.String()))
	}
}
