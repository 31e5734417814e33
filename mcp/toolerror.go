package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/policy"
)

// errorResult is a failed call as the model sees it: isError with one text
// that says what to do instead. Never a protocol error, never SQL, never a
// stack trace.
func errorResult(msg string) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: msg}}}
}

// advice turns a failure of a table call into the tool error text: what
// to do instead.
func advice(spec *ToolSpec, err error) string {
	var ae *argError
	var pe *policy.Error
	var se *staleError
	var oe *oversizedRow
	switch {
	case errors.As(err, &ae):
		return ae.msg
	case errors.As(err, &oe):
		return oe.advice(spec)
	case errors.As(err, &pe):
		return pe.Message
	case errors.As(err, &se):
		return fmt.Sprintf("%s: %s; the schema changed. The tool list is being refreshed: list the tools again and retry.", spec.Name, se.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "The call was cancelled before the database answered."
	}
	if de, ok := asDBError(err); ok {
		return adviceDB(spec, de)
	}
	return "pgmoat: internal error while running the query; try again, and report it if it persists."
}

func adviceDB(spec *ToolSpec, de *DBError) string {
	switch {
	case de.Unavailable:
		return "The database is unavailable right now. Try again in a moment; nothing about the call needs to change."
	case de.SQLState == stateTimeout:
		return fmt.Sprintf("The query took longer than the statement timeout and was cancelled. Narrow it: add a more selective filter (%s) or a smaller limit.", filterNames(spec))
	case de.SQLState == stateTooManyConns:
		return "pgmoat is busy: every database connection is in use. Retry in a moment."
	case de.SQLState == stateAdminShutdown:
		return "The database is shutting down or restarting. Try again shortly."
	case de.SQLState == stateUndefinedTab, de.SQLState == stateUndefinedCol, de.SQLState == stateUndefinedObj:
		return fmt.Sprintf("%s refers to a table or column that no longer exists: the schema changed. The tool list is being refreshed; list the tools again.", spec.Name)
	case strings.HasPrefix(de.SQLState, "22"):
		return fmt.Sprintf("A value was not valid for its column type (SQLSTATE %s). Check each filter against the types in the tool's input schema.", de.SQLState)
	case strings.HasPrefix(de.SQLState, "08"):
		return "The connection to the database was lost. Try again in a moment."
	}
	return fmt.Sprintf("The database refused the query (SQLSTATE %s). Try different filters; if this persists, report it.", de.SQLState)
}
