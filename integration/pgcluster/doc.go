// Package pgcluster starts and stops throwaway PostgreSQL clusters built from
// the server binaries installed on the machine.
//
// It owns everything a cluster needs on disk (a private directory holding
// the data directory, the unix socket and the server log, made in /dev/shm
// when that is a roomy memory file system and TMPDIR is unset, else in the
// temporary directory: basedir.go) and the postmaster process itself.
// Close stops the server and removes the directory;
// nothing survives it, including after a start that failed half way, except
// one thing shared by all clusters: the data directory initdb writes is the
// same every time, so the first start keeps a copy beside the clusters
// (pgmoat-initdb-<hash of the binaries and arguments>) and later starts copy
// it instead of running initdb again (initdbcache.go).
//
// The cluster listens on a free 127.0.0.1 port. The bootstrap superuser is
// "postgres" and may connect from loopback without a password; every other
// role authenticates with scram-sha-256, so tests can exercise real password
// checks against roles they create.
//
// When the calling process runs as root, initdb and postgres run as the
// "postgres" account (PostgreSQL refuses to run as root), and the private
// directory is handed to that account. ServerAccount is exported so that
// the PgBouncer helper and the bench harness run their servers the same
// way.
//
// Every cluster is ready to be a primary (wal_level replica, replication
// from loopback for the superuser): StartReplica makes a streaming replica
// with pg_basebackup -R, started on its own port, and WaitReplayed and
// Promote serve the tests of replica routing.
//
// Tests share one cluster per package through Shared (from TestMain), or
// through Lazy when most of a package's tests need no database (the cluster
// then starts with the first test that asks for it), and take a fresh
// database per test with NewDatabase where isolation matters, or with
// NewDatabaseFrom a copy of a database loaded once (CREATE DATABASE ...
// TEMPLATE copies files, far cheaper than loading the data again).
// The package does not import testing (the helpers take the small Runner
// and TB interfaces instead), because pgmoat demo and the bench harness
// link it into binaries that must not carry the test framework.
package pgcluster
