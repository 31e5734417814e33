package policy

// sensitiveRelations are never readable, whatever a profile allows: they
// hold password hashes, user-mapping secrets, sampled column values that
// bypass row-level security, server file contents or other sessions' SQL.
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
		"pg_catalog.pg_stat_activity",
		"pg_catalog.pg_stat_statements",
		"pg_catalog.pg_replication_slots",
		"pg_catalog.pg_stat_replication",
		"pg_catalog.pg_stat_wal_receiver",
		"pg_catalog.pg_stat_subscription",
		"pg_catalog.pg_prepared_xacts",
		"pg_catalog.pg_backend_memory_contexts",
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
		// functions that run SQL text given as an argument
		"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
		"cursor_to_xml", "cursor_to_xmlschema",
		"table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
		"schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema",
		"database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
		"ts_stat", "ts_rewrite",
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
	}
}
