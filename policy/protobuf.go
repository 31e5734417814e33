package policy

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// errMalformedTree reports protobuf bytes the walker cannot read; the engine denies.
var errMalformedTree = errors.New("malformed parse tree")

// pbField is one decoded field of a protobuf message: its number, and
// either its varint value or its length-delimited bytes.
type pbField struct {
	num   int32
	typ   protowire.Type
	u     uint64
	bytes []byte
}

// nextField decodes the field at the start of b and returns it together
// with the remaining bytes.
func nextField(b []byte) (pbField, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return pbField{}, nil, errMalformedTree
	}
	b = b[n:]
	f := pbField{num: int32(num), typ: typ}
	switch typ {
	case protowire.VarintType:
		f.u, n = protowire.ConsumeVarint(b)
	case protowire.BytesType:
		f.bytes, n = protowire.ConsumeBytes(b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(b)
		f.u = uint64(v)
	case protowire.Fixed64Type:
		f.u, n = protowire.ConsumeFixed64(b)
	default:
		return pbField{}, nil, errMalformedTree
	}
	if n < 0 {
		return pbField{}, nil, errMalformedTree
	}
	return f, b[n:], nil
}

// eachField calls fn for every field of the message encoded in b, stopping
// at the first error.
func eachField(b []byte, fn func(f pbField) error) error {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

// findBytes returns the last occurrence of length-delimited field num in b
// (protobuf's rule for a repeated singular field), or nil.
func findBytes(b []byte, num int32) ([]byte, bool) {
	var out []byte
	found := false
	err := eachField(b, func(f pbField) error {
		if f.num == num && f.typ == protowire.BytesType {
			out, found = f.bytes, true
		}
		return nil
	})
	return out, found && err == nil
}

// findVarint returns varint field num of b, or 0.
func findVarint(b []byte, num int32) uint64 {
	var out uint64
	_ = eachField(b, func(f pbField) error {
		if f.num == num && f.typ == protowire.VarintType {
			out = f.u
		}
		return nil
	})
	return out
}

// allBytes returns every occurrence of repeated length-delimited field num.
func allBytes(b []byte, num int32) [][]byte {
	var out [][]byte
	_ = eachField(b, func(f pbField) error {
		if f.num == num && f.typ == protowire.BytesType {
			out = append(out, f.bytes)
		}
		return nil
	})
	return out
}
