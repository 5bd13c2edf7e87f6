package emulator

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxBodyBytes bounds a form body: the largest documented parameter is a
// 100,000-character SAML assertion.
const maxBodyBytes = 1 << 20

// readParams merges the query string with an application/x-www-form-urlencoded
// body; a body value replaces a query value of the same name, as the service does.
//
// It parses both into one list of pairs and builds the map once, sized for
// the result, instead of building a map per part and merging them; the
// parameters and errors are exactly those of url.ParseQuery.
func readParams(r *http.Request) (url.Values, *APIError) {
	var scratch [32]formPair
	pairs, ok := appendFormPairs(scratch[:0], r.URL.RawQuery)
	if !ok {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "The query string is not well formed.")
	}
	nQuery := len(pairs)
	if r.Body == nil || r.Method != http.MethodPost {
		return buildParams(pairs, nQuery), nil
	}
	ct := r.Header.Get("Content-Type")
	mt := ""
	switch ct {
	case "", "application/x-www-form-urlencoded", "application/json":
		// What mime.ParseMediaType returns for these, without its map.
		mt = ct
	default:
		mt, _, _ = mime.ParseMediaType(ct)
	}
	bp := bodyBufPool.Get().(*[]byte)
	body, err := readBody((*bp)[:0], r.Body)
	defer func() {
		if cap(body) <= maxPooledBodyBuf {
			*bp = body[:0]
			bodyBufPool.Put(bp)
		}
	}()
	if err != nil {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "The request body could not be read.")
	}
	if len(body) > maxBodyBytes {
		return nil, apiErr(http.StatusRequestEntityTooLarge, "InvalidParameter", "The request body is too large.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return buildParams(pairs, nQuery), nil
	}
	switch mt {
	case "application/x-www-form-urlencoded", "":
		pairs, ok = appendFormPairs(pairs, string(body))
		if !ok {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "The form body is not well formed.")
		}
		return buildParams(pairs, nQuery), nil
	case "application/json":
		// RPC parameters never travel as JSON; the body is ignored like the
		// gateway ignores unknown content.
		return buildParams(pairs, nQuery), nil
	default:
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.ContentType",
			`The ContentType request header must be either "application/json" or "application/x-www-form-urlencoded".`)
	}
}

// readBody appends at most maxBodyBytes+1 bytes of body to buf, like
// io.ReadAll(io.LimitReader(body, maxBodyBytes+1)) into a recycled buffer.
func readBody(buf []byte, body io.Reader) ([]byte, error) {
	lr := io.LimitedReader{R: body, N: maxBodyBytes + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// formPair is one unescaped name=value of a query string or form body.
type formPair struct{ k, v string }

// maxFastFormPairs bounds the strings appendFormPairs parses itself; longer
// ones go through url.ParseQuery, which alone knows the GODEBUG limit on the
// number of parameters (urlmaxqueryparams, 10,000 by default).
const maxFastFormPairs = 64

// appendFormPairs appends the pairs of the URL-encoded string s in order and
// reports whether url.ParseQuery would accept s (no semicolon, valid escapes).
func appendFormPairs(dst []formPair, s string) ([]formPair, bool) {
	if strings.Count(s, "&") >= maxFastFormPairs {
		m, err := url.ParseQuery(s)
		if err != nil {
			return dst, false
		}
		// Values of one name keep their order, which is all buildParams needs.
		for k, vs := range m {
			for _, v := range vs {
				dst = append(dst, formPair{k, v})
			}
		}
		return dst, true
	}
	// The loop of url.parseQuery, collecting pairs instead of a map.
	for s != "" {
		var seg string
		seg, s, _ = strings.Cut(s, "&")
		if strings.Contains(seg, ";") {
			return dst, false
		}
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return dst, false
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return dst, false
		}
		dst = append(dst, formPair{k, v})
	}
	return dst, true
}

// buildParams turns the query pairs pairs[:nQuery] and the body pairs
// pairs[nQuery:] into url.Values: every value of a name in order, the body's
// values replacing the query's. The value slices share one backing array
// (each capped at its length, so an append never overwrites a neighbour).
func buildParams(pairs []formPair, nQuery int) url.Values {
	byName := func(a, b formPair) int { return strings.Compare(a.k, b.k) }
	query, body := pairs[:nQuery], pairs[nQuery:]
	slices.SortStableFunc(query, byName)
	slices.SortStableFunc(body, byName)
	params := make(url.Values, len(pairs))
	values := make([]string, len(pairs))
	for i, p := range pairs {
		values[i] = p.v
	}
	group := func(part []formPair, offset int) {
		for i := 0; i < len(part); {
			j := i + 1
			for j < len(part) && part[j].k == part[i].k {
				j++
			}
			params[part[i].k] = values[offset+i : offset+j : offset+j]
			i = j
		}
	}
	group(query, 0)
	group(body, nQuery) // after the query: a body name replaces the query's values
	return params
}
