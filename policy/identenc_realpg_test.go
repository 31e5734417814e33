package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/introspect"
)

// encodingCase is one database encoding and the names that tell its
// identifier truncation from the parser's UTF-8 one: tables are created
// under their quoted names, then every spelling is read by the server
// and judged by the engine.
type encodingCase struct {
	encoding string
	tables   []string // created as quoted names; the server truncates them
	denied   []string // server-side names the profile denies
	// spellings are identifiers as written in FROM. exact marks those
	// the engine must resolve to the relation the server reads; the
	// others it may instead refuse as identifier.encoding (never allow
	// a different name).
	spellings []encodingSpelling
}

type encodingSpelling struct {
	sql   string
	exact bool
}

func rep(s string, n int) string { return strings.Repeat(s, n) }

func quoted(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

var encodingCases = []encodingCase{
	{
		// 'é' is two bytes in UTF-8 and one in LATIN1: the server keeps
		// 40 of them where a UTF-8 cut keeps 31.
		encoding: "LATIN1",
		tables:   []string{rep("é", 31), rep("é", 40), rep("é", 63), rep("a", 62), rep("a", 62) + "é"},
		denied:   []string{rep("é", 40), rep("é", 63), rep("a", 62) + "é"},
		spellings: []encodingSpelling{
			{quoted(rep("é", 31)), true},
			{quoted(rep("é", 40)), true},
			{rep("é", 40), true},
			{quoted(rep("é", 70)), true},
			{quoted(rep("a", 62) + "é"), true},
			{rep("A", 62) + "é", true},
			{"public." + quoted(rep("é", 40)), true},
			// Unicode escapes spell the name in ASCII; the server
			// decodes them into its encoding before it cuts.
			{`U&"` + rep(`\00e9`, 40) + `"`, false},
			{`U&"` + rep(`!00e9`, 40) + `" UESCAPE '!'`, false},
			{`U&"` + rep("é", 40) + `"`, false},
			{`U&"` + rep(`!00e9`, 40) + `" /* c */ UESCAPE '!'`, false},
			{`U&"""` + rep(`\00e9`, 40) + `"`, false},
			// '€' has no LATIN1 byte: the server refuses the text.
			{quoted(rep("é", 40) + "€"), false},
		},
	},
	{
		// '日' is three bytes in UTF-8 and two in EUC_JP.
		encoding: "EUC_JP",
		tables:   []string{rep("日", 21), rep("日", 30), rep("日", 31), rep("ｱ", 21), rep("ｱ", 31), rep("髙", 21), rep("髙", 10)},
		denied:   []string{rep("日", 30), rep("日", 31), rep("ｱ", 31), rep("髙", 21)},
		spellings: []encodingSpelling{
			{quoted(rep("日", 21)), true},
			{quoted(rep("日", 30)), true},
			{quoted(rep("日", 40)), true},
			{rep("日", 40), true},
			{quoted(rep("ｱ", 40)), true},
			{`U&"` + rep(`\65e5`, 30) + `"`, false},
			// '髙' (an IBM extension kanji) is three bytes in the
			// server's EUC_JP (0x8F F4 xx) and two in x/text's.
			{quoted(rep("髙", 22)), false},
			{quoted(rep("髙", 10)), true},
			{quoted(rep("a", 20) + rep("髙", 22)), false},
		},
	},
	{
		// 'ж' is two bytes in UTF-8 and one in WIN1251.
		encoding: "WIN1251",
		tables:   []string{rep("ж", 31), rep("ж", 50)},
		denied:   []string{rep("ж", 50)},
		spellings: []encodingSpelling{
			{quoted(rep("ж", 31)), true},
			{quoted(rep("ж", 50)), true},
			{rep("Ж", 50), false}, // unquoted: folding of non-ASCII letters depends on LC_CTYPE
		},
	},
	{
		// SQL_ASCII cuts at byte 63 whatever the characters: inside the
		// 'é' after 62 'a'.
		encoding: "SQL_ASCII",
		tables:   []string{rep("a", 62), rep("a", 62) + "é", rep("é", 31), rep("é", 32)},
		denied:   []string{rep("a", 62) + "\xc3", rep("é", 31) + "\xc3"},
		spellings: []encodingSpelling{
			{quoted(rep("a", 62)), true},
			{quoted(rep("a", 62) + "é"), false},
			{quoted(rep("é", 32)), false},
			{quoted(rep("é", 31)), true},
		},
	},
}

// TestIdentifierTruncationFollowsServerEncoding: PostgreSQL cuts an
// identifier to 63 bytes of the database's encoding, not of UTF-8 (the
// text pgmoat's backends send is converted before it is lexed). On each
// database, every spelling is read by the server (which relation's rows
// come back) and judged by the engine built on that database's catalog:
// the engine must name the relation the server reads, or refuse the
// name; never allow it when the server reads a denied relation.
func TestIdentifierTruncationFollowsServerEncoding(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c, _ := sharedDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, tc := range encodingCases {
		t.Run(tc.encoding, func(t *testing.T) {
			db := fmt.Sprintf("t_enc_%d_%d", time.Now().UnixNano(), i)
			admin, err := pgconn.Connect(ctx, c.DSN("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s ENCODING '%s' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", db, tc.encoding)).ReadAll()
			admin.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := c.DropDatabase(context.Background(), db); err != nil {
					t.Errorf("drop %s: %v", db, err)
				}
			})
			// pgmoat's backends speak UTF8 (the pool asks for it); the
			// catalog is read on a connection that does not ask, whose
			// client_encoding is the database's.
			conn, err := pgx.Connect(ctx, c.DSN(db)+" client_encoding=UTF8")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			intro, err := pgx.Connect(ctx, c.DSN(db))
			if err != nil {
				t.Fatal(err)
			}
			defer intro.Close(context.Background())
			// Quiet, as a client may ask: in SQL_ASCII the notice that a
			// name was cut would carry the half character to a UTF8
			// client and fail the statement; without it the server reads
			// the relation.
			if _, err := conn.Exec(ctx, "SET client_min_messages = warning"); err != nil {
				t.Fatal(err)
			}
			for _, name := range tc.tables {
				if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (x int); INSERT INTO %[1]s VALUES (1)", quoted(name))); err != nil {
					t.Fatalf("create %q: %v", name, err)
				}
			}
			snap, err := introspect.Load(ctx, intro)
			if err != nil {
				t.Fatal(err)
			}
			var deny []string
			for _, d := range tc.denied {
				deny = append(deny, "public."+d)
			}
			e, err := New(Options{Functions: oracleCatalog{snap}, Profiles: map[string]Profile{
				DefaultProfile: {AllowSchemas: []string{"public"}, DenyRelations: deny}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, sp := range tc.spellings {
				checkEncodingSpelling(ctx, t, conn, e, tc, sp)
			}
		})
	}
}

// checkEncodingSpelling compares what the server reads for one spelling
// with the engine's verdict.
func checkEncodingSpelling(ctx context.Context, t *testing.T, conn *pgx.Conn, e *Engine, tc encodingCase, sp encodingSpelling) {
	t.Helper()
	sql := "SELECT x FROM " + sp.sql
	var read string
	err := conn.QueryRow(ctx, "SELECT c.relname::text FROM pg_catalog.pg_class c WHERE c.oid = (SELECT t.tableoid FROM "+sp.sql+" t LIMIT 1)").Scan(&read)
	var pgErr *pgconn.PgError
	refused := errors.As(err, &pgErr)
	if err != nil && !refused {
		t.Fatalf("%s: %v", sql, err)
	}
	v := e.Decide(Identity{}, sql)
	switch {
	case refused:
		if v.Allowed {
			t.Errorf("%s: the server refuses it (%s %s) but the engine allows it as %v", sql, pgErr.Code, pgErr.Message, v.Relations)
		}
		return
	case !v.Allowed && v.Rule == "identifier.encoding" && !sp.exact:
		return
	case !v.Allowed && v.Rule == RuleRelation && slices.Contains(tc.denied, read):
		if want := quoteQualified("public", read); !strings.Contains(v.Reason, want) {
			t.Errorf("%s: denied for %q, but the server reads %q", sql, v.Reason, read)
		}
		return
	case !v.Allowed:
		t.Errorf("%s: denied by %s (%s); the server reads %q", sql, v.Rule, v.Reason, read)
		return
	}
	want := []RelationName{{Schema: "public", Name: read}}
	if !slices.Equal(v.Relations, want) {
		t.Errorf("%s: engine judged %q; the server reads %q", sql, v.Relations, read)
	}
	if slices.Contains(tc.denied, read) {
		t.Errorf("%s: allowed, but the server reads the denied relation %q", sql, read)
	}
}
