package policy

import (
	"fmt"
	"strings"
)

// regLiteral judges a cast to regclass, regproc or regprocedure (or an
// array of them): the input functions of those types look the text up in
// the catalog, so a constant is judged like the reference it spells, each
// element of an array literal too, and a value computed at run time is
// denied unless it is an OID already.
func (w *walker) regLiteral(b []byte) error {
	names, typ, array, err := w.castType(b)
	if err != nil || len(names) == 0 {
		return err
	}
	if isRegType(typ) {
		// The value is a name looked up in the catalog.
		w.refuseSharing("a value is cast to " + typ)
	}
	target := regTarget(typ)
	if target == "" || (len(names) == 2 && names[0] != "pg_catalog") {
		return nil
	}
	arg, ok := findBytes(b, w.n.castArg)
	if !ok {
		return nil
	}
	return w.regValue(target, typ, array, arg)
}

// castType reads the type a cast names: its qualified name, the type
// (the element type of an array of a reg* type, which PostgreSQL also
// spells _regclass), and whether the cast is to an array of it.
func (w *walker) castType(b []byte) (names []string, typ string, array bool, err error) {
	names, err = w.castTypeName(b)
	if err != nil || len(names) == 0 {
		return names, "", false, err
	}
	typ = names[len(names)-1]
	tn, _ := findBytes(b, w.n.castType)
	array = len(allBytes(tn, w.n.typeArrayBounds)) > 0
	if elem, ok := strings.CutPrefix(typ, "_"); ok && isRegType(elem) {
		typ, array = elem, true // _regclass is regclass[]
	}
	return names, typ, array, nil
}

// regValue judges the value cast to the reg* type typ, or with array to
// an array of it.
func (w *walker) regValue(target, typ string, array bool, arg []byte) error {
	m, inner, err := w.concrete(arg)
	if err != nil {
		return err
	}
	switch m.name {
	case "A_Const":
		return w.constNames(target, array, inner)
	case "A_ArrayExpr":
		if array {
			return w.regElements(target, typ, inner)
		}
	case "TypeCast":
		names, err := w.castTypeName(inner)
		if err != nil || len(names) == 0 {
			return err
		}
		in := names[len(names)-1]
		if keepsOID(target, in) {
			return nil
		}
		if isStringType(in) {
			// 'name'::text::regclass: still a constant name.
			return w.nameValue(nameArg{kind: target}, arg)
		}
	case "ColumnRef":
		if w.oidColumn(inner) {
			return nil
		}
	}
	if array {
		typ += "[]"
	}
	return computedName(target, "a computed value cast to "+typ)
}

// regElements judges the elements of ARRAY['a', ...] cast to an array of
// the reg* type typ: each is a value cast to typ, or a nested ARRAY[...].
func (w *walker) regElements(target, typ string, inner []byte) error {
	for _, e := range allBytes(inner, w.n.arrayElems) {
		em, _, err := w.concrete(e)
		nested := err == nil && em.name == "A_ArrayExpr"
		if err := w.regValue(target, typ, nested, e); err != nil {
			return err
		}
	}
	return nil
}

// constString is the text of an A_Const that is a string literal; ok is
// false for a number or NULL.
func (w *walker) constString(inner []byte) (lit []byte, ok bool) {
	sv, ok := findBytes(inner, w.n.constSval)
	if !ok {
		return nil, false
	}
	lit, _ = findBytes(sv, w.n.strVal)
	return lit, true
}

// constNames judges an A_Const as the name of the kind target it spells,
// or with array as the array literal of such names ('{a,b}'). A number
// or NULL passes: a numeric OID names nothing the engine can check.
func (w *walker) constNames(target string, array bool, inner []byte) error {
	lit, ok := w.constString(inner)
	switch {
	case !ok:
		return nil
	case array:
		return w.judgeNameArray(target, lit)
	}
	return w.judgeName(target, string(lit), true)
}

// judgeNameArray judges each name in lit, an array literal of names of
// the kind target ('{a,b}').
func (w *walker) judgeNameArray(target string, lit []byte) error {
	elems, ok := parseArrayLiteral(string(lit))
	if !ok {
		return deny(RuleNode, fmt.Sprintf("cannot read the array of %s names in %q", target, lit))
	}
	for _, e := range elems {
		if err := w.judgeName(target, e, true); err != nil {
			return err
		}
	}
	return nil
}

// keepsOID reports whether a value of type in reaches a cast to a reg*
// type of kind target as a number: OIDs, integers and the reg* types of
// the same kind. Any other type is converted through its text.
func keepsOID(target, in string) bool {
	switch in {
	case "oid", "int2", "int4", "int8", "smallint", "integer", "bigint":
		return true
	case "regclass":
		return target == "relation"
	case "regproc", "regprocedure":
		return target == "function"
	case "regtype":
		return target == "type"
	}
	return false
}

// oidColumn reports whether a column reference names one of the
// OID-typed columns of PostgreSQL 15's catalogs (oidColumns), as in
// c.oid::regclass; a column of any other name may hold text.
func (w *walker) oidColumn(b []byte) bool {
	fields := allBytes(b, w.n.colRefFields)
	if len(fields) == 0 {
		return false
	}
	fm, inner, err := w.concrete(fields[len(fields)-1])
	if err != nil || fm.name != "String" {
		return false
	}
	v, _ := findBytes(inner, w.n.strVal)
	return oidColumns[string(v)]
}

// oidColumns holds the names of the columns of type oid, regclass, regproc
// or regprocedure in PostgreSQL 15's pg_catalog relations, and tableoid,
// less the names some catalog view uses for a text column too (database,
// grantor, srvowner) and the plain words a user table may well use for
// text (member, relation).
var oidColumns = func() map[string]bool {
	m := map[string]bool{"tableoid": true}
	for _, c := range strings.Fields(`
		adrelid aggcombinefn aggdeserialfn aggfinalfn aggfnoid aggmfinalfn aggminvtransfn
		aggmtransfn aggmtranstype aggserialfn aggsortop aggtransfn aggtranstype amhandler
		amopfamily amoplefttype amopmethod amopopr amoprighttype amopsortfamily amproc
		amprocfamily amproclefttype amprocrighttype attcollation attrelid atttypid castfunc
		castsource casttarget cfgnamespace cfgowner cfgparser classid classoid cluster_index_relid
		collnamespace collowner confrelid conindid connamespace conowner conparentid conproc
		conrelid contypid current_child_table_relid datdba datid datoid dattablespace dbid
		defaclnamespace defaclrole dictnamespace dictowner dicttemplate enumtypid ev_class evtfoid
		evtowner extnamespace extowner fdwhandler fdwowner fdwvalidator ftrelid ftserver funcid
		grosysid index_relid indexrelid indrelid inhparent inhrelid laninline lanowner
		lanplcallfoid lanvalidator local_id loid lomowner mapcfg mapdict nspowner objid
		objnamespace objoid oid opcfamily opcintype opckeytype opcmethod opcnamespace opcowner
		opfmethod opfnamespace opfowner oprcode oprcom oprjoin oprleft oprnamespace oprnegate
		oprowner oprrest oprresult oprright partdefid partrelid pnnspid pnpubid polrelid prolang
		pronamespace proowner prorettype prosupport provariadic prpubid prrelid prsend prsheadline
		prslextype prsnamespace prsstart prstoken pubowner refclassid refobjid relam relfilenode
		relid relnamespace reloftype relowner relrewrite reltablespace reltoastrelid reltype
		rngcanonical rngcollation rngmultitypid rngsubdiff rngsubopc rngsubtype rngtypid roident
		roleid seqrelid seqtypid setdatabase setrole spcowner srrelid srsubid srvfdw srvid
		stacoll1 stacoll2 stacoll3 stacoll4 stacoll5 staop1 staop2 staop3 staop4 staop5 starelid
		stxnamespace stxoid stxowner stxrelid subdbid subid subowner tgconstraint tgconstrindid
		tgconstrrelid tgfoid tgparentid tgrelid tmplinit tmpllexize tmplnamespace trffromsql
		trflang trftosql trftype typanalyze typarray typbasetype typcollation typelem typinput
		typmodin typmodout typnamespace typoutput typowner typreceive typrelid typsend
		typsubscript umid umserver umuser usesysid`) {
		m[c] = true
	}
	return m
}()

// parseArrayLiteral reads the elements of a one- or more-dimensional array
// literal as array_in does for a type whose delimiter is a comma: braces,
// double-quoted elements with backslash escapes, unquoted elements with
// surrounding space trimmed, and unquoted NULL, which is left out. It
// gives up (ok false) on anything else: dimension decorations, backslashes
// or quotes inside unquoted elements, misplaced braces.
func parseArrayLiteral(s string) (elems []string, ok bool) {
	p := arrayParser{s: s}
	p.space()
	if !p.list(0, &elems) {
		return nil, false
	}
	p.space()
	return elems, p.i == len(p.s)
}

type arrayParser struct {
	s string
	i int
}

func (p *arrayParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r\v\f", p.s[p.i]) >= 0 {
		p.i++
	}
}

// list reads {elem, elem, ...} or {{...}, {...}} at p.i.
func (p *arrayParser) list(depth int, out *[]string) bool {
	if depth > 6 || p.i >= len(p.s) || p.s[p.i] != '{' {
		return false
	}
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '{' {
			if !p.list(depth+1, out) {
				return false
			}
		} else if !p.elem(out) {
			return false
		}
		p.space()
		if p.i >= len(p.s) {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// elem reads one quoted or unquoted element.
func (p *arrayParser) elem(out *[]string) bool {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			switch c := p.s[p.i]; c {
			case '\\':
				p.i++
				if p.i >= len(p.s) {
					return false
				}
				b.WriteByte(p.s[p.i])
			case '"':
				p.i++
				*out = append(*out, b.String())
				return true
			default:
				b.WriteByte(c)
			}
		}
		return false
	}
	start := p.i
	for p.i < len(p.s) && strings.IndexByte(",}", p.s[p.i]) < 0 {
		if strings.IndexByte("{\"\\", p.s[p.i]) >= 0 {
			return false
		}
		p.i++
	}
	v := strings.TrimRight(p.s[start:p.i], " \t\n\r\v\f")
	if v == "" {
		return false
	}
	if !strings.EqualFold(v, "null") {
		*out = append(*out, v)
	}
	return true
}
