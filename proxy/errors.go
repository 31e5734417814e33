package proxy

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// SQLSTATEs pgmoat itself answers with (the README lists them under Contracts).
const (
	codeDenied          = policy.SQLStateDenied             // insufficient_privilege: policy denial
	codeTooManyConns    = policy.SQLStateTooManyConnections // too_many_connections: pool, max_client_conn or max_startups
	codeProtocol        = "08P01"                           // protocol_violation
	codeConnFailure     = "08006"                           // connection_failure: backend lost
	codeAuthFailed      = "28P01"                           // invalid_password
	codeInvalidAuth     = "28000"                           // invalid_authorization_specification
	codeNoDatabase      = "3D000"                           // invalid_catalog_name
	codeDupStatement    = "42P05"                           // duplicate_prepared_statement
	codeNoStatement     = "26000"                           // invalid_sql_statement_name
	codeDupCursor       = "42P03"                           // duplicate_cursor: a portal name in use
	codeNoPortal        = "34000"                           // invalid_cursor_name: a portal the client did not bind
	codeInFailedTx      = "25P02"                           // in_failed_sql_transaction
	codeNotInState      = "55000"                           // object_not_in_prerequisite_state
	codeAdminShutdown   = "57P01"                           // admin_shutdown
	codeQueryCanceled   = "57014"                           // query_canceled
	codeFeatureNotSupp  = "0A000"                           // feature_not_supported
	codeCantConnectNow  = "57P03"                           // cannot_connect_now
	codeConfigFileError = "F0000"
	codeInvalidParam    = "22023" // invalid_parameter_value: a startup client_encoding
)

// wireError is an error destined for a client as an ErrorResponse.
type wireError struct {
	severity string // ERROR or FATAL
	code     string
	message  string
	detail   string
	hint     string
}

func (e *wireError) Error() string { return e.message }

func (e *wireError) response() *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity:            e.severity,
		SeverityUnlocalized: e.severity,
		Code:                e.code,
		Message:             e.message,
		Detail:              e.detail,
		Hint:                e.hint,
	}
}

func errorf(code, message string) *wireError {
	return &wireError{severity: "ERROR", code: code, message: message}
}

func fatalf(code, message string) *wireError {
	return &wireError{severity: "FATAL", code: code, message: message}
}

// denied turns a policy verdict into the client's error.
func denied(e *policy.Error) *wireError {
	return &wireError{severity: "ERROR", code: e.SQLState, message: e.Message}
}

// toWire maps an internal failure to what the client sees.
func toWire(err error) *wireError {
	var we *wireError
	if errors.As(err, &we) {
		return we
	}
	var ie *InjectionError
	var be *BackendError
	var ue *UnsafeRoleError
	var nh *NoHostError
	switch {
	case errors.As(err, &nh):
		return errorf(codeConnFailure, nh.Error())
	case errors.As(err, &ue):
		return errorf(codeConnFailure, ue.Error())
	case errors.Is(err, ErrPoolExhausted):
		return errorf(codeTooManyConns, err.Error())
	case errors.Is(err, ErrPoolClosed):
		return fatalf(codeAdminShutdown, err.Error())
	case errors.As(err, &ie) && ie.Refused != nil:
		// The client's own startup parameters (TimeZone, DateStyle, ...)
		// were refused: no backend will take them, so the session ends,
		// as PostgreSQL ends a connection with a bad parameter.
		return fatalf(ie.Refused.Code, "pgmoat: settings.refused: the server refused this connection's settings: "+
			ie.Refused.Message+"; fix the startup parameters (connection options, PGTZ, PGDATESTYLE, ...) and reconnect")
	case errors.As(err, &ie):
		return errorf(codeConnFailure, ie.Error())
	case errors.As(err, &be):
		return errorf(codeConnFailure, be.Error()+"; check backend.dsn and that PostgreSQL is up")
	}
	return errorf(codeConnFailure, "pgmoat: internal: "+err.Error())
}

// isInternal reports whether toWire had no better name for err than
// "internal": a bug of pgmoat's, worth a stack in the log.
func isInternal(w *wireError) bool { return strings.HasPrefix(w.message, "pgmoat: internal: ") }
