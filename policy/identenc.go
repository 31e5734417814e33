package policy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// RuleIdentifierEncoding denies a name whose cut to 63 bytes the engine
// cannot follow in the server's encoding: a character the encoding lacks
// (the server refuses the text), a cut inside a character (SQL_ASCII),
// or a long name in an encoding whose byte lengths the engine does not
// know.
const RuleIdentifierEncoding = "identifier.encoding"

// maxIdentBytes is NAMEDATALEN-1: PostgreSQL keeps this many bytes of an
// identifier, measured in the database's encoding, cut on a character
// boundary (truncate_identifier, pg_mbcliplen).
const maxIdentBytes = 63

// EncodingCatalog is implemented by online catalogs that know the
// database's server_encoding. The text reaches the server in UTF-8 and
// is converted to that encoding before it is lexed, so an identifier is
// cut to 63 bytes of it: 40 'é' are 80 bytes of UTF-8 and kept whole in
// LATIN1, where the parser (UTF-8) keeps 31. Without it names are cut as
// UTF-8.
type EncodingCatalog interface {
	ServerEncoding() string
}

// identEncoding measures characters in one server encoding.
type identEncoding struct {
	name string
	// width is the bytes r takes in the encoding, 0 when it has none.
	// Nil for UTF8 and SQL_ASCII, which need no conversion, and for
	// encodings the engine cannot measure.
	width func(r rune) int
	// known is false for an encoding whose widths the engine lacks.
	known bool
	// foldsHigh says the server lowercases non-ASCII letters of
	// unquoted names by the database's locale (foldsHighBytes).
	foldsHigh bool
}

// encodingOf is the identifier encoding of fc, nil when names are cut as
// UTF-8 (offline, or a UTF8 database).
func encodingOf(fc FunctionCatalog) *identEncoding {
	ec, ok := fc.(EncodingCatalog)
	if !ok {
		return nil
	}
	e := lookupEncoding(ec.ServerEncoding())
	if e != nil {
		if cc, ok := fc.(CTypeCatalog); ok {
			e.foldsHigh = foldsHighBytes(e.name, cc.ServerCType())
		}
	}
	return e
}

// CTypeCatalog is implemented by online catalogs that know the
// database's lc_ctype.
type CTypeCatalog interface {
	ServerCType() string
}

// foldsHighBytes says whether the server lowercases non-ASCII letters of
// unquoted names: it does in a single-byte encoding (downcase_identifier
// calls tolower on each byte with the high bit set) under any locale but
// C or POSIX, by tables of that locale the engine does not have.
func foldsHighBytes(encoding, ctype string) bool {
	switch ctype {
	case "", "C", "POSIX", "C.UTF-8", "C.utf8":
		return false
	}
	switch {
	case encoding == "SQL_ASCII", strings.HasPrefix(encoding, "LATIN"), strings.HasPrefix(encoding, "WIN"),
		strings.HasPrefix(encoding, "KOI8"), strings.HasPrefix(encoding, "ISO_8859"):
		return true
	}
	return false
}

// lookupEncoding knows the server encodings PostgreSQL allows.
func lookupEncoding(name string) *identEncoding {
	switch name {
	case "", "UTF8":
		return nil
	case "SQL_ASCII":
		return &identEncoding{name: name, known: true}
	}
	if cm, ok := singleByte[name]; ok {
		return &identEncoding{name: name, known: true, width: func(r rune) int {
			if _, ok := cm.EncodeRune(r); ok {
				return 1
			}
			return 0
		}}
	}
	if m, ok := multiByte[name]; ok {
		return &identEncoding{name: name, known: true, width: m.width}
	}
	return &identEncoding{name: name}
}

// singleByte are the one-byte server encodings.
var singleByte = map[string]*charmap.Charmap{
	"LATIN1": charmap.ISO8859_1, "LATIN2": charmap.ISO8859_2, "LATIN3": charmap.ISO8859_3,
	"LATIN4": charmap.ISO8859_4, "LATIN5": charmap.ISO8859_9, "LATIN6": charmap.ISO8859_10,
	"LATIN7": charmap.ISO8859_13, "LATIN8": charmap.ISO8859_14, "LATIN9": charmap.ISO8859_15,
	"LATIN10": charmap.ISO8859_16, "ISO_8859_5": charmap.ISO8859_5, "ISO_8859_6": charmap.ISO8859_6,
	"ISO_8859_7": charmap.ISO8859_7, "ISO_8859_8": charmap.ISO8859_8,
	"WIN866": charmap.CodePage866, "WIN874": charmap.Windows874,
	"WIN1250": charmap.Windows1250, "WIN1251": charmap.Windows1251, "WIN1252": charmap.Windows1252,
	"WIN1253": charmap.Windows1253, "WIN1254": charmap.Windows1254, "WIN1255": charmap.Windows1255,
	"WIN1256": charmap.Windows1256, "WIN1257": charmap.Windows1257, "WIN1258": charmap.Windows1258,
	"KOI8R": charmap.KOI8R, "KOI8U": charmap.KOI8U,
}

// eucEncoding measures an EUC encoding with an x/text encoder, keeping
// only byte sequences the EUC form allows (x/text's EUC-KR is CP949 and
// its GB2312 is GBK, both wider).
type eucEncoding struct {
	enc   encoding.Encoding
	valid func(b []byte) bool
	// unsure, when set, marks codes the server may write wider than
	// x/text does.
	unsure func(b []byte) bool
}

// width is -1 for a character of two or three bytes (unsure).
func (m eucEncoding) width(r rune) int {
	b, err := m.enc.NewEncoder().Bytes([]byte(string(r)))
	if err != nil || !m.valid(b) {
		return 0
	}
	if m.unsure != nil && m.unsure(b) {
		return -1
	}
	return len(b)
}

// eucPair reports whether b is one two-byte EUC code (both bytes
// 0xA1-0xFE).
func eucPair(b []byte) bool {
	return len(b) == 2 && b[0] >= 0xa1 && b[0] <= 0xfe && b[1] >= 0xa1 && b[1] <= 0xfe
}

// multiByte are the EUC server encodings x/text can measure. EUC_TW,
// EUC_JIS_2004 and MULE_INTERNAL it cannot: a long non-ASCII name in
// them is refused.
var multiByte = map[string]eucEncoding{
	"EUC_JP": {japanese.EUCJP, func(b []byte) bool {
		switch {
		case len(b) == 2 && b[0] == 0x8e: // half-width katakana
			return b[1] >= 0xa1 && b[1] <= 0xdf
		case len(b) == 3 && b[0] == 0x8f: // JIS X 0212
			return eucPair(b[1:])
		}
		return eucPair(b)
	}, func(b []byte) bool {
		// x/text writes the IBM extension kanji (髙, 﨑) in rows
		// 89-92 (lead 0xF9-0xFC) where the server writes three bytes
		// (0x8F F3/F4 xx): rows 85-94 are not measured.
		return len(b) == 2 && b[0] >= 0xf5
	}},
	"EUC_KR": {korean.EUCKR, eucPair, nil},
	"EUC_CN": {simplifiedchinese.GBK, eucPair, nil},
}

// utf8Cut is what the parser keeps of an identifier: 63 bytes of UTF-8,
// cut on a character boundary.
func utf8Cut(name string) string {
	if len(name) <= maxIdentBytes {
		return name
	}
	n := maxIdentBytes
	for n > 0 && !utf8.RuneStart(name[n]) {
		n--
	}
	return name[:n]
}

// cut is what the server keeps of the identifier name (in full, as
// written, after folding): its longest prefix of at most 63 bytes in the
// encoding, ending on a character.
func (e *identEncoding) cut(name string) (string, error) {
	switch {
	case e.name == "SQL_ASCII":
		if len(name) <= maxIdentBytes {
			return name, nil
		}
		if !utf8.RuneStart(name[maxIdentBytes]) {
			return "", deny(RuleIdentifierEncoding, fmt.Sprintf("a SQL_ASCII database cuts the name %s to 63 bytes inside a character", quoteIdent(name)))
		}
		return name[:maxIdentBytes], nil
	case !e.known:
		return e.cutUnknown(name)
	}
	// lo and hi are the bytes so far if every unsure character is two
	// or three; both readings must cut at the same place.
	lo, hi := 0, 0
	cutLo, cutHi := len(name), len(name)
	for i, r := range name {
		wlo, whi := 1, 1
		if r >= utf8.RuneSelf {
			switch w := e.width(r); {
			case w == 0:
				return "", deny(RuleIdentifierEncoding, fmt.Sprintf("the name %s holds %q, which the database's encoding %s does not have", quoteIdent(name), r, e.name))
			case w < 0:
				wlo, whi = 2, 3
			default:
				wlo, whi = w, w
			}
		}
		if cutHi == len(name) && hi+whi > maxIdentBytes {
			cutHi = i
		}
		if lo+wlo > maxIdentBytes {
			cutLo = i
			break
		}
		lo, hi = lo+wlo, hi+whi
	}
	if cutLo != cutHi {
		return "", deny(RuleIdentifierEncoding, fmt.Sprintf("cannot tell where a database in %s cuts the name %s: it holds characters of two or three bytes there", e.name, quoteIdent(name)))
	}
	return name[:cutLo], nil
}

// cutUnknown keeps a name that no encoding can cut (four bytes at most
// for every non-ASCII character) and refuses any other.
func (e *identEncoding) cutUnknown(name string) (string, error) {
	n := 0
	for _, r := range name {
		if r < utf8.RuneSelf {
			n++
		} else {
			n += 4
		}
	}
	if n <= maxIdentBytes && len(name) <= maxIdentBytes {
		return name, nil
	}
	return "", deny(RuleIdentifierEncoding, fmt.Sprintf("cannot tell where a database in %s cuts the name %s", e.name, quoteIdent(name)))
}

// cutQualified cuts each part of a name read from a string (a reg*
// literal) as the server cuts it; without an encoding, as UTF-8.
func (e *identEncoding) cutQualified(parts []string) ([]string, error) {
	for i, p := range parts {
		if e == nil {
			parts[i] = utf8Cut(p)
			continue
		}
		c, err := e.cut(p)
		if err != nil {
			return nil, err
		}
		parts[i] = c
	}
	return parts, nil
}

// isASCII reports whether s has no byte above 0x7F: every server
// encoding reads such a text as UTF-8 does.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// quotedIdentText is the name a quoted identifier token ("a""b")
// spells.
func quotedIdentText(tok string) string {
	return strings.ReplaceAll(tok[1:len(tok)-1], `""`, `"`)
}

// serverNames readies sql for the parser, which cuts every identifier
// to 63 bytes of UTF-8, when the server cuts some other way: each
// identifier token the server reads as a different name is replaced by a
// stand-in (quoted for a quoted name, bare for a bare one) padded with
// spaces to the token's length (so locations hold), and names maps each stand-in to the name the server keeps, for
// the transcoder to put back into the tree. A name the server would cut
// in a way the engine cannot follow is refused. Pure ASCII texts with
// no U&"..." name (whose escapes the server decodes), and texts for a
// UTF8 database, are returned as they are.
func (e *identEncoding) serverNames(sql string) (text string, names map[string]string, err error) {
	if e == nil || (isASCII(sql) && !strings.Contains(strings.ToLower(sql), "u&")) {
		return sql, nil, nil
	}
	res, err := pg_query.Scan(sql)
	if err != nil {
		return sql, nil, nil // the parser reports it
	}
	var out []byte
	nonce := rand.Uint64()
	lower := strings.ToLower(sql)
	for i, tok := range res.Tokens {
		raw := sql[tok.Start:tok.End]
		if tok.Token == pg_query.Token_UIDENT {
			raw = uidentToken(sql, int(tok.Start))
			if plainUIdent(raw, res.Tokens[i+1:]) {
				continue
			}
			if err := e.checkUIdent(raw); err != nil {
				return "", nil, err
			}
			continue
		}
		if isASCII(raw) {
			continue
		}
		if tok.Token != pg_query.Token_IDENT {
			continue
		}
		name := asciiLower(raw)
		if raw[0] == '"' {
			name = quotedIdentText(raw)
		} else if e.foldsHigh && (e.name == "SQL_ASCII" || hasNonASCIIUpper(raw)) {
			return "", nil, deny(RuleIdentifierEncoding, fmt.Sprintf("the database folds the non-ASCII letters of the unquoted name %s by its locale (lc_ctype), which pgmoat does not model: quote the name", raw))
		}
		server, err := e.cut(name)
		if err != nil {
			return "", nil, err
		}
		if server == utf8Cut(name) {
			continue
		}
		body := fmt.Sprintf("pgmoat%016x_%d", nonce, i)
		if len(body)+2 > len(raw) || strings.Contains(lower, body) {
			return "", nil, deny(RuleIdentifierEncoding, fmt.Sprintf("cannot judge the name %s as a database in %s cuts it", quoteIdent(name), e.name))
		}
		if out == nil {
			out = []byte(sql)
			names = map[string]string{}
		}
		stand := standIn(raw, body)
		copy(out[tok.Start:tok.End], stand)
		names[body] = server
	}
	if out == nil {
		return sql, nil, nil
	}
	return string(out), names, nil
}

// standIn is body padded with spaces to the length of the token raw,
// written as raw is: quoted for a quoted name, bare for a bare one. A
// bare name may follow u& (the operator & after the name u), where a
// quoted stand-in would make the parser read one U&"..." identifier;
// body is lower case and no keyword, so bare it stays the same name.
func standIn(raw, body string) string {
	if raw[0] != '"' {
		return body + strings.Repeat(" ", len(raw)-len(body))
	}
	return `"` + body + `"` + strings.Repeat(" ", len(raw)-len(body)-2)
}

// uidentToken is the U&"..." token that starts at start: the scanner
// reports such a token one byte long.
func uidentToken(sql string, start int) string {
	i := start + len(`U&"`)
	for i < len(sql) {
		if sql[i] != '"' {
			i++
			continue
		}
		if i+1 < len(sql) && sql[i+1] == '"' {
			i += 2
			continue
		}
		return sql[start : i+1]
	}
	return sql[start:]
}

// plainUIdent reports whether the U&"..." token raw, followed by rest,
// spells its name in ASCII without escapes, so that every encoding reads
// it as written. An escape, even in an ASCII text (U&"\00e9"), is decoded
// into the server's encoding before the server cuts the name.
func plainUIdent(raw string, rest []*pg_query.ScanToken) bool {
	for _, t := range rest {
		if t.Token == pg_query.Token_C_COMMENT || t.Token == pg_query.Token_SQL_COMMENT {
			continue // the server's lexer skips them before UESCAPE
		}
		if t.Token == pg_query.Token_UESCAPE {
			return false
		}
		break
	}
	return isASCII(raw) && !strings.Contains(raw, `\`)
}

// checkUIdent refuses a U&"..." identifier the server might cut other
// than the parser does: its escapes are not decoded here, so only a name
// short enough that no encoding cuts it passes, and only of characters
// the encoding has.
func (e *identEncoding) checkUIdent(raw string) error {
	if e.known && e.width != nil {
		for _, r := range raw {
			if r >= utf8.RuneSelf && e.width(r) == 0 {
				return deny(RuleIdentifierEncoding, fmt.Sprintf("the name %s holds %q, which the database's encoding %s does not have", raw, r, e.name))
			}
		}
	}
	_, err := (&identEncoding{name: e.name}).cutUnknown(raw)
	return err
}

// hasNonASCIIUpper says whether name holds a non-ASCII letter a locale
// would lowercase.
func hasNonASCIIUpper(name string) bool {
	for _, r := range name {
		if r >= utf8.RuneSelf && unicode.ToLower(r) != r {
			return true
		}
	}
	return false
}
