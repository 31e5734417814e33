package policy

// sensitiveRelations are never readable, whatever a profile allows: they
// hold password hashes, user-mapping secrets, sampled column values that
// bypass row-level security, server file contents, other sessions' SQL or
// the state other sessions left on a shared backend. An entry "*.name"
// matches the name in every schema, for objects an extension creates
// wherever it was installed.
//
// The views of pg_catalog whose names suggest sessions or server
// internals were reviewed one by one on PostgreSQL 15; the ones left
// readable are in reviewedAllowed with the reason.
func sensitiveRelations() []string {
	return []string{
		"pg_catalog.pg_authid",
		"pg_catalog.pg_shadow",
		"pg_catalog.pg_user_mapping",
		"pg_catalog.pg_user_mappings",
		"pg_catalog.pg_statistic",
		"pg_catalog.pg_statistic_ext_data",
		"pg_catalog.pg_stats",
		"pg_catalog.pg_stats_ext",
		"pg_catalog.pg_stats_ext_exprs",
		"pg_catalog.pg_largeobject",
		"pg_catalog.pg_largeobject_metadata",
		"pg_catalog.pg_subscription",
		"pg_catalog.pg_file_settings",
		"pg_catalog.pg_hba_file_rules",
		"pg_catalog.pg_ident_file_mappings",
		"pg_catalog.pg_config",
		// other sessions: their SQL, identities, client addresses, TLS and
		// GSSAPI details, what they lock and what they are working on
		"pg_catalog.pg_stat_activity",
		"pg_catalog.pg_stat_ssl",
		"pg_catalog.pg_stat_gssapi",
		"pg_catalog.pg_locks",
		"pg_catalog.pg_stat_progress_analyze",
		"pg_catalog.pg_stat_progress_basebackup",
		"pg_catalog.pg_stat_progress_cluster",
		"pg_catalog.pg_stat_progress_copy",
		"pg_catalog.pg_stat_progress_create_index",
		"pg_catalog.pg_stat_progress_vacuum",
		"pg_catalog.pg_prepared_xacts", // other sessions' two-phase transactions and owners
		// session state a shared backend keeps across borrowers: prepared
		// statements (their text, literals included) and open cursors of
		// whoever borrowed the backend before
		"pg_catalog.pg_prepared_statements",
		"pg_catalog.pg_cursors",
		// every normalized statement of every session, with counts and
		// timings; the extension installs its views in any schema
		"*.pg_stat_statements",
		"*.pg_stat_statements_info",
		// replication and subscriptions: connection strings, senders'
		// addresses, slot and origin positions
		"pg_catalog.pg_replication_slots",
		"pg_catalog.pg_stat_replication",
		"pg_catalog.pg_stat_replication_slots",
		"pg_catalog.pg_stat_wal_receiver",
		"pg_catalog.pg_stat_subscription",
		"pg_catalog.pg_stat_subscription_stats",
		"pg_catalog.pg_replication_origin_status",
		// server memory: the backend's memory contexts are named after the
		// statements they cache (other borrowers' SQL); shared memory
		// allocations are the server's internals
		"pg_catalog.pg_backend_memory_contexts",
		"pg_catalog.pg_shmem_allocations",
		// "this transaction's" counters: PostgreSQL 15 keeps a backend's
		// pending statistics until they are flushed, past DISCARD ALL,
		// so on a shared backend they show what the previous borrower
		// read (the functions behind them are volatile, too)
		"pg_catalog.pg_stat_xact_all_tables",
		"pg_catalog.pg_stat_xact_sys_tables",
		"pg_catalog.pg_stat_xact_user_tables",
		"pg_catalog.pg_stat_xact_user_functions",
		// per-relation scan, tuple and block counters: a scan counts
		// what it read before row-level security filtered it (an index
		// scan for a value fetches every identity's rows holding it), and
		// which scan ran follows statistics of every row
		"pg_catalog.pg_stat_all_tables",
		"pg_catalog.pg_stat_user_tables",
		"pg_catalog.pg_stat_all_indexes",
		"pg_catalog.pg_stat_user_indexes",
		"pg_catalog.pg_statio_all_tables",
		"pg_catalog.pg_statio_user_tables",
		"pg_catalog.pg_statio_all_indexes",
		"pg_catalog.pg_statio_user_indexes",
		// sequence positions count the rows every identity created,
		// past row-level security (the view calls the volatile
		// pg_sequence_last_value, itself denied when named)
		"pg_catalog.pg_sequences",
		// which relations' pages the server caches: what other sessions
		// read (the extension creates the view in any schema)
		"*.pg_buffercache",
		"information_schema.user_mapping_options",
		"information_schema.user_mappings",
		"information_schema._pg_user_mappings",
		"information_schema.foreign_server_options",
	}
}

// builtinDenyFunctions are denied in every profile, before volatility is
// looked at and whatever the allow list says. Entries without a schema
// match the name in any schema; a trailing "*" matches a prefix. Many are
// volatile anyway; they are listed so that an allow list or a catalog
// mistake cannot open them, and some (query_to_xml, ts_stat, txid_current)
// are stable yet run SQL text or write.
func builtinDenyFunctions() []string {
	return []string{
		// settings and identity
		"set_config",
		// time and resource burners
		"pg_sleep", "pg_sleep_for", "pg_sleep_until",
		// server files and programs
		"pg_read_file", "pg_read_binary_file", "pg_read_*",
		"pg_ls_*", "pg_stat_file", "pg_file_*", "pg_logdir_ls",
		"pg_current_logfile",
		// large objects
		"lo_*", "loread", "lowrite",
		// other databases
		"dblink*", "postgres_fdw_*",
		// functions that run SQL text given as an argument (the SQL-runner
		// oracle test calls every function of PostgreSQL 15 and its
		// contrib extensions with such text and fails for any it finds
		// allowed here)
		"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
		"cursor_to_xml", "cursor_to_xmlschema",
		"table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
		"schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema",
		"database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
		"ts_stat", "ts_rewrite",
		// contrib functions declared STABLE that run SQL text given as an
		// argument (tablefunc's crosstab, and the custom crosstabN its
		// documentation has users declare) or build it from relation and
		// column names (connectby, xml2's xpath_table)
		"crosstab*", "connectby", "xpath_table",
		// other sessions and the server itself
		"pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
		"pg_rotate_logfile", "pg_promote", "pg_log_backend_memory_contexts",
		"pg_stat_reset*", "pg_switch_wal", "pg_create_restore_point",
		"pg_backup_start", "pg_backup_stop", "pg_start_backup", "pg_stop_backup",
		"pg_wal_replay_*", "pg_import_system_collations",
		"pg_create_*_replication_slot", "pg_drop_replication_slot",
		"pg_copy_*_replication_slot", "pg_replication_*", "pg_logical_*",
		"pg_export_snapshot",
		// locks
		"pg_advisory_*", "pg_try_advisory_*",
		// sequences and transaction ids: they write
		"nextval", "setval", "currval", "lastval",
		"txid_current", "txid_current_if_assigned",
		"pg_current_xact_id", "pg_current_xact_id_if_assigned",
		// notifications
		"pg_notify",
		// other sessions' SQL and addresses (what pg_stat_activity shows)
		"pg_stat_get_activity", "pg_stat_get_backend_*",
		"pg_stat_get_wal_receiver", "pg_stat_get_wal_senders",
		"pg_get_replication_slots",
		// pg_buffercache's readers of the shared buffer cache
		"pg_buffercache_pages", "pg_buffercache_summary", "pg_buffercache_usage_counts",
		// a sequence's position, read past row-level security
		"pg_sequence_last_value",
		// the previous borrower's pending statistics (pg_stat_xact_*)
		"pg_stat_get_xact_*",
		// what each relation's scans read, before row-level security
		// (behind pg_stat_user_tables and pg_statio_user_tables)
		"pg_stat_get_tuples_*", "pg_stat_get_numscans", "pg_stat_get_blocks_*",
		// what other sessions are working on (behind pg_stat_progress_*)
		"pg_stat_get_progress_info",
		// locks of every session, and which sessions block which: pids,
		// relations, advisory-lock keys (behind pg_locks)
		"pg_lock_status", "pg_blocking_pids", "pg_safe_snapshot_blocking_pids",
		"pg_isolation_test_session_is_blocked", "pg_get_multixact_members",
		// transactions of other sessions: the ids in flight, the last
		// commit and its time, two-phase transactions and their owners
		"pg_current_snapshot", "txid_current_snapshot",
		"pg_last_committed_xact", "pg_xact_commit_timestamp",
		"pg_xact_commit_timestamp_origin", "pg_prepared_xact",
		// session state a shared backend keeps across borrowers: the text
		// (with literals) of statements others prepared, their open
		// cursors, the channels they LISTEN on
		"pg_prepared_statement", "pg_cursor", "pg_listening_channels",
		// every session's normalized statements; the extension installs
		// these in any schema, which an unqualified entry matches
		"pg_stat_statements", "pg_stat_statements_info", "pg_stat_statements_reset",
		// replication and subscriptions: workers' pids and positions,
		// per-slot and per-origin state (behind pg_stat_subscription*,
		// pg_stat_replication_slots, pg_replication_origin_status)
		"pg_stat_get_subscription", "pg_stat_get_subscription_stats",
		"pg_stat_get_replication_slot", "pg_show_replication_origin_status",
		// server configuration and internals: build paths and flags,
		// configuration files, authentication rules, the control file,
		// memory contexts named after cached statements, shared memory
		"pg_config", "pg_show_all_file_settings", "pg_hba_file_rules",
		"pg_ident_file_mappings", "pg_control_*",
		"pg_get_backend_memory_contexts", "pg_get_shmem_allocations",
		// extensions that read other sessions' rows and writes without
		// row-level security: raw pages (pageinspect), row locks
		// (pgrowlocks), WAL records (pg_walinspect)
		"get_raw_page", "heap_page_items", "heap_page_item_attrs",
		"tuple_data_split", "bt_page_items", "brin_page_items",
		"gin_leafpage_items", "gist_page_items", "gist_page_items_bytea",
		"hash_page_items", "pgrowlocks",
		"pg_get_wal_record_info", "pg_get_wal_records_info",
		"pg_get_wal_records_info_till_end_of_wal", "pg_get_wal_stats",
		"pg_get_wal_stats_till_end_of_wal",
	}
}

// reviewed is a catalog object the engine lets through although its name
// suggests it shows other sessions or server internals, and why.
type reviewed struct{ name, why string }

// Reasons shared by several reviewed objects.
const (
	whyServerCounters = "server-wide counters: no session, statement text, identity or address"
	whyDBCounters     = "per-database counters: numbers, no session, statement text or identity"
	whyObjCounters    = "per-table, per-index or per-function counters: numbers, no session or statement text"
	whySysCounters    = "scan counters of the system catalogs, which have no row-level security"
	whyOwnSession     = "the caller's own session: what SHOW already answers"
	whyArgOnly        = "computes from its arguments alone"
	whyOwnConnection  = "the address of the connection this backend serves: pgmoat's own pool connection, never another client's"
	whyStartTimes     = "when the server started or read its configuration: one timestamp, no session data"
	whyOwnBackend     = "this backend's own pid; every function that acts on a pid is denied"
	whyOwnTemp        = "the caller's own temporary schema, or whether an oid is another session's temporary schema"
	whyStatus         = "reads whether and how far the server is in recovery or how far WAL has been written: read-only status, nothing of another session, changes nothing"
)

// statusFunctions are volatile functions every profile may call: they
// only read the server's status, cannot change anything and show nothing
// of another session. Database tools call them on connect (pgAdmin asks
// pg_is_in_recovery() and pg_is_wal_replay_paused(); DBeaver and DataGrip
// ask for the WAL position on their dashboards). The functions that
// change that status (pg_wal_replay_pause, pg_promote, pg_switch_wal)
// stay on builtinDenyFunctions, which wins.
func statusFunctions() []reviewed {
	return []reviewed{
		{"pg_is_in_recovery", whyStatus},
		{"pg_is_wal_replay_paused", whyStatus},
		{"pg_get_wal_replay_pause_state", whyStatus},
		{"pg_last_wal_receive_lsn", whyStatus},
		{"pg_last_wal_replay_lsn", whyStatus},
		{"pg_last_xact_replay_timestamp", whyStatus},
		{"pg_current_wal_lsn", whyStatus},
		{"pg_current_wal_insert_lsn", whyStatus},
		{"pg_current_wal_flush_lsn", whyStatus},
		{"pg_jit_available", "whether JIT compilation is available in this session: one boolean"},
	}
}

// reviewedAllowed are the pg_catalog views and stable or immutable
// functions whose names suggest sessions or server internals but which
// show only the caller's own data, aggregate numbers or a computation on
// their arguments. They need no entry to be allowed (the catalog allows
// them); they are written down so that the review is visible and a test
// can tell a newly added catalog object from a reviewed one. A trailing
// "*" covers a family.
func reviewedAllowed() []reviewed {
	return []reviewed{
		// views
		{"pg_settings", whyOwnSession},
		{"pg_stat_archiver", whyServerCounters},
		{"pg_stat_bgwriter", whyServerCounters},
		{"pg_stat_wal", whyServerCounters},
		{"pg_stat_slru", whyServerCounters},
		{"pg_stat_recovery_prefetch", whyServerCounters},
		{"pg_stat_database", whyDBCounters},
		{"pg_stat_database_conflicts", whyDBCounters},
		{"pg_stat_sys_tables", whySysCounters},
		{"pg_stat_sys_indexes", whySysCounters},
		{"pg_stat_user_functions", whyObjCounters},
		// functions behind those views
		{"pg_show_all_settings", whyOwnSession},
		{"pg_settings_get_flags", "the flags of a setting's definition, not its value"},
		{"pg_client_encoding", whyOwnSession},
		{"pg_stat_get_archiver", whyServerCounters},
		{"pg_stat_get_wal", whyServerCounters},
		{"pg_stat_get_slru", whyServerCounters},
		{"pg_stat_get_bgwriter_*", whyServerCounters},
		{"pg_stat_get_buf_*", whyServerCounters},
		{"pg_stat_get_checkpoint_*", whyServerCounters},
		{"pg_stat_get_snapshot_timestamp", "when the caller's own statistics snapshot was taken"},
		{"pg_stat_get_db_*", whyDBCounters},
		{"pg_stat_get_live_tuples", whyObjCounters},
		{"pg_stat_get_dead_tuples", whyObjCounters},
		{"pg_stat_get_ins_since_vacuum", whyObjCounters},
		{"pg_stat_get_mod_since_analyze", whyObjCounters},
		{"pg_stat_get_last_*", whyObjCounters},
		{"pg_stat_get_vacuum_count", whyObjCounters},
		{"pg_stat_get_autovacuum_count", whyObjCounters},
		{"pg_stat_get_analyze_count", whyObjCounters},
		{"pg_stat_get_autoanalyze_count", whyObjCounters},
		{"pg_stat_get_function_*", whyObjCounters},
		// status of this backend and the server
		{"pg_backend_pid", whyOwnBackend},
		{"pg_postmaster_start_time", whyStartTimes},
		{"pg_conf_load_time", whyStartTimes},
		{"pg_my_temp_schema", whyOwnTemp},
		{"pg_is_other_temp_schema", whyOwnTemp},
		{"inet_server_addr", whyOwnConnection},
		{"inet_server_port", whyOwnConnection},
		{"inet_client_addr", whyOwnConnection},
		{"inet_client_port", whyOwnConnection},
		// computations on a snapshot, an LSN or a number given as argument
		{"pg_snapshot_xip", whyArgOnly},
		{"pg_snapshot_xmin", whyArgOnly},
		{"pg_snapshot_xmax", whyArgOnly},
		{"pg_visible_in_snapshot", whyArgOnly},
		{"txid_snapshot_*", whyArgOnly},
		{"txid_visible_in_snapshot", whyArgOnly},
		{"pg_wal_lsn_diff", whyArgOnly},
		{"pg_indexam_progress_phasename", "maps an index method's phase number to its name"},
		// names that match the review's pattern by accident
		{"inet_spg_config", "an SP-GiST support function: takes an internal argument, not callable from SQL"},
		{"pg_ts_config_is_visible", "whether a text-search configuration is on the caller's search path"},
	}
}
