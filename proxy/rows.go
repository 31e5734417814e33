package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

// errRowShape is a DataRow whose lengths do not add up.
var errRowShape = errors.New("backend sent a malformed data row")

// rowBudget is what the Executor may still keep of one result, in bytes
// of the values' text forms. Owned by the call reading the result.
type rowBudget struct {
	limit int // 0: no limit
	used  int
	// full is set once a row did not fit (or was kept cut): no row
	// after it is kept.
	full bool
}

func newRowBudget(limit int) *rowBudget { return &rowBudget{limit: max(limit, 0)} }

// left is how many bytes may still be kept; -1 without a limit.
func (b *rowBudget) left() int {
	if b.limit == 0 {
		return -1
	}
	return max(b.limit-b.used, 0)
}

// fits reports whether n more bytes may be kept.
func (b *rowBudget) fits(n int) bool { return b.limit == 0 || b.used+n <= b.limit }

// readRows reads DataRows up to ReadyForQuery, decoding text values and
// keeping what budget allows; the rest is read and dropped, a large row
// piece by piece. The first CommandComplete is the per-transaction
// settings': an error before it means they are not in force, and the
// backend is not reused. A guarded setting reported changed discards the
// backend too.
func (x *Executor) readRows(bk *backend, info *stmtInfo, res *Result, want settings, budget *rowBudget) error {
	types := bk.codecs()
	injected := false
	var firstErr error
	for {
		typ, body, big, err := bk.rd.nextSmall()
		if err != nil {
			bk.broken.Store(true)
			return err
		}
		switch {
		case typ == 'D' && firstErr == nil:
			src := &rowReader{body: body, rd: bk.rd, left: len(body)}
			if big > 0 {
				src.body, src.left = nil, big
			} else {
				src.rd = nil
			}
			firstErr = keepRow(types, info.fields, src, res, budget)
			if derr := src.drain(); derr != nil {
				bk.broken.Store(true)
				return derr
			}
		case big > 0:
			if err := bk.rd.discard(big); err != nil {
				bk.broken.Store(true)
				return err
			}
		case typ == 'E':
			if firstErr == nil {
				firstErr = pgError(body)
			}
		case typ == 'Z':
			bk.ready(body)
			if firstErr != nil && !injected {
				bk.broken.Store(true)
			}
			return firstErr
		case typ == 'C':
			injected = true
		case typ == 'S' && firstErr == nil:
			if e := tamperedReport(bk, want, body); e != nil {
				bk.broken.Store(true)
				firstErr = e
			}
		}
	}
}

// keepRow decodes one DataRow into res as far as budget allows.
func keepRow(types *pgtype.Map, fields []pgproto3.FieldDescription, src *rowReader, res *Result, budget *rowBudget) error {
	if budget.full {
		res.Truncated = true
		return nil
	}
	first := len(res.Rows) == 0
	whole := budget.fits(src.left)
	if !whole && !first {
		budget.full, res.Truncated = true, true
		return nil
	}
	row, cut, err := decodeRow(types, src, fields, budget, whole, res.newRow(len(fields)))
	if err != nil {
		return err
	}
	for _, c := range cut {
		res.Cut = append(res.Cut, CutValue{Row: len(res.Rows), Column: c, Size: src.sizes[c]})
	}
	if len(cut) > 0 {
		budget.full = true
	}
	res.Rows = append(res.Rows, row)
	return nil
}

// decodeRow decodes a DataRow's values. Unless whole (the row fits the
// budget), a value longer than what the budget has left is skipped
// unread and its column reported in cut.
func decodeRow(types *pgtype.Map, src *rowReader, fields []pgproto3.FieldDescription, budget *rowBudget, whole bool, row []any) ([]any, []int, error) {
	var cut []int
	head, err := src.take(2)
	if err != nil {
		return nil, nil, err
	}
	if int(binary.BigEndian.Uint16(head)) != len(fields) {
		return nil, nil, errors.New("row has a different number of columns than its description")
	}
	for i := range fields {
		lb, err := src.take(4)
		if err != nil {
			return nil, nil, err
		}
		n := int(int32(binary.BigEndian.Uint32(lb)))
		if n < 0 {
			continue // NULL
		}
		if !whole && budget.left() >= 0 && n > budget.left() {
			if err := src.skip(n); err != nil {
				return nil, nil, err
			}
			src.noteSize(len(fields), i, n)
			cut = append(cut, i)
			continue
		}
		raw, err := src.take(n)
		if err != nil {
			return nil, nil, err
		}
		budget.used += n
		if row[i], err = decodeValue(types, fields[i], raw); err != nil {
			return nil, nil, err
		}
	}
	return row, cut, nil
}

// decodeValue decodes one text-format value of field's type.
func decodeValue(types *pgtype.Map, field pgproto3.FieldDescription, raw []byte) (any, error) {
	oid := field.DataTypeOID
	t, ok := types.TypeForOID(oid)
	if !ok {
		return string(raw), nil // unknown type: its text form
	}
	if _, numeric := t.Codec.(pgtype.NumericCodec); numeric {
		if n, ok := decodeSmallNumeric(raw); ok {
			return n, nil
		}
	}
	v, err := t.Codec.DecodeValue(types, oid, pgtype.TextFormatCode, raw)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", field.Name, err)
	}
	return v, nil
}

// rowReader reads one DataRow body, from memory (body) or, for a large
// row, straight from the backend (rd). left counts the body bytes not
// read yet; drain skips them, so the backend stays in step whatever
// decoding made of the row.
type rowReader struct {
	body []byte
	rd   *rawReader
	left int
	// sizes holds the lengths of skipped values, by column.
	sizes []int
}

// take returns the next n bytes; from the backend they are a copy of
// their own, from memory they alias the body.
func (r *rowReader) take(n int) ([]byte, error) {
	if n > r.left {
		return nil, errRowShape
	}
	r.left -= n
	if r.rd == nil {
		b := r.body[:n]
		r.body = r.body[n:]
		return b, nil
	}
	b := make([]byte, n)
	return b, r.rd.readFull(b)
}

// skip passes over the next n bytes.
func (r *rowReader) skip(n int) error {
	if n > r.left {
		return errRowShape
	}
	r.left -= n
	if r.rd == nil {
		r.body = r.body[n:]
		return nil
	}
	return r.rd.discard(n)
}

func (r *rowReader) noteSize(cols, i, n int) {
	if r.sizes == nil {
		r.sizes = make([]int, cols)
	}
	r.sizes[i] = n
}

// drain reads what is left of the row. Only a failed read is an error:
// the backend's stream is then out of step.
func (r *rowReader) drain() error {
	if r.left == 0 {
		return nil
	}
	n := r.left
	r.left = 0
	if r.rd == nil {
		return nil
	}
	return r.rd.discard(n)
}

// rowSlab is how many rows' values newRow allocates at once.
const rowSlab = 16

// newRow returns a row of n nil values, carved from a slab shared with
// the next rows: one allocation per rowSlab rows instead of one per row.
// Rows are never grown, so a full slice expression keeps each in its
// own part of the slab.
func (r *Result) newRow(n int) []any {
	if len(r.slab) < n {
		r.slab = make([]any, n*rowSlab)
	}
	row := r.slab[:n:n]
	r.slab = r.slab[n:]
	return row
}
