package proxy

import (
	"bytes"
	"math"
	"math/big"
	"math/bits"

	"github.com/jackc/pgx/v5/pgtype"
)

// numericBox is a small numeric's big.Int and its one word in one
// allocation.
type numericBox struct {
	n big.Int
	w [1]big.Word
}

// decodeSmallNumeric decodes the text form of a numeric the way pgx's
// NumericCodec does (the digits without the point as Int, the point's
// place as Exp; without a point, trailing zeros move into Exp), for the
// common value of at most 18 digits, in one allocation instead of pgx's
// half a dozen (a scan plan, a reader, the big.Int and its words). ok is
// false for anything else (NaN, infinities, long values, malformed
// text), which pgx then decodes.
func decodeSmallNumeric(src []byte) (pgtype.Numeric, bool) {
	d, neg := src, false
	if len(d) > 0 && d[0] == '-' {
		d, neg = d[1:], true
	}
	if len(d) == 0 || len(d) > 19 {
		return pgtype.Numeric{}, false
	}
	var exp int32
	point := bytes.IndexByte(d, '.')
	switch {
	case point < 0:
		for len(d) > 1 && d[len(d)-1] == '0' {
			d, exp = d[:len(d)-1], exp+1
		}
	case point == 0 || point == len(d)-1:
		return pgtype.Numeric{}, false // ".5", "5.": pgx's
	default:
		exp = -int32(len(d) - point - 1)
	}
	var v uint64
	n := 0
	for i, c := range d {
		switch {
		case c >= '0' && c <= '9':
			v = v*10 + uint64(c-'0')
			n++
		case i != point:
			return pgtype.Numeric{}, false
		}
	}
	if n > 18 || bits.UintSize == 32 && v > math.MaxUint32 {
		return pgtype.Numeric{}, false
	}
	box := &numericBox{}
	box.w[0] = big.Word(v)
	box.n.SetBits(box.w[:])
	if neg {
		box.n.Neg(&box.n)
	}
	return pgtype.Numeric{Int: &box.n, Exp: exp, Valid: true}, true
}
