package main

import "github.com/jackc/pgx/v5/pgconn"

// dbNameOf is the database a DSN names ("" when it does not parse).
func dbNameOf(dsn string) string {
	c, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	return c.Database
}
