package proxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The startup packet is read here rather than by pgproto3, which knows
// protocols 3.0 and 3.2 only and refuses any other version as a
// malformed packet. PostgreSQL 15 (ProcessStartupPacket) takes any 3.x:
// a client asking for a newer minor version, or sending _pq_. options,
// is told the newest it supports, 3.0, and the options it does not know,
// in the order sent (NegotiateProtocolVersion), before authentication,
// and the login goes on in 3.0. Another major version is refused with
// 0A000. pgmoat speaks 3.0 the same way: a 3.2 client gets a 4-byte
// cancel key, as from PostgreSQL 15.

// startupPacket is one packet read before the startup message's answer.
type startupPacket struct {
	// msg is an SSLRequest, GSSEncRequest, CancelRequest or a
	// StartupMessage, the latter always of protocol 3.0.
	msg pgproto3.FrontendMessage
	// minor is the minor version the client asked for.
	minor uint16
	// unknownPQ are the _pq_. options of a startup message, in order.
	unknownPQ []string
}

const (
	maxStartupPacket = 10000 // pgproto3's and PostgreSQL's bound
	sslRequestCode   = 80877103
	gssEncCode       = 80877104
	cancelCode       = 80877102
)

// readStartupPacket reads one packet from r (a startupReader, which
// never hands over more than the packet). io.EOF is a connection closed
// before its first byte.
func readStartupPacket(r io.Reader) (startupPacket, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return startupPacket{}, fatalf(codeProtocol, "pgmoat: protocol.startup: invalid startup packet: incomplete startup packet")
		}
		return startupPacket{}, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:]))) - 4
	if n < 4 || n > maxStartupPacket {
		return startupPacket{}, fatalf(codeProtocol, fmt.Sprintf("pgmoat: protocol.startup: invalid startup packet: invalid length of startup packet: %d", n))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return startupPacket{}, fatalf(codeProtocol, "pgmoat: protocol.startup: invalid startup packet: incomplete startup packet")
	}
	code := binary.BigEndian.Uint32(body)
	var msg pgproto3.FrontendMessage
	switch code {
	case sslRequestCode:
		msg = &pgproto3.SSLRequest{}
	case gssEncCode:
		msg = &pgproto3.GSSEncRequest{}
	case cancelCode:
		msg = &pgproto3.CancelRequest{}
	default:
		return readStartupMessage(code, body)
	}
	if err := msg.Decode(body); err != nil {
		return startupPacket{}, fatalf(codeProtocol, "pgmoat: protocol.startup: invalid startup packet: "+err.Error())
	}
	return startupPacket{msg: msg}, nil
}

// readStartupMessage decodes a startup message of protocol version
// code as one of 3.0, after checking the major version.
func readStartupMessage(code uint32, body []byte) (startupPacket, error) {
	major, minor := uint16(code>>16), uint16(code)
	if major != 3 {
		return startupPacket{}, &unsupportedProtocol{major: major, minor: minor}
	}
	binary.BigEndian.PutUint32(body, pgproto3.ProtocolVersion30)
	m := &pgproto3.StartupMessage{}
	if err := m.Decode(body); err != nil {
		return startupPacket{}, fatalf(codeProtocol, "pgmoat: protocol.startup: invalid startup packet: "+err.Error())
	}
	return startupPacket{msg: m, minor: minor, unknownPQ: pqOptions(body[4:])}, nil
}

// pqOptions are the names of the _pq_. options of a startup message's
// parameters, in the order they come.
func pqOptions(params []byte) []string {
	var out []string
	fields := bytes.Split(params, []byte{0})
	for i := 0; i+1 < len(fields); i += 2 {
		if name := string(fields[i]); len(name) > 5 && name[:5] == "_pq_." {
			out = append(out, name)
		}
	}
	return out
}

// negotiation is the NegotiateProtocolVersion PostgreSQL 15 sends for p,
// or nil when the client asked for 3.0 and no _pq_. option. Its first
// field is PostgreSQL's PG_PROTOCOL_LATEST, 3.0 in full.
func (p startupPacket) negotiation() *pgproto3.NegotiateProtocolVersion {
	if p.minor == 0 && len(p.unknownPQ) == 0 {
		return nil
	}
	return &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: pgproto3.ProtocolVersion30, UnrecognizedOptions: p.unknownPQ}
}

// unsupportedProtocol is a startup packet of a major version other than
// 3, refused as PostgreSQL refuses it.
type unsupportedProtocol struct{ major, minor uint16 }

func (u *unsupportedProtocol) Error() string {
	return fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", u.major, u.minor)
}

// refusal is the error written to the client: FATAL 0A000 naming the
// rule, or, to a client of protocol 2 or older, PostgreSQL's old error
// format (an 'E' and a NUL-terminated text), the only one it reads.
func (u *unsupportedProtocol) refusal() []byte {
	if u.major < 3 {
		return append(append([]byte{'E'}, "FATAL:  "+u.Error()+"\n"...), 0)
	}
	buf, _ := fatalf(codeFeatureNotSupp, "pgmoat: protocol.startup: "+u.Error()).response().Encode(nil)
	return buf
}
