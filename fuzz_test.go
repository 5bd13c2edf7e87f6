package alicloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// fuzzPaths are the paths a fuzzed request may go to, with the operations
// they take.
var fuzzPaths = []struct {
	path string
	ops  []logical.Operation
}{
	{"config", []logical.Operation{logical.UpdateOperation, logical.ReadOperation}},
	{"config/rotate-root", []logical.Operation{logical.UpdateOperation}},
	{"config/identity", []logical.Operation{logical.ReadOperation}},
	{"role/fz", []logical.Operation{logical.CreateOperation, logical.UpdateOperation, logical.ReadOperation, logical.DeleteOperation}},
	{"role/", []logical.Operation{logical.ListOperation}},
	{"creds/fz", []logical.Operation{logical.ReadOperation, logical.UpdateOperation}},
	{"static-role/fz", []logical.Operation{logical.CreateOperation, logical.UpdateOperation, logical.ReadOperation, logical.DeleteOperation}},
	{"static-role/fz/rotate", []logical.Operation{logical.UpdateOperation}},
	{"static-creds/fz", []logical.Operation{logical.ReadOperation}},
}

// storageDump reads every entry of s.
func storageDump(t *testing.T, s logical.Storage) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(prefix string)
	walk = func(prefix string) {
		keys, err := s.List(context.Background(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				walk(prefix + k)
				continue
			}
			e, err := s.Get(context.Background(), prefix+k)
			if err != nil {
				t.Fatal(err)
			}
			if e != nil {
				out[prefix+k] = string(e.Value)
			}
		}
	}
	walk("")
	return out
}

// FuzzRequests sends random field maps to every path of the backend (a
// configured one, against the emulator) and checks what Vault's clients
// would see: no panic; no error that Vault would answer with a 500 (input
// problems are 400 responses naming the field, Alibaba's refusals and
// failures upstreamErrors with their own status); and no change to storage
// when the answer is a 400.
func FuzzRequests(f *testing.F) {
	seeds := []struct {
		path, op int
		data     string
	}{
		{0, 0, `{"region":"cn-hangzhou"}`},
		{0, 0, `{"max_retries":-5,"request_timeout":"1e100"}`},
		{0, 0, `{"credential_type":"oidc_role_arn","oidc_token_file":"relative"}`},
		{3, 0, `{"role_arn":"acs:ram::123:role/x","ttl":"-1"}`},
		{3, 0, `{"inline_policies":"[{\"Version\":\"1\",\"Statement\":[]}]","remote_policies":["name:A,type:System,name:B"]}`},
		{3, 0, `{"username_template":"{{range 1000000}}x{{end}}"}`},
		{3, 1, `{"ram_groups":["", "\u0000"],"max_ttl":99999999999999}`},
		{5, 1, `{"ttl":1,"role_session_name":"a b"}`},
		{6, 0, `{"username":"nobody","rotation_period":"0s"}`},
		{6, 0, `{"username":"","grace_period":"-1h","rotation_schedule":"0 0 30 2 *"}`},
	}
	for _, s := range seeds {
		f.Add(s.path, s.op, s.data)
	}
	f.Fuzz(func(t *testing.T, pathIdx, opIdx int, data string) {
		e := newTestEnv(t)
		e.configure(nil)
		e.ok(logical.CreateOperation, "role/fz", map[string]interface{}{"role_arn": e.readerARN})

		p := fuzzPaths[uint(pathIdx)%uint(len(fuzzPaths))]
		op := p.ops[uint(opIdx)%uint(len(p.ops))]
		var fields map[string]interface{}
		if err := json.Unmarshal([]byte(data), &fields); err != nil {
			fields = map[string]interface{}{"name": data, "role_arn": data, "policy": data}
		}
		before := storageDump(t, e.s)
		resp, err := e.b.HandleRequest(e.ctx, &logical.Request{Operation: op, Path: p.path, Data: fields, Storage: e.s, DisplayName: "token-fuzz"})
		if resp != nil {
			for _, k := range []string{"secret_key", "security_token"} {
				if v, ok := resp.Data[k].(string); ok {
					e.addSecret(v)
				}
			}
		}
		var ue *upstreamError
		switch {
		case err != nil && errors.As(err, &ue):
			// Alibaba refused or failed: the client sees ue's status.
		case err != nil && (errors.Is(err, logical.ErrUnsupportedPath) || errors.Is(err, logical.ErrUnsupportedOperation)):
		case err != nil:
			t.Fatalf("%s %s %s: error %v: Vault would answer 500", op, p.path, data, err)
		case resp != nil && resp.IsError():
			if after := storageDump(t, e.s); !reflect.DeepEqual(before, after) {
				t.Fatalf("%s %s %s: 400 (%v) but storage changed: %s", op, p.path, data, resp.Error(), diffKeys(before, after))
			}
		}
	})
}

// diffKeys names the storage keys that differ.
func diffKeys(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "+"+k)
		}
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}
