package emulator

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// refReadParams is readParams as it was written first, on url.ParseQuery and
// a merge of two maps: the reference for the single-map parser.
func refReadParams(r *http.Request) (url.Values, *APIError) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "The query string is not well formed.")
	}
	if r.Body == nil || r.Method != http.MethodPost {
		return params, nil
	}
	ct := r.Header.Get("Content-Type")
	mt := ""
	if ct != "" {
		mt, _, _ = mime.ParseMediaType(ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "The request body could not be read.")
	}
	if len(body) > maxBodyBytes {
		return nil, apiErr(http.StatusRequestEntityTooLarge, "InvalidParameter", "The request body is too large.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, nil
	}
	switch mt {
	case "application/x-www-form-urlencoded", "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "The form body is not well formed.")
		}
		for k, v := range form {
			params[k] = v
		}
		return params, nil
	case "application/json":
		return params, nil
	default:
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.ContentType",
			`The ContentType request header must be either "application/json" or "application/x-www-form-urlencoded".`)
	}
}

// paramsRequest builds a request whose body, when hasBody, reads body (or
// fails with readErr).
func paramsRequest(method, rawQuery, contentType string, hasBody bool, body string, readErr error) *http.Request {
	r := httptest.NewRequest(method, "/", nil)
	r.URL.RawQuery = rawQuery
	r.Body = nil
	if hasBody {
		var rd io.Reader = strings.NewReader(body)
		if readErr != nil {
			rd = io.MultiReader(rd, iotest.ErrReader(readErr))
		}
		r.Body = io.NopCloser(rd)
	}
	if contentType != "-" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func checkReadParams(t *testing.T, method, rawQuery, contentType string, hasBody bool, body string, readErr error) {
	t.Helper()
	got, gotErr := readParams(paramsRequest(method, rawQuery, contentType, hasBody, body, readErr))
	want, wantErr := refReadParams(paramsRequest(method, rawQuery, contentType, hasBody, body, readErr))
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("%s ?%q body %q (%s): error %v, reference %v", method, rawQuery, body, contentType, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s ?%q body %q (%s):\n got %v\nwant %v", method, rawQuery, body, contentType, got, want)
	}
	for k, vs := range got {
		if cap(vs) != len(vs) {
			t.Fatalf("values of %q have spare capacity %d > %d: an append would overwrite a neighbour", k, cap(vs), len(vs))
		}
	}
}

// randForm returns a URL-encoded-looking string built from the pieces that
// matter to the parser: separators, escapes good and bad, '+', semicolons and
// repeated names.
func randForm(r *rand.Rand, maxPairs int) string {
	pieces := []string{"a", "B", "Action", "Version", "=", "==", "&", "&&", "%20", "%3D", "%26", "%zz", "%", "%4", "+", " ", ";", "中", "~.", "x%41y"}
	var b strings.Builder
	for range r.IntN(maxPairs + 1) {
		for range 1 + r.IntN(4) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteByte('&')
	}
	return b.String()
}

func TestReadParamsMatchesReference(t *testing.T) {
	tests := []struct {
		name, method, query, ct string
		hasBody                 bool
		body                    string
		readErr                 error
	}{
		{"query only", "GET", "Action=A&Version=1&Action=B", "-", false, "", nil},
		{"body replaces query", "POST", "a=1&a=2&b=3", "application/x-www-form-urlencoded", true, "a=x&c=y&a=z", nil},
		{"charset parameter", "POST", "a=1", "application/x-www-form-urlencoded; charset=UTF-8", true, "a=2", nil},
		{"upper-case type", "POST", "a=1", "Application/X-WWW-Form-Urlencoded", true, "a=2", nil},
		{"no content type", "POST", "a=1", "-", true, "a=2", nil},
		{"json body ignored", "POST", "a=1", "application/json", true, `{"a":2}`, nil},
		{"other type", "POST", "a=1", "text/plain", true, "a=2", nil},
		{"other type empty body", "POST", "a=1", "text/plain", true, " \n", nil},
		{"bad content type", "POST", "a=1", "a/b; =", true, "a=2", nil},
		{"bad query", "POST", "a=%zz", "application/x-www-form-urlencoded", true, "a=2", nil},
		{"semicolon in body", "POST", "a=1", "application/x-www-form-urlencoded", true, "a=2;b=3", nil},
		{"read error", "POST", "a=1", "application/x-www-form-urlencoded", true, "a=2", errors.New("reset")},
		{"body too large", "POST", "a=1", "application/x-www-form-urlencoded", true, "a=" + strings.Repeat("x", maxBodyBytes), nil},
		{"body at the limit", "POST", "", "application/x-www-form-urlencoded", true, "a=" + strings.Repeat("x", maxBodyBytes-2), nil},
		{"many pairs", "POST", strings.Repeat("q=1&", 100), "application/x-www-form-urlencoded", true, strings.Repeat("k=v&j=%41&", 100), nil},
		{"many pairs bad", "POST", "", "application/x-www-form-urlencoded", true, strings.Repeat("k=v&", 100) + "%", nil},
		{"GET ignores body", "GET", "a=1", "application/x-www-form-urlencoded", true, "a=2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkReadParams(t, tt.method, tt.query, tt.ct, tt.hasBody, tt.body, tt.readErr)
		})
	}
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for range 3000 {
			maxPairs := 8
			if r.IntN(20) == 0 {
				maxPairs = 2 * maxFastFormPairs
			}
			checkReadParams(t, "POST", randForm(r, maxPairs), "application/x-www-form-urlencoded", r.IntN(5) > 0, randForm(r, maxPairs), nil)
		}
	})
}

// FuzzReadParams compares readParams with the reference on arbitrary query
// strings and form bodies.
func FuzzReadParams(f *testing.F) {
	f.Add("Action=AssumeRole&Version=2015-04-01", "RoleArn=acs%3Aram%3A%3A1%3Arole%2Fa&Action=x")
	f.Add("a=1;b=2", "%zz")
	f.Fuzz(func(t *testing.T, query, body string) {
		checkReadParams(t, "POST", query, "application/x-www-form-urlencoded", true, body, nil)
	})
}
