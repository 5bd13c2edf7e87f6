package emulator

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// The admin API has no authentication: it is meant for the machine the
// emulator runs on. A web page in a browser on that machine must not be able
// to use it, neither by sending it "simple" cross-origin requests (a form post
// needs no CORS preflight) nor through DNS rebinding (a name of the page's
// site re-pointed at 127.0.0.1, so the browser treats the emulator as that
// site). Hence three rules, checked before any admin endpoint is served:
//
//   - loopback-host: the Host header is a loopback name or address
//     (localhost, 127.0.0.0/8, [::1], any port) or exactly the host:port of
//     one of the emulator's listeners (SetListenerAddrs). A rebound name is
//     neither.
//   - no-origin / no-cross-site: a state-changing request (anything but GET
//     and HEAD) carries no Origin header and no Sec-Fetch-Site of cross-site
//     or same-site. Browsers send them; curl and Go programs do not.
//   - json-content-type: a state-changing request with a body says
//     Content-Type: application/json, which a browser cannot send
//     cross-origin without a CORS preflight, and the emulator grants none.
//
// The RPC API, the metadata service and the credentials URI keep accepting
// any Host: SDKs address them as sts.aliyuncs.com and the like through the
// proxy. So do the built-in OIDC issuer's public documents (GET discovery and
// JWKS), which hold no secret and which a relying party may fetch by any name.

// Names of the admin API's request rules, as reported in refusals.
const (
	adminRuleHost        = "loopback-host"
	adminRuleOrigin      = "no-origin"
	adminRuleCrossSite   = "no-cross-site"
	adminRuleContentType = "json-content-type"
)

// adminRefusal is why an admin request was refused.
type adminRefusal struct {
	status int
	rule   string
	msg    string
}

// SetListenerAddrs records the addresses (host:port) the emulator is served
// on. Admin requests whose Host header is exactly one of them are accepted
// besides loopback names and addresses, so an emulator listening on
// 10.0.0.5:8100 can be administered as http://10.0.0.5:8100. Entries without
// a host or with an unspecified one (":8100", "0.0.0.0:8100", "[::]:8100")
// are ignored: no client addresses a server that way.
func (e *Emulator) SetListenerAddrs(addrs ...string) {
	var keep []string
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
			continue
		}
		keep = append(keep, a)
	}
	e.listenerAddrs.Store(&keep)
}

// adminHostAllowed reports whether host (a Host header) may reach the admin API.
func (e *Emulator) adminHostAllowed(host string) bool {
	if host == "" {
		return false
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(name); err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback() {
		return true
	}
	if p := e.listenerAddrs.Load(); p != nil {
		for _, a := range *p {
			if strings.EqualFold(host, a) {
				return true
			}
		}
	}
	return false
}

// checkAdminRequest applies the admin API's rules to r; nil means accepted.
func (e *Emulator) checkAdminRequest(r *http.Request) *adminRefusal {
	if !e.adminHostAllowed(r.Host) {
		return &adminRefusal{http.StatusForbidden, adminRuleHost,
			"admin API: Host " + quoteHeader(r.Host) + " refused: it must be a loopback name or address " +
				"(localhost, 127.0.0.0/8, [::1], any port) or the host:port of one of the emulator's listeners"}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if _, ok := r.Header["Origin"]; ok {
		return &adminRefusal{http.StatusForbidden, adminRuleOrigin,
			"admin API: a " + r.Method + " request with an Origin header (sent by browsers) is refused; " +
				"state-changing admin requests come from local tools, without Origin"}
	}
	switch site := strings.ToLower(strings.TrimSpace(r.Header.Get("Sec-Fetch-Site"))); site {
	case "cross-site", "same-site":
		return &adminRefusal{http.StatusForbidden, adminRuleCrossSite,
			"admin API: a " + r.Method + " request with Sec-Fetch-Site " + site + " (sent by browsers) is refused"}
	}
	if r.ContentLength != 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return &adminRefusal{http.StatusUnsupportedMediaType, adminRuleContentType,
				"admin API: a " + r.Method + " request with a body must have Content-Type: application/json"}
		}
	}
	return nil
}

// quoteHeader quotes a client-supplied header value for an error message,
// cut to a sane length.
func quoteHeader(v string) string {
	if len(v) > 100 {
		v = v[:100] + "..."
	}
	return strconv.Quote(v)
}
