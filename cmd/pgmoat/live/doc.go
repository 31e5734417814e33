// Package live is what changes while pgmoat runs: the configuration in
// force, which RELOAD and SIGHUP re-read from its file, and the policy
// engine's view of the catalog, which follows each schema snapshot.
//
// A reload is transactional. The file is loaded and validated whole; the
// settings that can change live (profiles, proxy users, admin users,
// mcp.log_values) are compiled first, then the proxy's logins swapped
// (the step that can fail, undone if the profiles then fail), then the
// profiles; a file that does not load, or a part that is refused, leaves
// the running config in force. Every other key waits for a restart and
// is listed under restart_pending in SHOW CONFIG. The schema is re-read
// after the config, and the answer says what changed in each.
//
// Profiles keeps the engine's profiles in step with two inputs that
// change independently: the config in force and the schemas the backend
// role holds USAGE on. A profile without allow_schemas reads, online,
// every schema the role may use (the database is the authorization
// layer); offline it reads public alone. Catalog answers the engine's
// questions about functions, operators and relations from a snapshot.
package live
