// Package schemagen writes the DDL of synthetic schemas with any number of
// tables, for tests and benchmarks that need a large catalog: every table
// has a primary key, a secondary index, comments, a mix of column types and
// a foreign key to its predecessor, so introspection and tool generation do
// their full work on each one.
package schemagen
