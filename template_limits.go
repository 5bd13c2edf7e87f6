package alicloud

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	vaulttemplate "github.com/hashicorp/vault/sdk/helper/template"
)

// Limits of name templates (username_template, role_session_name_template).
// A template renders one name of at most 64 characters on every issue, so
// anything that costs more than a few microseconds or a few hundred bytes is
// refused when the template is written, and capped again when it runs.
const (
	maxTemplateBytes  = 512 // template text
	maxRandomLength   = 64  // random N
	maxTruncateLength = 128 // truncate N, truncate_sha256 N
	maxFormatWidth    = 64  // printf width and precision
	maxRenderedBytes  = 256 // any function's result, and the rendered name
)

// checkNameTemplate refuses what a name template has no use for and what
// lets one render cost seconds or megabytes: loops ({{range}}), scopes
// ({{with}}), other templates ({{define}}, {{block}}, {{template}}), random
// or truncate with a large or computed length, printf widths beyond
// maxFormatWidth, and text longer than maxTemplateBytes.
func checkNameTemplate(text string) error {
	if len(text) > maxTemplateBytes {
		return fmt.Errorf("must be at most %d bytes, got %d", maxTemplateBytes, len(text))
	}
	const name = "name"
	tree := parse.New(name)
	tree.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := tree.Parse(text, "", "", trees); err != nil {
		return fmt.Errorf("unable to parse template: %v", err)
	}
	for n := range trees {
		if n != name {
			return fmt.Errorf("{{define}}, {{block}} and {{template}} are not allowed")
		}
	}
	return checkTemplateNode(tree.Root)
}

func checkTemplateNode(n parse.Node) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTemplateNode(c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkTemplateNode(n.Pipe)
	case *parse.IfNode:
		for _, c := range []parse.Node{n.Pipe, n.List, n.ElseList} {
			if err := checkTemplateNode(c); err != nil {
				return err
			}
		}
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkTemplateNode(c); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return checkTemplateNode(n.Node)
	case *parse.CommandNode:
		if err := checkTemplateCall(n); err != nil {
			return err
		}
		for _, a := range n.Args {
			if err := checkTemplateNode(a); err != nil {
				return err
			}
		}
	case *parse.RangeNode, *parse.BreakNode, *parse.ContinueNode:
		return fmt.Errorf("{{range}} is not allowed")
	case *parse.WithNode:
		return fmt.Errorf("{{with}} is not allowed")
	case *parse.TemplateNode:
		return fmt.Errorf("{{define}}, {{block}} and {{template}} are not allowed")
	}
	return nil
}

// checkTemplateCall checks the arguments of the functions whose cost
// grows with an argument: they must be small literals.
func checkTemplateCall(c *parse.CommandNode) error {
	id, ok := c.Args[0].(*parse.IdentifierNode)
	if !ok {
		return nil
	}
	var limit int64
	switch id.Ident {
	case "random":
		limit = maxRandomLength
	case "truncate", "truncate_sha256":
		limit = maxTruncateLength
	case "printf":
		// A piped or computed format could carry any width.
		if len(c.Args) < 2 {
			return fmt.Errorf("printf: needs a string literal as its format")
		}
		s, ok := c.Args[1].(*parse.StringNode)
		if !ok {
			return fmt.Errorf("printf: needs a string literal as its format")
		}
		return checkFormat(s.Text)
	default:
		return nil
	}
	if len(c.Args) != 2 {
		return fmt.Errorf("%s: needs a number literal as its length", id.Ident)
	}
	num, ok := c.Args[1].(*parse.NumberNode)
	if !ok || !num.IsInt {
		return fmt.Errorf("%s: needs a number literal as its length", id.Ident)
	}
	if num.Int64 < 1 || num.Int64 > limit {
		return fmt.Errorf("%s: at most %d, got %s", id.Ident, limit, num.Text)
	}
	return nil
}

// checkFormat refuses printf widths and precisions above maxFormatWidth and
// those taken from an argument (*).
func checkFormat(f string) error {
	bad := fmt.Errorf("printf: width or precision at most %d", maxFormatWidth)
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("+-# 0", f[i]) >= 0 {
			i++
		}
		for part := 0; part < 2 && i < len(f); part++ {
			if f[i] == '[' {
				for i < len(f) && f[i] != ']' {
					i++
				}
				i++
			}
			if i < len(f) && f[i] == '*' {
				return bad
			}
			j := i
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
			}
			if j < i {
				if n, err := strconv.Atoi(f[j:i]); err != nil || n > maxFormatWidth {
					return bad
				}
			}
			if part == 0 && i < len(f) && f[i] == '.' {
				i++
				continue
			}
			break
		}
	}
	return nil
}

// boundedFunctions replace the template functions whose result can be
// longer than their input, so that no chain of them can build a large
// string: each result is at most maxRenderedBytes.
func boundedFunctions() []vaulttemplate.Opt {
	capped := func(name string, f func(...any) string) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			return capResult(name, f(args...))
		}
	}
	return []vaulttemplate.Opt{
		vaulttemplate.Function("replace", func(find, repl, s string) (string, error) {
			n := strings.Count(s, find)
			if len(s)+n*(len(repl)-len(find)) > maxRenderedBytes {
				return "", fmt.Errorf("replace: the result would exceed %d bytes", maxRenderedBytes)
			}
			return strings.ReplaceAll(s, find, repl), nil
		}),
		vaulttemplate.Function("printf", func(format string, args ...any) (string, error) {
			return capResult("printf", fmt.Sprintf(format, args...))
		}),
		vaulttemplate.Function("print", capped("print", fmt.Sprint)),
		vaulttemplate.Function("println", capped("println", fmt.Sprintln)),
		vaulttemplate.Function("html", capped("html", template.HTMLEscaper)),
		vaulttemplate.Function("js", capped("js", template.JSEscaper)),
		vaulttemplate.Function("urlquery", capped("urlquery", template.URLQueryEscaper)),
		vaulttemplate.Function("base64", func(s string) (string, error) {
			if base64.StdEncoding.EncodedLen(len(s)) > maxRenderedBytes {
				return "", fmt.Errorf("base64: the result would exceed %d bytes", maxRenderedBytes)
			}
			return base64.StdEncoding.EncodeToString([]byte(s)), nil
		}),
		vaulttemplate.Function("uppercase", func(s string) (string, error) { return capResult("uppercase", strings.ToUpper(s)) }),
		vaulttemplate.Function("lowercase", func(s string) (string, error) { return capResult("lowercase", strings.ToLower(s)) }),
	}
}

func capResult(name, s string) (string, error) {
	if len(s) > maxRenderedBytes {
		return "", fmt.Errorf("%s: the result would exceed %d bytes", name, maxRenderedBytes)
	}
	return s, nil
}

// newNameTemplate checks and parses a name template.
func newNameTemplate(text string) (vaulttemplate.StringTemplate, error) {
	if err := checkNameTemplate(text); err != nil {
		return vaulttemplate.StringTemplate{}, err
	}
	return vaulttemplate.NewTemplate(append(boundedFunctions(), vaulttemplate.Template(text))...)
}

// quoteName quotes a rendered name for an error message, shortened.
func quoteName(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "..."
	}
	return strconv.Quote(s)
}
