package aliyun

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// The signer sits on the hot path of every call, on both sides of the wire
// (the client signs, the emulator verifies), so it appends everything into one
// reused buffer instead of building intermediate strings, and computes
// HMAC-SHA1 without crypto/hmac's per-key allocations.

const upperHexDigits = "0123456789ABCDEF"

// unreserved marks the bytes RFC 3986 leaves unescaped: A-Z a-z 0-9 - _ . ~.
var unreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~" {
		t[c] = true
	}
	return t
}()

// PercentEncode encodes s the way Alibaba Cloud's RPC signature (V2) requires:
// RFC 3986, UTF-8 byte by byte, unreserved characters (A-Z a-z 0-9 - _ . ~)
// left alone, every other byte as %XY with uppercase hex. A space is %20,
// never '+'. When nothing needs escaping, s itself is returned.
func PercentEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved[s[i]] {
			n++
		}
	}
	if n == 0 {
		return s
	}
	return string(appendPercentEncoded(make([]byte, 0, len(s)+2*n), s))
}

// appendPercentEncoded appends PercentEncode(s) to dst.
func appendPercentEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHexDigits[c>>4], upperHexDigits[c&0x0f])
	}
	return dst
}

// appendDoubleEncoded appends PercentEncode(PercentEncode(s)) to dst in one
// pass: the '%' of the first encoding becomes "%25", its hex digits stay.
func appendDoubleEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', '2', '5', upperHexDigits[c>>4], upperHexDigits[c&0x0f])
	}
	return dst
}

// signedPair is one signed parameter: its name and its first value.
type signedPair struct{ k, v string }

// maxStackPairs covers every RPC call the project makes (AssumeRole signs
// about a dozen parameters) without a heap allocation for the sorted list.
const maxStackPairs = 32

// signedPairs returns the parameters that are signed (all but Signature),
// sorted by name, in scratch when it is large enough.
func signedPairs(params url.Values, scratch []signedPair) []signedPair {
	pairs := scratch[:0]
	for k, vs := range params {
		if k == "Signature" {
			continue
		}
		p := signedPair{k: k}
		if len(vs) > 0 {
			p.v = vs[0]
		}
		pairs = append(pairs, p)
	}
	if len(pairs) > maxStackPairs {
		slices.SortFunc(pairs, func(a, b signedPair) int { return strings.Compare(a.k, b.k) })
		return pairs
	}
	// Insertion sort with the comparison inlined: for the dozen parameters of
	// a call it beats the generic sort's indirect calls to a comparison func.
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j].k < pairs[j-1].k; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	return pairs
}

// appendCanonical appends the canonicalized query string of pairs to dst.
func appendCanonical(dst []byte, pairs []signedPair) []byte {
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendPercentEncoded(dst, p.k)
		dst = append(dst, '=')
		dst = appendPercentEncoded(dst, p.v)
	}
	return dst
}

// appendStringToSign appends the string to sign of pairs to dst, encoding the
// canonicalized query string a second time in the same pass ('=' is %3D, '&'
// is %26).
func appendStringToSign(dst []byte, method string, pairs []signedPair) []byte {
	dst = append(dst, method...)
	dst = append(dst, "&%2F&"...)
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, "%26"...)
		}
		dst = appendDoubleEncoded(dst, p.k)
		dst = append(dst, "%3D"...)
		dst = appendDoubleEncoded(dst, p.v)
	}
	return dst
}

// signBuf is a reusable buffer for the strings the signer builds.
type signBuf struct{ b []byte }

// maxPooledBuf keeps a rare huge request (a SAML assertion) from pinning its
// buffer in the pool.
const maxPooledBuf = 64 << 10

var signBufPool = sync.Pool{New: func() any { return &signBuf{b: make([]byte, 0, 2048)} }}

func getSignBuf() *signBuf { return signBufPool.Get().(*signBuf) }

func putSignBuf(sb *signBuf) {
	if cap(sb.b) <= maxPooledBuf {
		sb.b = sb.b[:0]
		signBufPool.Put(sb)
	}
}

// CanonicalizedQueryString sorts params by name (byte order) and joins the
// percent-encoded pairs with '=' and '&'. The Signature parameter is left out;
// empty values are kept. When a name has several values, the first one is used,
// which is how the service treats RPC parameters.
func CanonicalizedQueryString(params url.Values) string {
	var scratch [maxStackPairs]signedPair
	sb := getSignBuf()
	sb.b = appendCanonical(sb.b[:0], signedPairs(params, scratch[:]))
	s := string(sb.b)
	putSignBuf(sb)
	return s
}

// StringToSign builds the V2 string to sign:
// METHOD + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalizedQueryString).
func StringToSign(method string, params url.Values) string {
	var scratch [maxStackPairs]signedPair
	sb := getSignBuf()
	sb.b = appendStringToSign(sb.b[:0], method, signedPairs(params, scratch[:]))
	s := string(sb.b)
	putSignBuf(sb)
	return s
}

// Sign returns Base64(HMAC-SHA1(secret + "&", stringToSign)).
func Sign(secret, stringToSign string) string {
	return hmacSHA1Base64(secret+"&", []byte(stringToSign))
}

// SignParams computes the signature of a request with the given method and
// parameters (query and form body merged, Signature excluded). It is
// Sign(secret, StringToSign(method, params)) without the intermediate string.
func SignParams(method string, params url.Values, secret string) string {
	var scratch [maxStackPairs]signedPair
	pairs := signedPairs(params, scratch[:])
	sb := getSignBuf()
	sb.b = appendStringToSign(sb.b[:0], method, pairs)
	sig := hmacSHA1Base64(secret+"&", sb.b)
	putSignBuf(sb)
	return sig
}

// hmacSHA1Base64 is the standard library's HMAC-SHA1: the signature is the
// one place where the engine's secret is used, so it stays on crypto/hmac
// rather than a hand-rolled construction, at the cost of a few allocations.
func hmacSHA1Base64(key string, data []byte) string {
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write(data)
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(mac.Sum(sum[:0]))
}
