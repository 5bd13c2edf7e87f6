package emulator

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIError is an error answer of the emulated service: the HTTP status and the
// Code and Message of the error body. The set-up helpers (CreateUser, ...)
// return it too, with the same Code the RPC API would answer.
type APIError struct {
	Status  int
	Code    string
	Message string
	// detail is sent as AccessDeniedDetail on authorization failures.
	detail map[string]any
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

func apiErr(status int, code, format string, args ...any) *APIError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &APIError{Status: status, Code: code, Message: msg}
}

// product is one emulated cloud product, identified on the wire by Version.
type product struct {
	code    string // action prefix in policies and counters: sts, ram, ecs
	host    string // HostId in error bodies
	display string // product name in Recommend URLs
	version string
}

var (
	productSTS = &product{code: "sts", host: "sts.aliyuncs.com", display: "Sts", version: "2015-04-01"}
	productRAM = &product{code: "ram", host: "ram.aliyuncs.com", display: "Ram", version: "2015-05-01"}
	productECS = &product{code: "ecs", host: "ecs.aliyuncs.com", display: "Ecs", version: "2014-05-26"}

	productsByVersion = map[string]*product{
		productSTS.version: productSTS,
		productRAM.version: productRAM,
		productECS.version: productECS,
	}
)

// apiDef is one RPC action.
type apiDef struct {
	prod      *product
	action    string
	anonymous bool   // AssumeRoleWithOIDC/SAML: no AccessKey, no signature
	counter   string // "<product code>:<Action>", the counter and log name
	handler   func(e *Emulator, q *rpcRequest) (map[string]any, *APIError)
}

// apiTable maps "<Version>/<Action>" to its definition.
var apiTable = map[string]*apiDef{}

func register(p *product, action string, anonymous bool, h func(*Emulator, *rpcRequest) (map[string]any, *APIError)) {
	apiTable[p.version+"/"+action] = &apiDef{prod: p, action: action, anonymous: anonymous, handler: h, counter: p.code + ":" + action}
}

func init() {
	register(productSTS, "AssumeRole", false, (*Emulator).stsAssumeRole)
	register(productSTS, "AssumeRoleWithOIDC", true, (*Emulator).stsAssumeRoleWithOIDC)
	register(productSTS, "AssumeRoleWithSAML", true, (*Emulator).stsAssumeRoleWithSAML)
	register(productSTS, "GetCallerIdentity", false, (*Emulator).stsGetCallerIdentity)

	register(productECS, "DescribeRegions", false, (*Emulator).ecsDescribeRegions)

	register(productRAM, "CreateUser", false, (*Emulator).ramCreateUser)
	register(productRAM, "GetUser", false, (*Emulator).ramGetUser)
	register(productRAM, "UpdateUser", false, (*Emulator).ramUpdateUser)
	register(productRAM, "DeleteUser", false, (*Emulator).ramDeleteUser)
	register(productRAM, "ListUsers", false, (*Emulator).ramListUsers)
	register(productRAM, "CreateAccessKey", false, (*Emulator).ramCreateAccessKey)
	register(productRAM, "UpdateAccessKey", false, (*Emulator).ramUpdateAccessKey)
	register(productRAM, "DeleteAccessKey", false, (*Emulator).ramDeleteAccessKey)
	register(productRAM, "ListAccessKeys", false, (*Emulator).ramListAccessKeys)
	register(productRAM, "GetAccessKeyLastUsed", false, (*Emulator).ramGetAccessKeyLastUsed)
	register(productRAM, "CreateLoginProfile", false, (*Emulator).ramCreateLoginProfile)
	register(productRAM, "GetLoginProfile", false, (*Emulator).ramGetLoginProfile)
	register(productRAM, "UpdateLoginProfile", false, (*Emulator).ramUpdateLoginProfile)
	register(productRAM, "DeleteLoginProfile", false, (*Emulator).ramDeleteLoginProfile)
	register(productRAM, "GetUserMFAInfo", false, (*Emulator).ramGetUserMFAInfo)
	register(productRAM, "UnbindMFADevice", false, (*Emulator).ramUnbindMFADevice)

	register(productRAM, "CreateGroup", false, (*Emulator).ramCreateGroup)
	register(productRAM, "GetGroup", false, (*Emulator).ramGetGroup)
	register(productRAM, "DeleteGroup", false, (*Emulator).ramDeleteGroup)
	register(productRAM, "ListGroups", false, (*Emulator).ramListGroups)
	register(productRAM, "AddUserToGroup", false, (*Emulator).ramAddUserToGroup)
	register(productRAM, "RemoveUserFromGroup", false, (*Emulator).ramRemoveUserFromGroup)
	register(productRAM, "ListGroupsForUser", false, (*Emulator).ramListGroupsForUser)
	register(productRAM, "ListUsersForGroup", false, (*Emulator).ramListUsersForGroup)

	register(productRAM, "CreatePolicy", false, (*Emulator).ramCreatePolicy)
	register(productRAM, "GetPolicy", false, (*Emulator).ramGetPolicy)
	register(productRAM, "DeletePolicy", false, (*Emulator).ramDeletePolicy)
	register(productRAM, "ListPolicies", false, (*Emulator).ramListPolicies)
	register(productRAM, "CreatePolicyVersion", false, (*Emulator).ramCreatePolicyVersion)
	register(productRAM, "GetPolicyVersion", false, (*Emulator).ramGetPolicyVersion)
	register(productRAM, "ListPolicyVersions", false, (*Emulator).ramListPolicyVersions)
	register(productRAM, "DeletePolicyVersion", false, (*Emulator).ramDeletePolicyVersion)
	register(productRAM, "SetDefaultPolicyVersion", false, (*Emulator).ramSetDefaultPolicyVersion)
	register(productRAM, "AttachPolicyToUser", false, (*Emulator).ramAttachPolicyToUser)
	register(productRAM, "DetachPolicyFromUser", false, (*Emulator).ramDetachPolicyFromUser)
	register(productRAM, "AttachPolicyToGroup", false, (*Emulator).ramAttachPolicyToGroup)
	register(productRAM, "DetachPolicyFromGroup", false, (*Emulator).ramDetachPolicyFromGroup)
	register(productRAM, "AttachPolicyToRole", false, (*Emulator).ramAttachPolicyToRole)
	register(productRAM, "DetachPolicyFromRole", false, (*Emulator).ramDetachPolicyFromRole)
	register(productRAM, "ListPoliciesForUser", false, (*Emulator).ramListPoliciesForUser)
	register(productRAM, "ListPoliciesForGroup", false, (*Emulator).ramListPoliciesForGroup)
	register(productRAM, "ListPoliciesForRole", false, (*Emulator).ramListPoliciesForRole)
	register(productRAM, "ListEntitiesForPolicy", false, (*Emulator).ramListEntitiesForPolicy)

	register(productRAM, "CreateRole", false, (*Emulator).ramCreateRole)
	register(productRAM, "GetRole", false, (*Emulator).ramGetRole)
	register(productRAM, "UpdateRole", false, (*Emulator).ramUpdateRole)
	register(productRAM, "DeleteRole", false, (*Emulator).ramDeleteRole)
	register(productRAM, "ListRoles", false, (*Emulator).ramListRoles)
}

// rpcRequest is one authenticated RPC call being served.
type rpcRequest struct {
	http   *http.Request
	params url.Values
	api    *apiDef
	caller *principal
	id     string
	now    time.Time
}

// param returns the (first) value of a request parameter.
func (q *rpcRequest) param(name string) string {
	if v := q.params[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// require answers Missing<Name> for the first absent or empty parameter, the way
// the API gateway does.
func (q *rpcRequest) require(names ...string) *APIError {
	for _, n := range names {
		if q.param(n) == "" {
			return errMissing(n)
		}
	}
	return nil
}

func errMissing(name string) *APIError {
	return apiErr(http.StatusBadRequest, "Missing"+name, "%s is mandatory for this action.", name)
}

// serveRPC handles every non-reserved path: an RPC call routed by Version and
// Action.
func (e *Emulator) serveRPC(w http.ResponseWriter, r *http.Request) {
	q := &rpcRequest{http: r, id: e.requestID(), now: e.now()}
	w.Header().Set("X-Acs-Request-Id", q.id) // canonical already: no copy of the key
	host := r.Host
	format := "JSON"
	lost := false // a lost_answer fault swallows the answer
	respond := func(body map[string]any, aerr *APIError) {
		if aerr != nil {
			writeError(w, format, host, q.id, productFor(q.api), aerr)
		} else {
			body["RequestId"] = q.id
			writeBody(w, format, q.api.action+"Response", http.StatusOK, body)
		}
		if e.logf == nil {
			return
		}
		name := "Unknown"
		if q.api != nil {
			name = q.api.counter
		}
		caller := "-"
		if q.caller != nil {
			caller = q.caller.describe()
		}
		note := ""
		if lost {
			note = " answer lost (fault injected)"
		}
		if aerr != nil {
			e.logf("rpc %s %s caller=%s status=%d code=%s request_id=%s%s", r.Method, name, caller, aerr.Status, aerr.Code, q.id, note)
		} else {
			e.logf("rpc %s %s caller=%s status=200 request_id=%s%s", r.Method, name, caller, q.id, note)
		}
	}

	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		respond(nil, apiErr(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "This http method is not supported."))
		return
	}
	params, aerr := readParams(r)
	if aerr != nil {
		respond(nil, aerr)
		return
	}
	q.params = params
	if f := q.param("Format"); !strings.EqualFold(f, "JSON") {
		// The documented default is XML; clients covered here all send JSON.
		format = "XML"
	}
	version, action := q.param("Version"), q.param("Action")
	prod := productsByVersion[version]
	switch {
	case version == "":
		respond(nil, errMissing("Version"))
		return
	case prod == nil:
		respond(nil, apiErr(http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid."))
		return
	}
	host = prod.host
	api := apiTable[version+"/"+action]
	if api == nil {
		respond(nil, apiErr(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."))
		return
	}
	q.api = api
	counterName := api.counter
	e.count(counterName)
	switch e.applyFaultsFormat(w, r, counterName, format, host, q.id) {
	case faultAnswered:
		e.log("rpc %s %s fault injected request_id=%s", r.Method, counterName, q.id)
		return
	case faultLoseAnswer:
		// respond writes to the variable w: from here on the answer goes
		// to the sink, and drop closes the real connection afterwards.
		sink, drop := loseAnswer(w)
		w = sink
		lost = true
		defer drop()
	}
	if aerr := e.authenticate(q); aerr != nil {
		respond(nil, aerr)
		return
	}
	body, aerr := api.handler(e, q)
	respond(body, aerr)
}

func productFor(a *apiDef) *product {
	if a == nil {
		return nil
	}
	return a.prod
}

// writeError writes an error body with RequestId, HostId, Code, Message and
// Recommend, like the API gateway.
func writeError(w http.ResponseWriter, format, host, requestID string, prod *product, aerr *APIError) {
	display := "Unknown"
	if prod != nil {
		display = prod.display
	}
	body := map[string]any{
		"RequestId": requestID,
		"HostId":    host,
		"Code":      aerr.Code,
		"Message":   aerr.Message,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(aerr.Code) + "&product=" + display + "&requestId=" + requestID,
	}
	if aerr.detail != nil {
		body["AccessDeniedDetail"] = aerr.detail
	}
	writeBody(w, format, "Error", aerr.Status, body)
}

// writeBody serializes body as JSON or XML. XML repeats the element of a list
// under its envelope (<Users><User>..</User><User>..</User></Users>).
func writeBody(w http.ResponseWriter, format, root string, status int, body map[string]any) {
	bp := bodyBufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	if format == "XML" {
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
		xb := bytes.NewBuffer(buf)
		xb.WriteString(xml.Header)
		writeXMLValue(xb, root, body)
		buf = xb.Bytes()
	} else {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		buf, _ = appendJSONBody(buf, body) // an unencodable body is sent empty, as json.Encoder left it
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(status)
	_, _ = w.Write(buf)
	if cap(buf) <= maxPooledBodyBuf {
		*bp = buf[:0]
		bodyBufPool.Put(bp)
	}
}

// maxPooledBodyBuf keeps the buffer of a rare large listing out of the pool.
const maxPooledBodyBuf = 64 << 10

// bodyBufPool recycles response buffers: ResponseWriter.Write copies the body.
var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func writeXMLValue(buf *bytes.Buffer, name string, v any) {
	switch t := v.(type) {
	case map[string]any:
		writeXMLTag(buf, "<", name)
		var scratch [16]string
		keys := scratch[:0]
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			writeXMLValue(buf, k, t[k])
		}
		writeXMLTag(buf, "</", name)
	case *assumedRoleUser:
		f := t.fields()
		writeXMLObject(buf, name, f[:])
	case *stsCredentials:
		f := t.fields()
		writeXMLObject(buf, name, f[:])
	case []map[string]any:
		for _, item := range t {
			writeXMLValue(buf, name, item)
		}
	case []any:
		for _, item := range t {
			writeXMLValue(buf, name, item)
		}
	case []string:
		for _, item := range t {
			writeXMLValue(buf, name, item)
		}
	case string:
		writeXMLText(buf, name, t) // fmt.Sprint of a string is the string
	default:
		writeXMLText(buf, name, fmt.Sprint(t))
	}
}

// writeXMLObject writes fields, sorted by name, as writeXMLValue writes the
// map of them.
func writeXMLObject(buf *bytes.Buffer, name string, fields []strField) {
	writeXMLTag(buf, "<", name)
	for _, f := range fields {
		writeXMLText(buf, f.name, f.value)
	}
	writeXMLTag(buf, "</", name)
}

func writeXMLText(buf *bytes.Buffer, name, text string) {
	writeXMLTag(buf, "<", name)
	_ = xml.EscapeText(buf, []byte(text))
	writeXMLTag(buf, "</", name)
}

// writeXMLTag writes open + name + ">", "<name>" or "</name>".
func writeXMLTag(buf *bytes.Buffer, open, name string) {
	buf.WriteString(open)
	buf.WriteString(name)
	buf.WriteByte('>')
}

// timeFormat is the service's date format: UTC, seconds, literal Z.
const timeFormat = "2006-01-02T15:04:05Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}
