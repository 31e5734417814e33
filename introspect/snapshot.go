package introspect

import "time"

// Snapshot is the catalog of one database at one moment. It is immutable
// once Load returns it.
type Snapshot struct {
	Database      string    // current_database()
	User          string    // the role the catalog was read as
	ServerVersion int       // server_version_num, e.g. 150004
	TakenAt       time.Time // when the read transaction started (server clock)
	// Encoding is server_encoding (UTF8, LATIN1, SQL_ASCII, ...): the
	// encoding the server lexes statements in, whose byte lengths decide
	// where it cuts an identifier to 63 bytes. Names are read in UTF-8
	// whatever it is, but for SQL_ASCII, whose names are their bytes.
	Encoding string
	// CType is the database's lc_ctype: in a single-byte encoding the
	// server folds non-ASCII letters of unquoted names by it.
	CType string

	Schemas   []Schema    // user schemas, sorted by name
	Relations []*Relation // sorted by schema, then name
	// Classes are every pg_class entry in user schemas, of every kind
	// (sequences, indexes, composite types, partitions and extensions'
	// relations too), sorted by schema, then name: what PostgreSQL may
	// resolve a name in FROM to, which Relations does not say.
	Classes   []Class
	Functions []Function // every function the role can see, sorted by schema, name, args
	// Types are the types a Parse message may name by OID that
	// pg_catalog's fixed table does not hold: every type outside
	// pg_catalog, and pg_catalog's with OIDs initdb assigns (system
	// views' row types), sorted by OID.
	Types      []NamedType
	Extensions []string // installed extensions, sorted
	// ImplicitCalls are the functions outside pg_catalog behind
	// operators and types, sorted.
	ImplicitCalls []ImplicitCall

	byName  map[QualifiedName]*Relation
	types   map[uint32]NamedType
	classes map[QualifiedName]Class
	// volatility is the most volatile overload of each function, so the
	// policy engine's per-statement lookups are one map access.
	volatility map[QualifiedName]Volatility
	implicit   map[implicitKey][]QualifiedName
}

// QualifiedName is a catalog identifier pair, unquoted and case-exact.
type QualifiedName struct {
	Schema string
	Name   string
}

// String renders the name as a person would read it; it is not SQL.
func (q QualifiedName) String() string { return q.Schema + "." + q.Name }

// Schema is a namespace that holds user relations.
type Schema struct {
	Name    string
	Comment string
	// Usable reports whether the role holds USAGE on the schema: without
	// it no relation in it can be read, whatever the table grants say.
	Usable bool
}

// UsableSchemas is the set of user schemas the role holds USAGE on.
func (s *Snapshot) UsableSchemas() map[string]bool {
	out := map[string]bool{}
	for _, sc := range s.Schemas {
		if sc.Usable {
			out[sc.Name] = true
		}
	}
	return out
}

// RelKind is the kind of a relation, as pg_class.relkind spells it.
type RelKind string

// Relation kinds pgmoat exposes.
const (
	KindTable            RelKind = "r"
	KindView             RelKind = "v"
	KindMaterializedView RelKind = "m"
	KindPartitionedTable RelKind = "p"
	KindForeignTable     RelKind = "f"
)

// Relation kinds only Classes lists: not exposed, but a name in FROM may
// resolve to them.
const (
	KindSequence         RelKind = "S"
	KindIndex            RelKind = "i"
	KindPartitionedIndex RelKind = "I"
	KindCompositeType    RelKind = "c"
	KindTOAST            RelKind = "t"
)

// relKindWords names each kind in words, for messages and listings.
var relKindWords = map[RelKind]string{
	KindTable:            "table",
	KindView:             "view",
	KindMaterializedView: "materialized view",
	KindPartitionedTable: "partitioned table",
	KindForeignTable:     "foreign table",
	KindSequence:         "sequence",
	KindIndex:            "index",
	KindPartitionedIndex: "partitioned index",
	KindCompositeType:    "composite type",
	KindTOAST:            "TOAST table",
}

// String names the kind in words.
func (k RelKind) String() string {
	if w, ok := relKindWords[k]; ok {
		return w
	}
	return "relation kind " + string(k)
}

// Relation is a table, view, materialized view, partitioned table or
// foreign table.
type Relation struct {
	OID     uint32
	Schema  string
	Name    string
	Kind    RelKind
	Comment string

	Columns      []*Column    // in attnum order
	Indexes      []*Index     // sorted by name; includes invalid ones (see Index.Valid)
	PrimaryKey   []string     // column names in key order; nil when there is none
	Unique       [][]string   // UNIQUE constraints, column names in key order
	ForeignKeys  []ForeignKey // constraints on this relation, pointing elsewhere
	ReferencedBy []ForeignKey // constraints elsewhere in the snapshot pointing here

	RLSEnabled bool // relrowsecurity
	RLSForced  bool // relforcerowsecurity
	// EstimatedRows is pg_class.reltuples: -1 when the relation was never
	// vacuumed or analyzed (and always for views).
	EstimatedRows int64
	// Selectable reports whether the connected role may SELECT at least one
	// column.
	Selectable bool

	byName map[string]*Column
}

// QualifiedName returns the relation's schema and name.
func (r *Relation) QualifiedName() QualifiedName {
	return QualifiedName{Schema: r.Schema, Name: r.Name}
}

// Class is one pg_class entry: a name PostgreSQL resolves a relation
// reference to, whatever its kind.
type Class struct {
	Schema string
	Name   string
	Kind   RelKind
	// Partition is relispartition: a partition read by its own name is
	// read without its parent's row-level security policies.
	Partition bool
	// Extension reports that the relation belongs to an extension.
	Extension bool
	// RLSChild reports an inheritance child (INHERITS, at any depth) of
	// a table with row-level security: read by its own name it is read
	// without the parent's policies, as a partition is.
	RLSChild bool
	// RowSecurity is relrowsecurity: the planner estimates conditions on
	// the relation from the statistics of every row, whoever may read it.
	RowSecurity bool
}

// Column is one user column of a relation.
type Column struct {
	Num     int16  // attnum
	Name    string // exact catalog spelling
	Comment string
	// DeclaredType is format_type() of the declared type, e.g. "numeric(10,2)",
	// "text[]", "shop.email_address".
	DeclaredType string
	// Type is the declared type with domains resolved to their base type.
	Type *Type
	// TypMod is the effective type modifier (the domain's when the column's
	// own is unset), -1 when none.
	TypMod int32
	// Domain is the outermost domain the column was declared with, nil when
	// none.
	Domain *Type

	NotNull   bool   // attnotnull, or a NOT NULL domain
	Default   string // pg_get_expr of the default; "" when none
	Generated bool   // GENERATED ALWAYS AS (...) STORED
	Identity  bool   // GENERATED ... AS IDENTITY
	// Selectable reports whether the connected role may SELECT the column.
	Selectable bool
}

// TypeKind is pg_type.typtype, with arrays told apart from other base types.
type TypeKind string

// Type kinds.
const (
	TypeBase       TypeKind = "b"
	TypeArray      TypeKind = "A"
	TypeComposite  TypeKind = "c"
	TypeDomain     TypeKind = "d"
	TypeEnum       TypeKind = "e"
	TypePseudo     TypeKind = "p"
	TypeRange      TypeKind = "r"
	TypeMultirange TypeKind = "m"
)

// Type is one pg_type entry.
type Type struct {
	OID      uint32
	Schema   string // "pg_catalog" for built-in types
	Name     string // pg_type.typname, e.g. "int4", "timestamptz", "_text"
	Kind     TypeKind
	Category string // pg_type.typcategory, e.g. "N" numeric, "S" string
	Comment  string
	// Elem is the element type of an array; it may be a domain (see Resolved).
	Elem *Type
	// Base is the type a domain is defined over (a domain's own base may be a
	// domain again).
	Base *Type
	// BaseTypMod is a domain's typtypmod, -1 when none.
	BaseTypMod int32
	// NotNull is a domain's NOT NULL.
	NotNull bool
	// Labels are an enum's labels in sort order.
	Labels []string
}

// Resolved follows domains down to the type values actually have.
func (t *Type) Resolved() *Type {
	for t != nil && t.Kind == TypeDomain && t.Base != nil {
		t = t.Base
	}
	return t
}

// NamedType is one pg_type entry known by its OID: what the policy
// engine needs to judge a value of it made from a client's text (the
// functions that runs, a domain's CHECKs among them, are in
// ImplicitCalls under the same schema and name).
type NamedType struct {
	OID    uint32
	Schema string
	Name   string
	Kind   TypeKind
	// Base is a domain's base type OID, 0 for other kinds.
	Base uint32
}

// Index is one index of a relation.
type Index struct {
	Name    string
	Method  string // pg_am.amname: btree, hash, gin, gist, brin, spgist, ...
	Unique  bool
	Primary bool
	// Valid is false for an index being built concurrently or left invalid
	// by a failed build; the planner does not use it.
	Valid bool
	// Predicate is the WHERE clause of a partial index, "" otherwise.
	Predicate string
	// Keys are the key columns in index order; INCLUDE columns are not keys
	// and are not listed.
	Keys []IndexKey
}

// Partial reports whether the index covers only rows matching a predicate.
func (ix *Index) Partial() bool { return ix.Predicate != "" }

// IndexKey is one key position of an index.
type IndexKey struct {
	// Column is the indexed column; "" for an expression key.
	Column string
	// Expression is the key as pg_get_indexdef renders it: the column name
	// (quoted when needed) or the indexed expression, e.g.
	// "to_tsvector('english'::regconfig, description)".
	Expression string
	// OpClass is the operator class name, e.g. "text_ops", "gin_trgm_ops".
	OpClass string
	Desc    bool
}

// IsExpression reports whether the key indexes an expression rather than
// a plain column.
func (k IndexKey) IsExpression() bool { return k.Column == "" }

// ForeignKey is a foreign-key constraint. The same value appears in the
// referencing relation's ForeignKeys and the referenced relation's
// ReferencedBy.
type ForeignKey struct {
	Name        string
	From        QualifiedName
	FromColumns []string
	To          QualifiedName
	// ToColumns is empty when the referenced relation is not part of the
	// snapshot (it belongs to an extension, say).
	ToColumns []string
}

// Volatility is pg_proc.provolatile, one byte with PostgreSQL's codes.
// policy.Volatility is the same byte with the same codes and the one
// that names them: the layers keep policy and introspect from importing
// each other, so the one bridge (in cmd) is a plain conversion.
type Volatility byte

// Volatilities.
const (
	Immutable Volatility = 'i'
	Stable    Volatility = 's'
	Volatile  Volatility = 'v'
)

// Function is one function or procedure overload.
type Function struct {
	OID    uint32
	Schema string
	Name   string
	Args   string // pg_get_function_identity_arguments
	Kind   string // prokind: f function, p procedure, a aggregate, w window
	// Volatility is the most volatile of provolatile and what a call by
	// name runs besides the function: an aggregate's support functions
	// and the functions its argument defaults call (qFunctions).
	Volatility Volatility
	// SecurityDefiner functions run with their owner's rights.
	SecurityDefiner bool
	ReturnsSet      bool
}
