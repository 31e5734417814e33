package introspect_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
	"github.com/pgmoat/pgmoat/introspect"
)

func checks(r *introspect.SafetyReport, sev introspect.Severity) map[string]string {
	out := map[string]string{}
	for _, f := range r.Findings {
		if f.Severity == sev {
			out[f.Check] = f.Message
		}
	}
	return out
}

func TestCheckRole(t *testing.T) {
	ctx := context.Background()
	db := pgcluster.NewDatabase(t, cluster)
	if err := shop.Load(ctx, cluster.DSN(db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, cluster.DSN(db), `
		DROP ROLE IF EXISTS sloppy_reader;
		CREATE ROLE sloppy_reader LOGIN PASSWORD 'sloppy' BYPASSRLS;
		GRANT USAGE, CREATE ON SCHEMA public TO sloppy_reader;
		GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO sloppy_reader;
		GRANT pg_read_server_files TO sloppy_reader;
		CREATE TABLE public.scratch (x int); ALTER TABLE public.scratch OWNER TO sloppy_reader;`)
	t.Cleanup(func() {
		execSQL(t, cluster.DSN(db), "DROP TABLE public.scratch; DROP OWNED BY sloppy_reader; DROP ROLE sloppy_reader")
	})

	safe, err := introspect.CheckRole(ctx, connect(t, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db)), introspect.SafetyOptions{RLSSetting: shop.UserIDSetting})
	if err != nil {
		t.Fatal(err)
	}
	if u := safe.Unsafe(); len(u) > 0 {
		t.Fatalf("the shop reader role is reported unsafe: %+v", u)
	}
	if w := checks(safe, introspect.Warning); !strings.Contains(w["tables.without_rls"], "public.products") {
		t.Errorf("products (public, no RLS) not reported: %v", w)
	}

	sloppy, err := introspect.CheckRole(ctx, connect(t, cluster.DSNFor("sloppy_reader", "sloppy", db)), introspect.SafetyOptions{RLSSetting: shop.UserIDSetting})
	if err != nil {
		t.Fatal(err)
	}
	if w := checks(sloppy, introspect.Warning); !strings.Contains(w["tables.without_rls"], "public.scratch") {
		t.Errorf("sloppy role: public.scratch (no RLS) not reported; got %v", w)
	}
	if w := checks(sloppy, introspect.Warning); !strings.Contains(w["tables.without_comment"], "public.scratch") || strings.Contains(w["tables.without_comment"], "public.orders") {
		t.Errorf("sloppy role: public.scratch (no COMMENT) not reported, or commented orders reported; got %v", w)
	}
	if u := sloppy.Unsafe(); len(u) > 0 {
		t.Errorf("CheckRole reports unsafe findings, which are the pool's: %v", u)
	}
}

// TestCheckSQLRunners: doctor names the functions that run SQL text which
// the role may execute, including a PL/pgSQL function using EXECUTE, and
// the REVOKE statements it prints remove every one of them.
func TestCheckSQLRunners(t *testing.T) {
	ctx := context.Background()
	db := pgcluster.NewDatabase(t, cluster)
	if err := shop.Load(ctx, cluster.DSN(db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, cluster.DSN(db), `
		CREATE EXTENSION tablefunc;
		CREATE FUNCTION public.my_pivot(text) RETURNS SETOF record AS '$libdir/tablefunc', 'crosstab' LANGUAGE c STABLE STRICT;
		CREATE FUNCTION public.run_text(q text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE q; END $$;
		CREATE FUNCTION public.plain(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x + 1; END $$;`)
	readerDSN := cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db)
	finding := func() introspect.Finding {
		r, err := introspect.CheckRole(ctx, connect(t, readerDSN), introspect.SafetyOptions{RLSSetting: shop.UserIDSetting})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range r.Findings {
			if f.Check == "functions.sql_text" {
				return f
			}
		}
		t.Fatalf("no functions.sql_text finding: %+v", r.Findings)
		return introspect.Finding{}
	}
	f := finding()
	if f.Severity != introspect.Warning {
		t.Fatalf("PUBLIC may execute ts_stat by default, yet: %+v", f)
	}
	var revokes []string
	for _, line := range strings.Split(f.Message, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "REVOKE ") {
			revokes = append(revokes, line)
		}
	}
	all := strings.Join(revokes, "\n")
	for _, want := range []string{"ts_stat(text)", "query_to_xml(", "cursor_to_xml(", "ts_rewrite(tsquery,text)", "run_text(text)",
		"crosstab(text)", "crosstab(text,text)", "crosstab2(text)", "connectby(text,text,text,text,integer)", "my_pivot(text)"} {
		if !strings.Contains(all, want) {
			t.Errorf("no REVOKE for %s in:\n%s", want, all)
		}
	}
	if strings.Contains(all, "plain(") || !strings.Contains(all, "FROM PUBLIC, "+shop.ReaderRole+";") {
		t.Errorf("REVOKEs name a function without EXECUTE or miss PUBLIC:\n%s", all)
	}
	execSQL(t, cluster.DSN(db), all)
	if f := finding(); f.Severity != introspect.Note {
		t.Errorf("after the printed REVOKEs: %+v", f)
	}
}
