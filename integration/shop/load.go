package shop

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Load creates the shop schema, roles, data, indexes, keys and row-level
// security in the (empty) database superuserDSN names, connecting as a
// superuser. On error the database is left half built; drop it.
func Load(ctx context.Context, superuserDSN string, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	main, err := pgx.Connect(ctx, superuserDSN)
	if err != nil {
		return fmt.Errorf("shop: connect: %w", err)
	}
	defer main.Close(context.WithoutCancel(ctx))
	if err := checkTarget(ctx, main); err != nil {
		return err
	}
	if err := ensureRoles(ctx, main, opts.ReaderPassword); err != nil {
		return err
	}
	if err := execScript(ctx, main, "schema.sql"); err != nil {
		return fmt.Errorf("shop: schema: %w", err)
	}
	l, err := openLoader(ctx, superuserDSN, main, opts)
	if err != nil {
		return err
	}
	defer l.close(context.WithoutCancel(ctx))
	return l.build(ctx)
}

// checkTarget refuses a non-superuser connection and a database that was
// already loaded.
func checkTarget(ctx context.Context, conn *pgx.Conn) error {
	var super, loaded bool
	err := conn.QueryRow(ctx, `SELECT rolsuper, to_regclass('public.customers') IS NOT NULL
		FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&super, &loaded)
	if err != nil {
		return fmt.Errorf("shop: inspect target: %w", err)
	}
	if !super {
		return errors.New("shop: Load needs a superuser connection: it creates roles and row-level security")
	}
	if loaded {
		return ErrAlreadyLoaded
	}
	return nil
}

// build runs the phases after the schema exists. Each phase finishes on
// every connection before the next starts.
func (l *loader) build(ctx context.Context) error {
	if err := l.run(ctx, dataJobs(l.opts.Scale)); err != nil {
		return err
	}
	trgm, err := enableTrigrams(ctx, l.main)
	if err != nil {
		return err
	}
	if err := l.run(ctx, indexJobs(trgm)); err != nil {
		return err
	}
	if err := execScript(ctx, l.main, "constraints.sql"); err != nil {
		return fmt.Errorf("shop: constraints: %w", err)
	}
	validate, err := validateJobs(ctx, l.main)
	if err != nil {
		return err
	}
	if err := l.run(ctx, validate); err != nil {
		return err
	}
	if err := execScript(ctx, l.main, "security.sql"); err != nil {
		return fmt.Errorf("shop: security: %w", err)
	}
	return l.run(ctx, analyzeJobs())
}

// enableTrigrams installs pg_trgm when the server ships it and reports
// whether trigram indexes can be built.
func enableTrigrams(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var available bool
	err := conn.QueryRow(ctx,
		"SELECT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'pg_trgm')").Scan(&available)
	if err != nil || !available {
		return false, err
	}
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm"); err != nil {
		return false, fmt.Errorf("shop: pg_trgm: %w", err)
	}
	return true, nil
}

// execScript runs an embedded multi-statement file with the simple query
// protocol.
func execScript(ctx context.Context, conn *pgx.Conn, name string) error {
	_, err := conn.PgConn().Exec(ctx, script(name)).ReadAll()
	return err
}
