package alicloud

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// expensiveTemplates are name templates that cost CPU or memory out of
// proportion to a name, or that reach outside the one template.
var expensiveTemplates = []struct {
	name, text, want string
}{
	{"range", `{{ range 100000000 }}x{{ end }}`, "range"},
	{"range over string", `{{ range $i, $c := .RoleName }}{{ $c }}{{ end }}`, "range"},
	{"with", `{{ with .RoleName }}{{ . }}{{ end }}`, "with"},
	{"define and template", `{{ define "a" }}x{{ end }}{{ template "a" }}`, "define"},
	{"block", `{{ block "b" . }}x{{ end }}`, "block"},
	{"big random", `{{ random 100000000 }}`, "random: at most 64"},
	{"computed random", `{{ random (len .RoleName) }}`, "random: needs a number literal"},
	{"big truncate", `{{ .RoleName | truncate 100000 }}`, "truncate: at most 128"},
	{"printf width", `{{ printf "%0100000000d" 1 }}`, "printf: width or precision at most 64"},
	{"printf piped format", `{{ "%0100000000d" | printf }}`, "printf: needs a string literal as its format"},
	{"printf computed format", `{{ printf (print "%0" "100000000d") 1 }}`, "printf: needs a string literal as its format"},
	{"printf star", `{{ printf "%*d" 100000000 1 }}`, "printf: width or precision at most 64"},
	{"long text", "x" + strings.Repeat("{{/* pad */}}", 50), "at most 512 bytes"},
	{"growing replace", `{{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" | replace "a" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" | replace "a" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" | replace "a" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }}`, "replace: the result would exceed 256 bytes"},
}

func TestNameTemplates_ExpensiveConstructsRefused(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	for _, tc := range expensiveTemplates {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.badRequest(logical.UpdateOperation, "role/x", map[string]interface{}{"ram_groups": "developers", "username_template": tc.text}, "username_template: ")
			e.badRequest(logical.UpdateOperation, "role/x", map[string]interface{}{"ram_groups": "developers", "username_template": tc.text}, tc.want)
			e.badRequest(logical.UpdateOperation, "role/y", map[string]interface{}{"role_arn": e.readerARN, "role_session_name_template": tc.text}, "role_session_name_template: ")
			e.badRequest(logical.UpdateOperation, "role/y", map[string]interface{}{"role_arn": e.readerARN, "role_session_name_template": tc.text}, tc.want)
			e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"username_template": tc.text}, "username_template: ")
		})
	}
	e.t = t
	// What names need still works.
	e.ok(logical.UpdateOperation, "role/ok", map[string]interface{}{"role_arn": e.readerARN,
		"role_session_name_template": `{{ if .RoleName }}{{ printf "v-%s-%s" (.RoleName | truncate 20) (random 8) | replace "_" "-" | lowercase }}{{ end }}`})
	e.ok(logical.UpdateOperation, "role/ok2", map[string]interface{}{"ram_groups": "developers", "username_template": `{{ .RoleName | truncate_sha256 40 }}-{{ unix_time }}`})
}

func TestNameTemplates_RenderedLengthCapped(t *testing.T) {
	b := newTestEnv(t).b
	text := `{{ .RoleName }}{{ .RoleName }}{{ .RoleName }}`
	_, err := b.renderName("username_template", text, newNameTemplateData("d", strings.Repeat("r", 100)), ramUserNameRegex, userNameRule)
	if err == nil || !strings.Contains(err.Error(), "username_template: renders more than 256 bytes") {
		t.Fatalf("err = %v", err)
	}
}

func TestNameTemplates_CacheBounded(t *testing.T) {
	b := newTestEnv(t).b
	for i := 0; i < 10000; i++ {
		if _, err := b.template(fmt.Sprintf("{{ .RoleName }}-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.templates.Len(); n > maxCachedTemplates || n == 0 {
		t.Errorf("cache holds %d templates, want 1..%d", n, maxCachedTemplates)
	}
	if _, ok := b.templates.Load("{{ .RoleName }}-9999"); !ok {
		t.Error("the latest template is not cached")
	}
}
