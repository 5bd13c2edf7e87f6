package aliyun

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// PercentEncode encodes s the way Alibaba Cloud's RPC signature (V2) requires:
// RFC 3986, UTF-8 byte by byte, unreserved characters (A-Z a-z 0-9 - _ . ~)
// left alone, every other byte as %XY with uppercase hex. A space is %20,
// never '+'.
func PercentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// CanonicalizedQueryString sorts params by name (byte order) and joins the
// percent-encoded pairs with '=' and '&'. The Signature parameter is left out;
// empty values are kept. When a name has several values, the first one is used,
// which is how the service treats RPC parameters.
func CanonicalizedQueryString(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k == "Signature" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(PercentEncode(k))
		b.WriteByte('=')
		if v := params[k]; len(v) > 0 {
			b.WriteString(PercentEncode(v[0]))
		}
	}
	return b.String()
}

// StringToSign builds the V2 string to sign:
// METHOD + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalizedQueryString).
func StringToSign(method string, params url.Values) string {
	return method + "&%2F&" + PercentEncode(CanonicalizedQueryString(params))
}

// Sign returns Base64(HMAC-SHA1(secret + "&", stringToSign)).
func Sign(secret, stringToSign string) string {
	return hmacSHA1Base64(secret+"&", stringToSign)
}

func hmacSHA1Base64(key, data string) string {
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignParams computes the signature of a request with the given method and
// parameters (query and form body merged, Signature excluded).
func SignParams(method string, params url.Values, secret string) string {
	return Sign(secret, StringToSign(method, params))
}
