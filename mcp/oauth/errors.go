package oauth

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a refused bearer token as RFC 6750 §3.1 words it: the HTTP
// status, the error code of the WWW-Authenticate challenge and a
// description safe to show the caller (it never holds the token).
type Error struct {
	Status int
	// Code is "invalid_token" (401) or "insufficient_scope" (403); ""
	// for a request that carried no token, which gets a bare challenge.
	Code        string
	Description string
	// Scope lists the scopes that would have been enough, for the
	// challenge's scope parameter.
	Scope []string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Description
	}
	return e.Code + ": " + e.Description
}

// InvalidToken is a 401 with error="invalid_token".
func InvalidToken(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: fmt.Sprintf(format, args...)}
}

// InsufficientScope is a 403 with error="insufficient_scope" naming the
// scopes that would do.
func InsufficientScope(scope []string, format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Description: fmt.Sprintf(format, args...), Scope: scope}
}

// AsError finds the *Error in err's chain, or makes err an invalid_token
// one.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return InvalidToken("%v", err)
}
