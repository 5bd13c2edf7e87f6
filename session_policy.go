package alicloud

import (
	"bytes"
	"encoding/json"
)

// compactSessionPolicy returns the session policy as STS is sent it:
// without insignificant whitespace, keys in the order written. The role
// write checks the compacted length, so what is sent must be compacted too;
// a role stored before roles were compacted on write is compacted here.
// A document that is not valid JSON is returned as is (validation refuses
// it on write).
func compactSessionPolicy(doc string) string {
	if !needsCompaction(doc) {
		return doc
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(doc)); err != nil {
		return doc
	}
	return buf.String()
}

// needsCompaction reports whether doc has whitespace outside strings; the
// hot path of creds/ then costs one scan, not a JSON parse.
func needsCompaction(doc string) bool {
	inString, escaped := false, false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\n' || c == '\r' || c == '\t'):
			return true
		}
	}
	return false
}
