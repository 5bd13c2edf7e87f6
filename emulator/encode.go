package emulator

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
)

// appendJSONBody appends the JSON encoding of body followed by a newline,
// exactly the bytes a json.Encoder with SetEscapeHTML(false) writes. Response
// bodies are trees of maps, slices, strings, ints and bools; encoding them
// directly avoids encoding/json's reflection, which copies every map key and
// value into a fresh reflect.Value. Any other type, and any string that needs
// escaping, is handed to encoding/json so the output stays identical. Like
// json.Encoder.Encode, it appends nothing and reports false when a value
// cannot be encoded.
func appendJSONBody(dst []byte, body map[string]any) ([]byte, bool) {
	out, ok := appendJSONValue(dst, body)
	if !ok {
		return dst, false
	}
	return append(out, '\n'), true
}

func appendJSONValue(dst []byte, v any) ([]byte, bool) {
	ok := true
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return appendJSONString(dst, t), true
	case bool:
		return strconv.AppendBool(dst, t), true
	case int:
		return strconv.AppendInt(dst, int64(t), 10), true
	case int64:
		return strconv.AppendInt(dst, t, 10), true
	case map[string]any:
		if t == nil {
			return append(dst, "null"...), true
		}
		var scratch [16]string
		keys := scratch[:0]
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			if dst, ok = appendJSONValue(dst, t[k]); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	case []map[string]any:
		return appendJSONArray(dst, t)
	case []any:
		return appendJSONArray(dst, t)
	case *assumedRoleUser:
		f := t.fields()
		return appendJSONObject(dst, f[:]), true
	case *stsCredentials:
		f := t.fields()
		return appendJSONObject(dst, f[:]), true
	case []string:
		if t == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i, item := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, item)
		}
		return append(dst, ']'), true
	}
	return appendJSONFallback(dst, v)
}

// appendJSONArray appends items as a JSON array (null when nil), each item
// as appendJSONValue encodes it; ok is false when one cannot be encoded here.
func appendJSONArray[T any](dst []byte, items []T) (_ []byte, ok bool) {
	if items == nil {
		return append(dst, "null"...), true
	}
	dst = append(dst, '[')
	for i, item := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, ok = appendJSONValue(dst, item); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// strField is one string field of a fixed-shape response object.
type strField struct{ name, value string }

// appendJSONObject appends the object of fields, which are sorted by name,
// as encoding/json encodes the map of them.
func appendJSONObject(dst []byte, fields []strField) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.name)
		dst = append(dst, ':')
		dst = appendJSONString(dst, f.value)
	}
	return append(dst, '}')
}

// appendJSONString quotes s as is when every byte is printable ASCII other
// than '"' and '\\', which encoding/json (without HTML escaping) leaves alone;
// any other string goes through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			dst, _ = appendJSONFallback(dst, s) // strings always encode
			return dst
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendJSONFallback appends v as encoding/json encodes it.
func appendJSONFallback(dst []byte, v any) ([]byte, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return dst, false
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), true
}
