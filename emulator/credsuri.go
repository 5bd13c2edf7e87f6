package emulator

import (
	"net/http"
	"strings"
)

// credentialsURIPath is where the emulator serves the credentials URI
// endpoint (point ALIBABA_CLOUD_CREDENTIALS_URI at it).
const credentialsURIPath = "/credentials-uri"

// credentialsURIDoc is the documented credentials URI response (reference,
// section 6): Code plus the four credential fields, Expiration in the strict
// yyyy-MM-ddTHH:mm:ssZ layout the official clients parse.
type credentialsURIDoc struct {
	Code            string `json:"Code"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

// serveCredentialsURI emulates a credentials URI endpoint
// (ALIBABA_CLOUD_CREDENTIALS_URI). GET /credentials-uri returns a session of
// the configured role; GET /credentials-uri/<role> one of the named role, so a
// test can serve several identities from one emulator. Either way the role's
// trust policy must trust the ECS service principal, as for an instance role:
// the endpoint stands in for a credential-vending sidecar running on an
// instance. Sessions are reused until they near expiry, like the metadata
// service's.
func (e *Emulator) serveCredentialsURI(w http.ResponseWriter, r *http.Request) {
	sw := &edgeStatusWriter{ResponseWriter: w}
	defer e.logEdge("credentials-uri", r, sw)
	w = sw
	e.count("credentialsuri:GetCredentials")
	switch e.applyFaults(w, r, "CredentialsURI") {
	case faultAnswered:
		return
	case faultLoseAnswer:
		sink, drop := loseAnswer(w)
		w = sink
		defer drop()
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeEdgeJSON(w, http.StatusMethodNotAllowed, edgeErrorDoc{
			Code: "MethodNotAllowed", Message: "the credentials URI is read with GET"})
		return
	}
	role := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, credentialsURIPath), "/")
	if role == "" {
		role = e.credentialsURISettings().RoleName
		if role == "" {
			writeEdgeJSON(w, http.StatusNotFound, edgeErrorDoc{
				Code:    "CredentialsURI.NotConfigured",
				Message: "no role is configured for the credentials URI (seed credentials_uri.role_name or the admin API)",
			})
			return
		}
	} else if strings.Contains(role, "/") {
		writeEdgeJSON(w, http.StatusNotFound, edgeErrorDoc{Code: "NotFound", Message: "no such path"})
		return
	}
	cs, err := e.roleSession("uri/"+role, role, ECSServicePrincipal)
	if err != nil {
		status, code, msg := e.serviceSessionError(role, ECSServicePrincipal, err)
		writeEdgeJSON(w, status, edgeErrorDoc{Code: code, Message: msg})
		return
	}
	writeEdgeJSON(w, http.StatusOK, credentialsURIDoc{
		Code:            "Success",
		AccessKeyID:     cs.creds.AccessKeyID,
		AccessKeySecret: cs.creds.AccessKeySecret,
		SecurityToken:   cs.creds.SecurityToken,
		Expiration:      cs.creds.Expiration.UTC().Format(metadataTimeLayout),
	})
}
