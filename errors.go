package alicloud

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/hashicorp/vault/sdk/logical"
)

// Vault maps a plugin's error to an HTTP status by its text alone (a 500
// unless it names one of Vault's own errors), so an Alibaba Cloud outage
// would reach clients as an internal error of Vault. httpStatusBackend
// answers a client's request that failed with an *upstreamError with that
// error's own status instead: a raw response whose body is Vault's error
// form ({"errors": [...]}), which Vault's API client and CLI read like any
// other error. Lease renewals and revocations, the rollback and the
// periodic function keep their errors: Vault retries those itself.
type httpStatusBackend struct{ *backend }

// HandleRequest implements logical.Backend.
func (h httpStatusBackend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	resp, err := h.backend.HandleRequest(ctx, req)
	var ue *upstreamError
	if err == nil || !errors.As(err, &ue) {
		return resp, err
	}
	switch req.Operation {
	case logical.CreateOperation, logical.ReadOperation, logical.UpdateOperation, logical.PatchOperation,
		logical.DeleteOperation, logical.ListOperation:
		return statusResponse(ue.code, err.Error()), nil
	}
	return resp, err
}

// statusResponse is a raw response with the given status and an error
// body in Vault's form.
func statusResponse(code int, msg string) *logical.Response {
	body, _ := json.Marshal(map[string][]string{"errors": {msg}})
	return &logical.Response{Data: map[string]interface{}{
		logical.HTTPStatusCode:  code,
		logical.HTTPContentType: "application/json",
		logical.HTTPRawBody:     string(body),
	}}
}
