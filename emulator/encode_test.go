package emulator

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// refJSONBody is how writeBody encoded bodies before appendJSONBody: the
// reference the direct encoder must match byte for byte.
func refJSONBody(body map[string]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
	return buf.Bytes()
}

// refXMLValue is writeXMLValue as it was written first: the reference for
// the XML encoder.
func refXMLValue(buf *bytes.Buffer, name string, v any) {
	switch t := v.(type) {
	case map[string]any:
		buf.WriteString("<" + name + ">")
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			refXMLValue(buf, k, t[k])
		}
		buf.WriteString("</" + name + ">")
	case []map[string]any:
		for _, item := range t {
			refXMLValue(buf, name, item)
		}
	case []any:
		for _, item := range t {
			refXMLValue(buf, name, item)
		}
	case []string:
		for _, item := range t {
			refXMLValue(buf, name, item)
		}
	default:
		buf.WriteString("<" + name + ">")
		_ = xml.EscapeText(buf, []byte(fmt.Sprint(t)))
		buf.WriteString("</" + name + ">")
	}
}

// asMaps replaces the fixed-shape response objects in v by the maps of
// their fields, which is what the reference encoders were given before.
func asMaps(v any) any {
	switch t := v.(type) {
	case *assumedRoleUser:
		return map[string]any{"Arn": t.Arn, "AssumedRoleId": t.AssumedRoleID}
	case *stsCredentials:
		return map[string]any{"AccessKeyId": t.AccessKeyID, "AccessKeySecret": t.AccessKeySecret,
			"Expiration": t.Expiration, "SecurityToken": t.SecurityToken}
	case map[string]any:
		if t == nil {
			return t
		}
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[k] = asMaps(v)
		}
		return m
	case []map[string]any:
		if t == nil {
			return t
		}
		l := make([]map[string]any, len(t))
		for i, v := range t {
			l[i] = asMaps(v).(map[string]any)
		}
		return l
	case []any:
		if t == nil {
			return t
		}
		l := make([]any, len(t))
		for i, v := range t {
			l[i] = asMaps(v)
		}
		return l
	}
	return v
}

func checkJSONBody(t *testing.T, body map[string]any) {
	t.Helper()
	var xmlWant, xmlGot bytes.Buffer
	refXMLValue(&xmlWant, "Root", asMaps(body))
	writeXMLValue(&xmlGot, "Root", body)
	if xmlGot.String() != xmlWant.String() {
		t.Fatalf("writeXMLValue:\n got %s\nwant %s", xmlGot.Bytes(), xmlWant.Bytes())
	}
	want := refJSONBody(asMaps(body).(map[string]any))
	if direct := refJSONBody(body); !bytes.Equal(direct, want) {
		t.Fatalf("encoding/json on the typed objects:\n got %q\nwant %q", direct, want)
	}
	got, ok := appendJSONBody([]byte("prefix"), body)
	if ok != (len(want) > 0) {
		t.Fatalf("appendJSONBody ok = %v, encoding/json wrote %q", ok, want)
	}
	if !bytes.Equal(got[len("prefix"):], want) || string(got[:len("prefix")]) != "prefix" {
		t.Fatalf("appendJSONBody:\n got %q\nwant %q", got, want)
	}
}

// jsonTestStrings are strings on each side of the fast path: plain ASCII,
// the characters encoding/json escapes (quote, backslash, control
// characters, U+2028, invalid UTF-8) and HTML characters it must leave alone.
var jsonTestStrings = []string{
	"", "plain", "acs:ram::123:role/a", "CAIS+/==", "<tag> & \"q\"", `back\slash`,
	"tab\tnew\nline\r\x00\x1f\x7f", "中文", "\u2028\u2029", "bad\xff\xfeutf8", "~!@#$%^*()_+{}|:?",
}

func randJSONValue(r *rand.Rand, depth int) any {
	n := 14
	if depth > 3 {
		n = 7 // leaves only
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return r.IntN(2000) - 1000
	case 3:
		return r.Int64() - r.Int64()
	case 4:
		return r.Float64() * 1e6
	case 5:
		return time.Unix(r.Int64N(1<<31), 0).UTC()
	case 6:
		return jsonTestStrings[r.IntN(len(jsonTestStrings))]
	case 7:
		return randJSONMap(r, depth+1)
	case 8:
		if r.IntN(4) == 0 {
			return []map[string]any(nil)
		}
		l := make([]map[string]any, r.IntN(3))
		for i := range l {
			l[i] = randJSONMap(r, depth+1)
		}
		return l
	case 9:
		if r.IntN(4) == 0 {
			return []any(nil)
		}
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = randJSONValue(r, depth+1)
		}
		return l
	case 10:
		if r.IntN(4) == 0 {
			return []string(nil)
		}
		l := make([]string, r.IntN(4))
		for i := range l {
			l[i] = jsonTestStrings[r.IntN(len(jsonTestStrings))]
		}
		return l
	case 11:
		return map[string]string{"b": jsonTestStrings[r.IntN(len(jsonTestStrings))], "a<": "x"}
	case 12:
		return &assumedRoleUser{Arn: jsonTestStrings[r.IntN(len(jsonTestStrings))], AssumedRoleID: "1:s"}
	default:
		return &stsCredentials{AccessKeyID: "STS.x", AccessKeySecret: jsonTestStrings[r.IntN(len(jsonTestStrings))],
			Expiration: "2030-01-01T00:00:00Z", SecurityToken: jsonTestStrings[r.IntN(len(jsonTestStrings))]}
	}
}

func randJSONMap(r *rand.Rand, depth int) map[string]any {
	if r.IntN(10) == 0 {
		return nil
	}
	m := map[string]any{}
	for range r.IntN(20) {
		k := jsonTestStrings[r.IntN(len(jsonTestStrings))]
		if r.IntN(2) == 0 {
			k += string(rune('A' + r.IntN(26)))
		}
		m[k] = randJSONValue(r, depth)
	}
	return m
}

// TestAppendJSONBodyMatchesEncodingJSON compares the direct encoder with
// encoding/json on response-shaped bodies and on random trees of every type
// handlers use, plus types and strings that take the fallback.
func TestAppendJSONBodyMatchesEncodingJSON(t *testing.T) {
	t.Run("AssumeRole response", func(t *testing.T) {
		checkJSONBody(t, map[string]any{
			"RequestId":       "6894B13B-6D71-4EF5-88FA-F32781734A7F",
			"AssumedRoleUser": map[string]any{"AssumedRoleId": "344584339364951186:alice", "Arn": "acs:ram::1:role/app/alice"},
			"Credentials": map[string]any{
				"AccessKeyId": "STS.abc", "AccessKeySecret": "secret", "SecurityToken": "CAIS+/=", "Expiration": "2015-04-09T11:52:19Z",
			},
		})
	})
	t.Run("unencodable", func(t *testing.T) {
		checkJSONBody(t, map[string]any{"ok": "x", "bad": func() {}})
		checkJSONBody(t, map[string]any{"nested": []any{map[string]any{"c": make(chan int)}}})
	})
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for range 3000 {
			m := randJSONMap(r, 0)
			if m == nil {
				m = map[string]any{}
			}
			checkJSONBody(t, m)
		}
	})
}

// FuzzAppendJSONString checks the string fast path against encoding/json on
// arbitrary bytes, as a key and as a value.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonTestStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkJSONBody(t, map[string]any{s: s, "list": []string{s}})
	})
}
