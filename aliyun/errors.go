package aliyun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Error is an error answered by an Alibaba Cloud API: a non-2xx response
// with the service's error body. It never carries a secret: messages that
// echo signed material are cut before that material.
type Error struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the service's error code, for example "EntityNotExist.User".
	Code string
	// Message is the service's message.
	Message string
	// RequestID identifies the request for Alibaba Cloud support.
	RequestID string
	// HostID is the endpoint host that answered.
	HostID string
	// Recommend is the service's troubleshooting link, when given.
	Recommend string
	// Product and Action name the call that failed, for example "ram" and "CreateUser".
	Product, Action string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("aliyun: ")
	if e.Product != "" {
		b.WriteString(e.Product)
		b.WriteByte(' ')
	}
	if e.Action != "" {
		b.WriteString(e.Action)
		b.WriteString(": ")
	}
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("error")
	}
	fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (RequestId: ")
		b.WriteString(e.RequestID)
		b.WriteByte(')')
	}
	return b.String()
}

// ErrorCode returns the service error code of err, or "" when err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// RequestID returns the RequestId of err, or "" when err is not an *Error.
func RequestID(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.RequestID
	}
	return ""
}

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsEntityNotExist reports whether Alibaba Cloud said that the entity the
// call was about does not exist (EntityNotExist.*, for example
// EntityNotExist.User). It is the only error that means "already gone":
// InvalidAccessKeyId.NotFound is about the caller's own key, and an HTTP 404
// without an Alibaba code comes from something that is not the API (a wrong
// endpoint, a proxy), so neither says anything about the target.
func IsEntityNotExist(err error) bool {
	e, ok := asError(err)
	return ok && strings.HasPrefix(e.Code, "EntityNotExist")
}

// MayHaveApplied reports whether a failed call may nonetheless have been
// carried out by the service: its answer was lost (a transport error after
// the request may have been sent, a timeout), or the service or a proxy in
// front of it failed with a 5xx. A create that failed this way may have
// created its entity. Answers that say the request was refused
// (throttling, parameter, permission, conflict, not-found errors) and
// failures to connect at all are not.
func MayHaveApplied(err error) bool {
	if err == nil {
		return false
	}
	var ne *NetworkError
	if errors.As(err, &ne) {
		return !ne.notSent()
	}
	if e, ok := asError(err); ok {
		return e.StatusCode >= 500 && !IsThrottling(err)
	}
	// The context ended, or something else failed while the request may
	// have been on its way.
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// IsThrottling reports whether err is a throttling error (Throttling, Throttling.User, Throttling.Api, ...).
func IsThrottling(err error) bool {
	e, ok := asError(err)
	if !ok {
		return false
	}
	return strings.HasPrefix(e.Code, "Throttling") || e.Code == "Rejected.Throttling" || e.StatusCode == http.StatusTooManyRequests
}

// IsConflict reports whether err is a conflict: the entity already exists or
// cannot be deleted while something still refers to it.
func IsConflict(err error) bool {
	e, ok := asError(err)
	if !ok {
		return false
	}
	return strings.HasPrefix(e.Code, "EntityAlreadyExists") || strings.HasPrefix(e.Code, "DeleteConflict")
}

// IsAlreadyExists reports whether err is an EntityAlreadyExists.* error.
func IsAlreadyExists(err error) bool {
	e, ok := asError(err)
	return ok && strings.HasPrefix(e.Code, "EntityAlreadyExists")
}

// IsLimitExceeded reports whether err is a LimitExceeded.* error (for example
// a RAM user that already holds two AccessKeys).
func IsLimitExceeded(err error) bool {
	e, ok := asError(err)
	return ok && strings.HasPrefix(e.Code, "LimitExceeded")
}

// IsAccessDenied reports whether err says the caller is not allowed to do
// the action (NoPermission, Forbidden.*, AuthenticationFail.NoPermission).
func IsAccessDenied(err error) bool {
	e, ok := asError(err)
	if !ok {
		return false
	}
	return e.Code == "NoPermission" || strings.HasPrefix(e.Code, "Forbidden") ||
		e.Code == "AuthenticationFail.NoPermission" || e.Code == "NotAuthorized"
}

// IsAuthFailure reports whether err says the request's credentials were not
// accepted: an unknown, disabled or mismatched key, a bad signature, or an
// expired or malformed security token.
func IsAuthFailure(err error) bool {
	e, ok := asError(err)
	if !ok {
		return false
	}
	return strings.HasPrefix(e.Code, "InvalidAccessKeyId") || strings.HasPrefix(e.Code, "InvalidSecurityToken") ||
		e.Code == "SignatureDoesNotMatch" || e.Code == "IncompleteSignature" || e.Code == "MissingSecurityToken"
}

// IsRetryable reports whether a call that failed with err may succeed when
// sent again, re-signed: throttling, ServiceUnavailable, InternalError or
// another 5xx, a reused nonce, and network errors. Parameter, signature,
// permission, Entity*, LimitExceeded* and DeleteConflict* errors are final.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := asError(err); ok {
		switch {
		case IsThrottling(err):
			return true
		case e.Code == "ServiceUnavailable" || e.Code == "InternalError" || e.Code == "SignatureNonceUsed":
			return true
		case strings.HasPrefix(e.Code, "Entity") || strings.HasPrefix(e.Code, "LimitExceeded") ||
			strings.HasPrefix(e.Code, "DeleteConflict") || strings.HasPrefix(e.Code, "InvalidParameter"):
			return false
		case e.StatusCode >= 500:
			return true
		}
		return false
	}
	var ne *NetworkError
	return errors.As(err, &ne)
}

// NetworkError is a transport failure: the request may not have reached the
// service, or its answer was lost. Its text names the endpoint host, never
// the request's parameters.
type NetworkError struct {
	Product, Action, Host string
	Err                   error
}

// Error implements error.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("aliyun: %s %s: request to %s failed: %v", e.Product, e.Action, e.Host, e.Err)
}

// Unwrap returns the underlying transport error.
func (e *NetworkError) Unwrap() error { return e.Err }

// notSent reports whether the request never left: the connection could not
// be made (refused, unreachable, a name that does not resolve).
func (e *NetworkError) notSent() bool {
	var op *net.OpError
	if errors.As(e.Err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(e.Err, &dns)
}

// stringToSignMarker precedes the server's string to sign in a
// SignatureDoesNotMatch message; that string holds the security token when
// STS credentials signed the request, so it is cut from messages.
const stringToSignMarker = "server string to sign is:"

// scrubMessage removes signed material and any of the given secrets from a
// service message.
func scrubMessage(msg string, secrets ...string) string {
	if i := strings.Index(msg, stringToSignMarker); i >= 0 {
		msg = strings.TrimSpace(msg[:i]) + " (server string to sign omitted)"
	}
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			msg = strings.ReplaceAll(msg, PercentEncode(s), "[redacted]")
		}
	}
	return msg
}
