package alicloud

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// badInputEnv is a configured engine with an assumed_role role "sts", a
// ram_user role "ru" and the static role's RAM user, for the bad-input
// tables.
func badInputEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newStaticEnv(t, nil)
	e.ok(logical.CreateOperation, "role/sts", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.CreateOperation, "role/ru", map[string]interface{}{"remote_policies": []string{"name:ReadOnlyAccess,type:System"}})
	return e
}

// cloudState is what the emulator holds that a refused request must not
// change: users with their keys, policies and groups, and custom policies
// with their versions.
func (e *testEnv) cloudState() string {
	s := e.emu.Snapshot()
	return fmt.Sprintf("%+v %+v %+v", s.Users, s.Policies, s.Groups)
}

// badRequestChangesNothing sends a request that must be refused with a 400
// whose message names field, and checks that neither storage nor the cloud
// changed.
func (e *testEnv) badRequestChangesNothing(op logical.Operation, path string, data map[string]interface{}, field string) {
	e.t.Helper()
	before, cloud := storageDump(e.t.(*testing.T), e.s), e.cloudState()
	e.badRequest(op, path, data, field)
	if after := storageDump(e.t.(*testing.T), e.s); !reflect.DeepEqual(before, after) {
		e.t.Fatalf("%s %s %v: refused, but storage changed: %s", op, path, data, diffKeys(before, after))
	}
	if got := e.cloudState(); got != cloud {
		e.t.Fatalf("%s %s %v: refused, but the cloud changed", op, path, data)
	}
}

// TestBadInput_Table sends values that break a rule to each field of each
// path: every answer is a 400 that names the field, and nothing is written
// to storage or to the (emulated) cloud.
func TestBadInput_Table(t *testing.T) {
	long := strings.Repeat("a", 70000)
	type bad struct {
		op    logical.Operation
		path  string
		field string
		value interface{}
	}
	var cases []bad
	add := func(op logical.Operation, path, field string, values ...interface{}) {
		for _, v := range values {
			cases = append(cases, bad{op, path, field, v})
		}
	}
	const (
		cr logical.Operation = logical.CreateOperation
		up logical.Operation = logical.UpdateOperation
	)
	// config (an update of the working config: the secret is given so that
	// only the field under test can be what is wrong).
	add(up, "config", "credential_type", "nope", long, "access_key\x00")
	add(up, "config", "region", "bad region!", long, "cn-杭州", "-cn")
	add(up, "config", "sts_endpoint", "ftp://x", "not a url", "http://", long)
	add(up, "config", "ram_endpoint", "ftp://x", "http://exa mple.com", long)
	add(up, "config", "max_retries", "many", -5, 1e30, map[string]interface{}{"a": 1})
	add(up, "config", "request_timeout", "soon", -1, 1e30, []interface{}{1, 2})
	add(up, "config", "username_template", "{{", "{{range 10}}x{{end}}", long)
	add(up, "config", "use_vpc_endpoint", "maybe", map[string]interface{}{})
	// roles
	add(cr, "role/new", "credential_type", "nope", 7)
	add(cr, "role/new", "role_arn", "arn", "acs:ram::1:user/x", long, "acs:ram::123:role/\x00")
	add(cr, "role/new", "inline_policies", "not json", "{}", `[{"Version":"1","Statement":[]}`, `[1]`, long)
	add(cr, "role/new", "remote_policies", "name:A", "type:System", "name:A,type:Nope", "name:A,type:System,extra:1", "name:A,type:System,name:B")
	add(cr, "role/new", "ram_groups", "bad group!", long, "\x00")
	add(up, "role/sts", "policy", "[1,2]", "not json", `{"Version":"1","Statement":"x"}`, strings.Repeat(" ", 2000)+"{}")
	add(up, "role/sts", "external_id", "a", long, "bad id!")
	add(up, "role/sts", "ttl", "soon", -5, 99999999, 1e30)
	add(up, "role/sts", "max_ttl", "later", -5, 1e30)
	add(up, "role/ru", "username_template", "{{", "{{range 10}}x{{end}}", `{{random 100000}}`)
	add(up, "role/sts", "role_session_name_template", "{{", "{{define \"x\"}}{{end}}", "a b c")
	add(up, "role/sts", "inline_policies", `[{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}]`)
	add(up, "role/ru", "role_arn", "acs:ram::123:role/x")
	// static roles
	add(cr, "static-role/new", "username", "", "bad name!", long, "nobody")
	add(cr, "static-role/new", "rotation_period", "10s", "-1h", "forever", 1e30)
	add(cr, "static-role/new", "grace_period", "-1h", "soon", 1e30)
	// creds
	add(up, "creds/sts", "ttl", 1, -5, 99999999, "soon")
	add(up, "creds/sts", "role_session_name", "a b", "x", long, "\x00\x01")
	add(up, "creds/ru", "ttl", 1000)

	for _, c := range cases {
		name := fmt.Sprintf("%s %s %s=%.20q", c.op, c.path, c.field, fmt.Sprint(c.value))
		t.Run(name, func(t *testing.T) {
			e := badInputEnv(t)
			data := map[string]interface{}{c.field: c.value}
			switch {
			case c.path == "config":
				data["secret_key"] = e.engineSecret
			case strings.HasPrefix(c.path, "static-role/new"):
				if c.field != "username" {
					data["username"] = staticUser
				}
				if c.field != "rotation_period" {
					data["rotation_period"] = "1h"
				}
			}
			e.badRequestChangesNothing(c.op, c.path, data, c.field)
		})
	}
}

// TestBadInput_EveryField sends values of the wrong shape to every field of
// every path's schema (a map, a list, a number where text is expected, an
// overflowing number, very long text, control characters): each answer is
// either a success or a 400 naming the field that changed nothing; never an
// error Vault would answer with a 500.
func TestBadInput_EveryField(t *testing.T) {
	e := badInputEnv(t)
	paths := map[string]string{}
	for _, p := range e.b.Paths {
		// The framework anchors the patterns once it has routed a request.
		pattern := strings.TrimSuffix(strings.TrimPrefix(p.Pattern, "^"), "$")
		switch {
		case pattern == "config":
			paths[p.Pattern] = "config"
		case strings.HasPrefix(pattern, "role/"):
			paths[p.Pattern] = "role/sts"
		case strings.HasPrefix(pattern, "static-role/") && strings.HasSuffix(pattern, "/rotate"):
			paths[p.Pattern] = "static-role/app/rotate"
		case strings.HasPrefix(pattern, "static-role/"):
			paths[p.Pattern] = "static-role/new"
		case strings.HasPrefix(pattern, "creds/"):
			paths[p.Pattern] = "creds/sts"
		}
	}
	values := []interface{}{
		map[string]interface{}{"x": 1}, []interface{}{map[string]interface{}{}}, 1e300, -9223372036854775808.0,
		strings.Repeat("z", 100000), "\x00\x1b[31m", "ünïcødé-名前", "",
	}
	checked := 0
	for _, p := range e.b.Paths {
		target, ok := paths[p.Pattern]
		if !ok {
			continue
		}
		fields := make([]string, 0, len(p.Fields))
		for f := range p.Fields {
			if f != "name" {
				fields = append(fields, f)
			}
		}
		sort.Strings(fields)
		for _, f := range fields {
			for _, v := range values {
				if v == "" && strings.HasSuffix(f, "_endpoint") {
					// The default endpoint is Alibaba's: no test sends there.
					continue
				}
				checked++
				t.Run(fmt.Sprintf("%s %s=%.16q", target, f, fmt.Sprint(v)), func(t *testing.T) {
					e := badInputEnv(t)
					if target == "static-role/app/rotate" {
						e.ok(logical.CreateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h"})
					}
					data := map[string]interface{}{f: v}
					if target == "config" && f != "secret_key" {
						data["secret_key"] = e.engineSecret
					}
					if target == "static-role/new" && f != "username" {
						data["username"] = staticUser
					}
					if target == "static-role/new" && f != "rotation_period" {
						data["rotation_period"] = "1h"
					}
					var op logical.Operation = logical.UpdateOperation
					if strings.HasSuffix(target, "/new") {
						op = logical.CreateOperation
					}
					before, cloud := storageDump(t, e.s), e.cloudState()
					resp, err := e.do(op, target, data)
					var ue *upstreamError
					switch {
					case err != nil && errorsAs(err, &ue) && ue.code != 500:
						// Alibaba refused a value the engine passed on (a 400 or 502).
					case err != nil:
						t.Fatalf("%s %s %s=%v: error %v: Vault would answer 500", op, target, f, v, err)
					case resp != nil && resp.IsError():
						msg := resp.Error().Error()
						if !strings.Contains(msg, f) && !nameAnotherField(msg, p.Fields) {
							t.Errorf("%s %s %s=%.40v: 400 %q names no field", op, target, f, v, msg)
						}
						if after := storageDump(t, e.s); !reflect.DeepEqual(before, after) {
							t.Fatalf("refused, but storage changed: %s", diffKeys(before, after))
						}
						if e.cloudState() != cloud {
							t.Fatalf("refused, but the cloud changed")
						}
					}
				})
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d field values were checked; the path patterns changed?", checked)
	}
}

// nameAnotherField reports whether a refusal names some field of the path
// (a value can be refused for what it means together with another field).
func nameAnotherField(msg string, fields map[string]*framework.FieldSchema) bool {
	for f := range fields {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}

func errorsAs(err error, target interface{}) bool { return errors.As(err, target) }
