package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

func TestCanonicalEncoding(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, server, want string
	}{
		{"UTF8", "UTF8", "UTF8"},
		{"utf-8", "UTF8", "UTF8"},
		{"Unicode", "UTF8", "UTF8"},
		{"u.t.f_8", "LATIN1", "UTF8"},
		{"utf8", "EUC_JP", "UTF8"},
		{"SQL_ASCII", "UTF8", "SQL_ASCII"},
		{"sql-ascii", "UTF8", "SQL_ASCII"},
		{"SQL_ASCII", "SQL_ASCII", "SQL_ASCII"},
		{"SQL_ASCII", "LATIN1", ""}, // the bytes would be read as LATIN1 characters
		{"SQL_ASCII", "EUC_JP", ""},
		{"SJIS", "UTF8", ""},
		{"shift_jis_2004", "UTF8", ""},
		{"GBK", "UTF8", ""},
		{"BIG5", "UTF8", ""},
		{"LATIN1", "UTF8", ""},
		{"WIN1252", "UTF8", ""},
		{"auto", "UTF8", ""}, // libpq resolves auto itself; the server never sees it
		{"", "UTF8", ""},
	} {
		got, ok := canonicalEncoding(c.name, c.server)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("canonicalEncoding(%q, server %s) = %q, %v; want %q", c.name, c.server, got, ok, c.want)
		}
	}
}

// encodingAttacks are allowed statements whose single literal ends early
// when the server reads the bytes in a client-only multi-byte encoding:
// the last byte of 丁 (E4 B8 81) or 两 (E4 B8 A4) and the backslash form
// one character in SJIS, GBK, BIG5 and their kin, so the quote the policy
// saw escaped closes the literal there and what follows is a statement of
// its own.
var encodingAttacks = []struct{ sql, literal string }{
	{`SELECT E'丁\' ; SELECT 42 --' LIMIT 1`, `丁' ; SELECT 42 --`},
	{`SELECT E'丁\' ; SELECT set_config($$request.user_id$$, $$2$$, false) --' LIMIT 1`,
		`丁' ; SELECT set_config($$request.user_id$$, $$2$$, false) --`},
	{`SELECT E'两\' ; SELECT 42 --' LIMIT 1`, `两' ; SELECT 42 --`},
}

// hostileCorpus is the SQL of policy's hostile corpus
// (policy/hostile_test.go), copied to testdata/hostile.json.
func hostileCorpus(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/hostile.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) < 100 {
		t.Fatalf("hostile corpus has only %d statements", len(out))
	}
	return out
}

// TestEveryClientEncoding connects through the proxy in every client
// encoding PostgreSQL knows. All but UTF8 (in every spelling) and
// SQL_ASCII (on this UTF8 database) are refused at startup; in those two,
// every statement of the hostile corpus gets the verdict the engine gives
// its UTF-8 text, and the encoding attacks are the one literal the policy
// saw.
func TestEveryClientEncoding(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	su := superuser(t, f)
	var serverEncoding string
	if err := su.QueryRow(ctx, "SHOW server_encoding").Scan(&serverEncoding); err != nil {
		t.Fatal(err)
	}
	rows, err := su.Query(ctx, "SELECT pg_catalog.pg_encoding_to_char(i) FROM generate_series(0, 255) i WHERE pg_catalog.pg_encoding_to_char(i) <> ''")
	if err != nil {
		t.Fatal(err)
	}
	encodings, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(encodings) < 40 {
		t.Fatalf("only %d encodings: %v", len(encodings), encodings)
	}
	encodings = append(encodings, "utf-8", "Unicode", "utf8", "sql_ascii", "UTF_8")
	corpus := hostileCorpus(t)
	accepted := 0
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			conn, err := connectEncoding(ctx, f.dsn("alice"), enc)
			_, ok := canonicalEncoding(enc, serverEncoding)
			if !ok {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != "22023" || pgErr.Severity != "FATAL" ||
					!strings.HasPrefix(pgErr.Message, "pgmoat: startup.client_encoding:") || !strings.Contains(pgErr.Message, "UTF8") {
					if conn != nil {
						conn.Close(ctx)
					}
					t.Fatalf("client_encoding %s: want a 22023 FATAL naming startup.client_encoding, got %v", enc, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("client_encoding %s refused: %v", enc, err)
			}
			defer conn.Close(ctx)
			accepted++
			sameVerdicts(t, f.server.engine, conn, corpus)
			for _, a := range encodingAttacks {
				res, err := conn.Exec(ctx, a.sql).ReadAll()
				if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || !strings.HasPrefix(string(res[0].Rows[0][0]), a.literal) {
					t.Fatalf("%s in %s: want one row holding the literal %q, got %d results, err %v", a.sql, enc, a.literal, len(res), err)
				}
			}
		})
	}
	if accepted != 7 { // UTF8, SQL_ASCII and the five spellings
		t.Fatalf("%d encodings accepted, want 7", accepted)
	}
}

// sameVerdicts sends each statement as a simple Query and as an
// extended-protocol Parse and checks the proxy refuses it with exactly
// the engine's verdict on the UTF-8 text.
func sameVerdicts(t *testing.T, engine *policy.Engine, conn *pgconn.PgConn, corpus []string) {
	t.Helper()
	ctx := context.Background()
	id := policy.Identity{UserID: "1", Profile: "readonly"}
	for _, sql := range corpus {
		v := engine.Decide(id, sql)
		if v.Allowed {
			t.Fatalf("hostile statement allowed by the engine: %s", sql)
		}
		want := v.Err()
		_, simpleErr := conn.Exec(ctx, sql).ReadAll()
		extErr := conn.ExecParams(ctx, sql, nil, nil, nil, nil).Read().Err
		for proto, err := range map[string]error{"simple": simpleErr, "extended": extErr} {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != want.SQLState || pgErr.Message != want.Message {
				t.Fatalf("%s (%s): want %s %q, got %v", sql, proto, want.SQLState, want.Message, err)
			}
		}
	}
}

// connectEncoding opens a raw connection with the given client_encoding
// in the startup packet (pgx itself insists on UTF8).
func connectEncoding(ctx context.Context, dsn, enc string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["client_encoding"] = enc
	return pgconn.ConnectConfig(ctx, cfg)
}

// TestEncodingAttackPremise shows that the attacks above are real: sent
// to PostgreSQL directly in the refused multi-byte encodings, the one
// literal the policy sees is several statements.
func TestEncodingAttackPremise(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for _, enc := range []string{"SJIS", "SHIFT_JIS_2004", "GBK", "GB18030", "BIG5"} {
		conn, err := connectEncoding(ctx, cluster.DSN(f.db), enc)
		if err != nil {
			t.Fatal(err)
		}
		// The client's bytes are UTF-8; in enc they are other characters.
		split := false
		for _, a := range encodingAttacks {
			res, err := conn.Exec(ctx, a.sql).ReadAll()
			split = split || err == nil && len(res) >= 2
		}
		conn.Close(ctx)
		if !split {
			t.Fatalf("%s: the server read every attack as the one statement the policy saw; the premise of the encoding rule does not hold", enc)
		}
	}
}

// TestGuardedSettingChangedBehindThePolicy stands in for a hole that lets
// a statement change a setting that decides how bytes are lexed: a view
// the policy may read calls set_config inside. The backend reports the
// change; pgmoat discards the backend and ends the session, and the next
// client lexes as before.
func TestGuardedSettingChangedBehindThePolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()
	if _, err := superuser(t, f).Exec(ctx, `
CREATE VIEW enc_flip AS SELECT pg_catalog.set_config('client_encoding', 'SJIS', false) AS v;
CREATE VIEW scs_flip AS SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false) AS v;
GRANT SELECT ON enc_flip, scs_flip TO proxy_reader;`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ view, setting string }{{"enc_flip", "client_encoding"}, {"scs_flip", "standard_conforming_strings"}} {
		t.Run(c.setting, func(t *testing.T) {
			closed := f.pool.Stats().Closed
			conn, err := connectEncoding(ctx, f.dsn("alice"), "UTF8")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "SELECT v FROM "+c.view).ReadAll()
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Severity != "FATAL" || pgErr.Code != "42501" ||
				!strings.HasPrefix(pgErr.Message, "pgmoat: backend.guarded_setting: the server reports "+c.setting) {
				t.Fatalf("want a FATAL naming backend.guarded_setting, got %v", err)
			}
			if got := f.pool.Stats().Closed; got != closed+1 {
				t.Fatalf("backends closed: %d, want %d (the tampered one)", got, closed+1)
			}
			next := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
			var enc, scs string
			if err := next.QueryRow(ctx, "SELECT current_setting('client_encoding'), current_setting('standard_conforming_strings')").Scan(&enc, &scs); err != nil {
				t.Fatal(err)
			}
			if enc != "UTF8" || scs != "on" {
				t.Fatalf("next borrower runs with client_encoding %s, standard_conforming_strings %s", enc, scs)
			}
		})
	}
}
