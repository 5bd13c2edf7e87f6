package emulator

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParsePolicyGrammar(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // substring of the error; empty means valid
	}{
		{"minimal", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, ""},
		{"lists", `{"Version":"1","Statement":[{"Effect":"Deny","Action":["ram:Get*","ecs:Describe?egions"],"Resource":["acs:ram:*:123:user/*","acs:ecs::123:*"]}]}`, ""},
		{"statement object", `{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, ""},
		{"not actions", `{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"ram:*","NotResource":"acs:ram:*:*:*"}]}`, ""},
		{"condition", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]},"Bool":{"acs:SecureTransport":true},"NumericLessThan":{"acs:MFAAge":3600}}}]}`, ""},
		{"not json", `{`, "not valid JSON"},
		{"trailing data", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]} {}`, "unexpected data"},
		{"array root", `[]`, "must be a JSON object"},
		{"no version", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "Version"},
		{"version 2", `{"Version":"2","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, `Version: must be "1"`},
		{"version number", `{"Version":1,"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "Version"},
		{"unknown element", `{"Version":"1","Id":"x","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "Id: unknown policy element"},
		{"empty statement", `{"Version":"1","Statement":[]}`, "must not be empty"},
		{"no statement", `{"Version":"1"}`, "Statement: is required"},
		{"bad effect", `{"Version":"1","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`, "Statement[0].Effect"},
		{"no action", `{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}`, "Action or NotAction is required"},
		{"both actions", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}]}`, "mutually exclusive"},
		{"action format", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ListUsers","Resource":"*"}]}`, "invalid action format"},
		{"action chars", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:List Users","Resource":"*"}]}`, "invalid action format"},
		{"empty action list", `{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`, "must not be empty"},
		{"action number", `{"Version":"1","Statement":[{"Effect":"Allow","Action":[1],"Resource":"*"}]}`, "list of strings"},
		{"no resource", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]}`, "Resource or NotResource is required"},
		{"resource prefix", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}`, "invalid ARN prefix"},
		{"resource parts", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"acs:oss:bucket"}]}`, "invalid ARN"},
		{"principal in permission policy", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":{"RAM":"1"}}]}`, "Principal: is not allowed"},
		{"condition operator", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringMaybe":{"acs:x":"y"}}}]}`, "invalid condition operator"},
		{"condition key", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"SourceIp":"y"}}}]}`, "invalid condition key format"},
		{"condition value", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"acs:x":{}}}}]}`, "must be a value"},
		{"statement element", `{"Version":"1","Statement":[{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"}]}`, "Statement[0].Sid: unknown policy element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy(tt.doc)
			if tt.want == "" {
				if err != nil || p == nil {
					t.Fatalf("valid document refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseTrustPolicy(t *testing.T) {
	ok := []string{
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1:root"]}}]}`,
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ecs.aliyuncs.com"}}]}`,
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":["acs:ram::1:oidc-provider/p"]},"Condition":{"StringEquals":{"oidc:aud":"sts.aliyuncs.com"}}}]}`,
	}
	for _, doc := range ok {
		if _, err := ParseTrustPolicy(doc); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	bad := map[string]string{
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`:                                        "Principal is required",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"x"}}]}`:                "unknown principal type",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{}}]}`:                         "must be an object",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":[""]}}]}`:               "must not be empty",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"1"},"Resource":"*"}]}`: "not allowed in a trust policy",
	}
	for doc, want := range bad {
		if _, err := ParseTrustPolicy(doc); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", doc, err, want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"ram:get*", "ram:getuser", true},
		{"ram:get*", "ram:listusers", false},
		{"ram:?etuser", "ram:getuser", true},
		{"ram:?etuser", "ram:etuser", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"acs:ram:*:*:user/app-*", "acs:ram:*:123:user/app-1", true},
		{"acs:ram:*:*:user/app-*", "acs:ram:*:123:group/app-1", false},
		{"**a", "bbba", true},
		{"", "", true},
		{"", "a", false},
		{"a?", "a", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func TestPolicyEvaluate(t *testing.T) {
	p, err := ParsePolicy(`{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["ram:Get*","ram:List*"],"Resource":"*"},
		{"Effect":"Allow","Action":"ram:CreateUser","Resource":"acs:ram::123:user/app-*"},
		{"Effect":"Deny","Action":"ram:GetUser","Resource":"acs:ram:*:123:user/secret"},
		{"Effect":"Allow","NotAction":"ram:*","Resource":"*"},
		{"Effect":"Allow","Action":"oss:PutObject","NotResource":"acs:oss:*:*:private/*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		action, resource string
		want             effect
	}{
		{"ram:getuser", "acs:ram:*:123:user/bob", effectAllow},
		{"ram:getuser", "acs:ram:*:123:user/secret", effectDeny},
		{"ram:createuser", "acs:ram:*:123:user/app-x", effectAllow},
		{"ram:createuser", "acs:ram:*:123:user/admin", effectNone},
		{"ram:deleteuser", "acs:ram:*:123:user/app-x", effectNone},
		{"ecs:describeregions", "acs:ecs:*:123:*", effectAllow},
		{"oss:putobject", "acs:oss:*:*:public/a", effectAllow},
		{"oss:putobject", "acs:oss:*:*:private/a", effectAllow}, // NotAction statement allows every non-RAM action
	}
	for _, tt := range tests {
		if got := p.evaluate(tt.action, tt.resource); got != tt.want {
			t.Errorf("evaluate(%s, %s) = %v, want %v", tt.action, tt.resource, got, tt.want)
		}
	}
	only, _ := ParsePolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:PutObject","NotResource":"acs:oss:*:*:private/*"}]}`)
	if only.evaluate("oss:putobject", "acs:oss:*:*:private/a") != effectNone || only.evaluate("oss:putobject", "acs:oss:*:*:public/a") != effectAllow {
		t.Error("NotResource not honoured")
	}
}

func TestTrustConditions(t *testing.T) {
	p, err := ParseTrustPolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"},
		"Condition":{"StringEquals":{"sts:ExternalId":["a1","a2"]},"StringNotLike":{"sts:ExternalId":"*bad*"},"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	req := func(ext ...string) trustRequest {
		return trustRequest{principalType: "RAM", identities: []string{"acs:ram::1:root"}, context: map[string][]string{"sts:externalid": ext}}
	}
	if !p.trusts(req("a1")) || !p.trusts(req("a2")) {
		t.Error("matching external id refused")
	}
	if p.trusts(req()) || p.trusts(req("a3")) {
		t.Error("missing or wrong external id accepted")
	}
	if p.trusts(trustRequest{principalType: "Service", identities: []string{"acs:ram::1:root"}}) {
		t.Error("principal type ignored")
	}
}

func TestPolicyMarshalRoundTrip(t *testing.T) {
	doc := `{"Version":"1","Statement":{"Effect":"Allow","Action":"ram:GetUser","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":true}}}}`
	p, err := ParsePolicy(doc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:GetUser"],"Resource":["*"],"Condition":{"Bool":{"acs:SecureTransport":["true"]}}}]}`
	if string(b) != want {
		t.Fatalf("canonical form\n%s\nwant\n%s", b, want)
	}
	p2, err := ParsePolicy(string(b))
	if err != nil || !reflect.DeepEqual(p, p2) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, p, p2)
	}
}
