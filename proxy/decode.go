package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The extended protocol's Parse, Bind and Execute arrive at every
// transaction of a driver that binds parameters. pgproto3 decodes them
// into fresh strings and slices each time (a Bind's format codes and
// parameters, a Parse's name and text, an Execute's portal name): several
// allocations per transaction for nothing, since the session's reused
// messages (frontendMessages) are valid only until the next receive
// anyway. decodeFrontend decodes those three in place instead, keeping
// the slices' arrays from message to message and a string whose bytes
// did not change since the previous message of its kind (a driver sends
// the same statement text and names again and again); the rest go
// through pgproto3. What it accepts and refuses is pgproto3's. A decoded
// slice is therefore overwritten by the next message of its kind: whoever
// keeps one copies it.

// errBadMessage is a frontend message whose body does not parse.
var errBadMessage = errors.New("invalid message format")

// decodeFrontend decodes body into msg, a reused message.
func decodeFrontend(msg pgproto3.FrontendMessage, body []byte) error {
	switch m := msg.(type) {
	case *pgproto3.Bind:
		return decodeBind(m, body)
	case *pgproto3.Parse:
		return decodeParse(m, body)
	case *pgproto3.Execute:
		return decodeExecute(m, body)
	}
	return msg.Decode(body)
}

// sameString is b as a string, old itself when it has the same bytes.
func sameString(old string, b []byte) string {
	if old == string(b) { // compared without a conversion
		return old
	}
	return string(b)
}

// cstring splits a NUL-terminated string off the front of src.
func cstring(src []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(src, 0)
	if i < 0 {
		return nil, nil, false
	}
	return src[:i], src[i+1:], true
}

// cstrings splits two NUL-terminated strings off the front of src, as a
// Parse and a Bind begin.
func cstrings(src []byte) (a, b, rest []byte, ok bool) {
	if a, rest, ok = cstring(src); ok {
		b, rest, ok = cstring(rest)
	}
	return a, b, rest, ok
}

func decodeExecute(m *pgproto3.Execute, src []byte) error {
	portal, rest, ok := cstring(src)
	if !ok || len(rest) < 4 {
		return errBadMessage
	}
	m.Portal = sameString(m.Portal, portal)
	m.MaxRows = binary.BigEndian.Uint32(rest)
	return nil
}

func decodeParse(m *pgproto3.Parse, src []byte) error {
	name, query, rest, ok := cstrings(src)
	if !ok || len(rest) < 2 {
		return errBadMessage
	}
	m.Name = sameString(m.Name, name)
	m.Query = sameString(m.Query, query)
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < 4*n {
		return errBadMessage
	}
	m.ParameterOIDs = m.ParameterOIDs[:0]
	for i := range n {
		m.ParameterOIDs = append(m.ParameterOIDs, binary.BigEndian.Uint32(rest[4*i:]))
	}
	return nil
}

func decodeBind(m *pgproto3.Bind, src []byte) error {
	portal, stmt, rest, ok := cstrings(src)
	if !ok {
		return errBadMessage
	}
	m.DestinationPortal = sameString(m.DestinationPortal, portal)
	m.PreparedStatement = sameString(m.PreparedStatement, stmt)
	var err error
	if m.ParameterFormatCodes, rest, err = formatCodes(m.ParameterFormatCodes, rest); err != nil {
		return err
	}
	if m.Parameters, rest, err = bindParameters(m.Parameters, rest); err != nil {
		return err
	}
	m.ResultFormatCodes, _, err = formatCodes(m.ResultFormatCodes, rest)
	return err
}

// formatCodes reads a count and that many format codes into codes'
// array.
func formatCodes(codes []int16, src []byte) ([]int16, []byte, error) {
	if len(src) < 2 {
		return nil, nil, errBadMessage
	}
	n := int(binary.BigEndian.Uint16(src))
	src = src[2:]
	if len(src) < 2*n {
		return nil, nil, errBadMessage
	}
	codes = codes[:0]
	for i := range n {
		codes = append(codes, int16(binary.BigEndian.Uint16(src[2*i:])))
	}
	return codes, src[2*n:], nil
}

// bindParameters reads a Bind's parameter values, which point into src
// (nil for SQL NULL), into params' array.
func bindParameters(params [][]byte, src []byte) ([][]byte, []byte, error) {
	if len(src) < 2 {
		return nil, nil, errBadMessage
	}
	n := int(binary.BigEndian.Uint16(src))
	src = src[2:]
	params = params[:0]
	for range n {
		if len(src) < 4 {
			return nil, nil, errBadMessage
		}
		size := int(int32(binary.BigEndian.Uint32(src)))
		src = src[4:]
		if size == -1 {
			params = append(params, nil)
			continue
		}
		if size < 0 || len(src) < size {
			return nil, nil, errBadMessage
		}
		params = append(params, src[:size:size])
		src = src[size:]
	}
	return params, src, nil
}
