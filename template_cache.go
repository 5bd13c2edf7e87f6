package alicloud

import (
	"sync"

	"github.com/hashicorp/vault/sdk/helper/template"
)

// maxCachedTemplates bounds the parsed-template cache: roles and config
// hold a handful of distinct templates, and a writer who cycles through
// many must not grow the plugin's memory without end.
const maxCachedTemplates = 256

// templateCache holds parsed name templates by their text, at most
// maxCachedTemplates of them; the oldest entry goes first. Its zero value
// is ready to use.
type templateCache struct {
	mu    sync.Mutex
	m     map[string]template.StringTemplate
	order []string // insertion order, oldest first
}

// Load returns the parsed template for text, if cached.
func (c *templateCache) Load(text string) (template.StringTemplate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[text]
	return t, ok
}

// Store caches t for text, evicting the oldest entries beyond the bound.
func (c *templateCache) Store(text string, t template.StringTemplate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]template.StringTemplate{}
	}
	if _, ok := c.m[text]; ok {
		return
	}
	for len(c.order) >= maxCachedTemplates {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[text] = t
	c.order = append(c.order, text)
}

// Len is the number of cached templates.
func (c *templateCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
