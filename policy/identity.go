package policy

// DefaultRLSSetting is the setting both doors put the caller's user id
// in for row-level security policies to read with current_setting(...,
// true), unless rls.setting names another.
const DefaultRLSSetting = "request.user_id"

// Identity is who a statement runs for. Both front doors build one: the
// proxy from the authenticated login, the MCP side from the bearer token.
type Identity struct {
	UserID  string
	Profile string // profile name; "" means DefaultProfile (ProfileName)
}

// ProfileName is the name of the profile that judges id: its Profile, or
// DefaultProfile when that is empty.
func (id Identity) ProfileName() string {
	if id.Profile == "" {
		return DefaultProfile
	}
	return id.Profile
}

// Kind classifies a statement by what it does. The set is closed: every
// statement pg_query can parse maps to one of these.
type Kind string

// Statement kinds. Only KindSelect, KindExplain, KindShow, KindBegin,
// KindCommit, KindRollback, KindClientSetting and KindDeallocate can be
// allowed; the last two carry what the door answers itself.
const (
	KindSelect      Kind = "select"      // SELECT, VALUES, TABLE, set operations, WITH of SELECTs
	KindExplain     Kind = "explain"     // EXPLAIN (never ANALYZE)
	KindShow        Kind = "show"        // SHOW
	KindBegin       Kind = "begin"       // BEGIN, START TRANSACTION
	KindCommit      Kind = "commit"      // COMMIT, END
	KindRollback    Kind = "rollback"    // ROLLBACK, ABORT
	KindTransaction Kind = "transaction" // SAVEPOINT, RELEASE, two-phase commit
	KindSet         Kind = "set"         // SET, RESET, DISCARD, SET ROLE, ALTER SYSTEM
	// KindClientSetting is a SET or RESET of one of the client settings
	// a session may choose (clientset.go); the verdict carries it.
	KindClientSetting Kind = "client_setting"
	KindDML           Kind = "dml"         // INSERT, UPDATE, DELETE, MERGE
	KindCopy          Kind = "copy"        // COPY
	KindDDL           Kind = "ddl"         // CREATE, ALTER, DROP, COMMENT, TRUNCATE, ...
	KindDCL           Kind = "dcl"         // GRANT, REVOKE, roles, policies
	KindPrepare       Kind = "prepare"     // SQL-level PREPARE, EXECUTE
	KindDeallocate    Kind = "deallocate"  // DEALLOCATE [PREPARE] name or ALL; the verdict carries which (Verdict.Deallocate)
	KindCursor        Kind = "cursor"      // DECLARE, FETCH, MOVE, CLOSE
	KindNotify        Kind = "notify"      // LISTEN, NOTIFY, UNLISTEN
	KindProcedural    Kind = "procedural"  // DO, CALL
	KindLock          Kind = "lock"        // LOCK
	KindMaintenance   Kind = "maintenance" // VACUUM, ANALYZE, CHECKPOINT, CLUSTER, REINDEX, LOAD
	KindEmpty         Kind = "empty"       // only whitespace, comments or semicolons (denied; a door may answer it)
	KindUnknown       Kind = "unknown"     // unparsable input
)
