package introspect

// The catalog queries. Each one reads every relation at once: the cost of a
// snapshot is a fixed number of statements, never one per table.

// relFilter selects the relations pgmoat exposes: tables, views,
// materialized views, partitioned-table parents and foreign tables in user
// schemas, excluding partitions (the parent is the table people query) and
// objects that belong to an extension.
const relFilter = `rel AS (
  SELECT c.oid
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
    AND NOT c.relispartition
    AND n.nspname <> 'information_schema'
    AND n.nspname NOT LIKE 'pg\_%'
    AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
)`

const qInfo = `SELECT current_database(), current_user,
  current_setting('server_version_num')::int,
  current_setting('server_encoding'),
  current_setting('lc_ctype'),
  transaction_timestamp(),
  coalesce((SELECT array_agg(extname::text ORDER BY extname) FROM pg_catalog.pg_extension), '{}')`

const qSchemas = `SELECT n.nspname, coalesce(d.description, ''), has_schema_privilege(n.oid, 'USAGE')
FROM pg_catalog.pg_namespace n
LEFT JOIN pg_catalog.pg_description d
  ON d.objoid = n.oid AND d.classoid = 'pg_catalog.pg_namespace'::regclass AND d.objsubid = 0
WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
ORDER BY n.nspname`

const qRelations = `WITH ` + relFilter + `
SELECT c.oid, n.nspname, c.relname, c.relkind::text, coalesce(d.description, ''),
  c.relrowsecurity, c.relforcerowsecurity,
  CASE WHEN c.relkind IN ('r', 'm', 'p', 'f') THEN c.reltuples::int8 ELSE -1 END,
  has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT')
FROM rel
JOIN pg_catalog.pg_class c ON c.oid = rel.oid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_description d
  ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
ORDER BY n.nspname, c.relname`

// qClasses reads every relation name of the user schemas, of every kind,
// for name resolution: PostgreSQL resolves a name in FROM to the first
// schema of the path holding a pg_class entry of that name, whatever its
// kind, and reads a sequence or a partition as readily as a table. An
// inheritance child of a table with row-level security (at any depth) is
// marked: read by its own name it is read without the parent's policies,
// as a partition is. So is a relation with row-level security: the
// planner's estimates for it come from every identity's rows.
const qClasses = `WITH RECURSIVE guarded(oid) AS (
  SELECT i.inhrelid FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
  WHERE p.relrowsecurity
  UNION
  SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN guarded g ON i.inhparent = g.oid
)
SELECT n.nspname, c.relname, c.relkind::text, c.relispartition,
  EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'),
  c.oid IN (SELECT oid FROM guarded), c.relrowsecurity
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
ORDER BY n.nspname, c.relname`

// qNamedTypes reads the types a Parse may name by OID beyond the ones
// the server release fixes: all outside pg_catalog (but the TOAST and
// temporary schemas), and pg_catalog's from OID 10000 up.
const qNamedTypes = `SELECT t.oid, n.nspname, t.typname,
  CASE WHEN t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1 THEN 'A' ELSE t.typtype::text END,
  CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE 0 END
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE (n.nspname <> 'pg_catalog' OR t.oid >= 10000)
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY t.oid`

const qColumns = `WITH ` + relFilter + `,
tp AS MATERIALIZED (SELECT rel.oid, has_table_privilege(rel.oid, 'SELECT') AS ok FROM rel)
SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod,
  format_type(a.atttypid, a.atttypmod), a.attnotnull,
  coalesce(pg_get_expr(ad.adbin, CASE WHEN a.attgenerated <> '' THEN ad.adrelid ELSE 0 END), ''),
  a.attgenerated <> '', a.attidentity <> '',
  coalesce(d.description, ''),
  CASE WHEN tp.ok THEN true ELSE has_column_privilege(a.attrelid, a.attnum, 'SELECT') END
FROM tp
JOIN pg_catalog.pg_attribute a ON a.attrelid = tp.oid
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_catalog.pg_description d
  ON d.objoid = a.attrelid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

// qTypes reads every type a column uses, and transitively the bases of
// domains and the elements of arrays.
const qTypes = `WITH RECURSIVE ` + relFilter + `,
used(oid) AS (
  SELECT DISTINCT a.atttypid
  FROM rel JOIN pg_catalog.pg_attribute a ON a.attrelid = rel.oid
  WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION
  SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END
  FROM used JOIN pg_catalog.pg_type t ON t.oid = used.oid
  WHERE t.typtype = 'd' OR (t.typelem <> 0 AND t.typlen = -1)
)
SELECT t.oid, n.nspname, t.typname, t.typtype::text, t.typcategory::text,
  t.typelem, t.typlen, t.typbasetype, t.typtypmod, t.typnotnull,
  coalesce(d.description, ''),
  coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
            FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '{}')
FROM used
JOIN pg_catalog.pg_type t ON t.oid = used.oid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_description d
  ON d.objoid = t.oid AND d.classoid = 'pg_catalog.pg_type'::regclass AND d.objsubid = 0`

// qIndexes returns one row per key column of every index. Expression keys
// are deparsed; plain keys are named by their column, which is much cheaper.
const qIndexes = `WITH ` + relFilter + `
SELECT i.indrelid, ic.relname, am.amname, i.indisunique, i.indisprimary,
  i.indisvalid AND i.indisready AND i.indislive,
  coalesce(pg_get_expr(i.indpred, i.indrelid, true), ''),
  coalesce(a.attname, ''),
  CASE WHEN k.attnum = 0 THEN pg_get_indexdef(i.indexrelid, k.ord::int, true) ELSE a.attname END,
  coalesce(oc.opcname, ''),
  coalesce(k.opt & 1 = 1, false)
FROM rel
JOIN pg_catalog.pg_index i ON i.indrelid = rel.oid
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[], i.indoption::int2[])
  WITH ORDINALITY AS k(attnum, opclass, opt, ord)
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass
WHERE k.ord <= i.indnkeyatts
ORDER BY i.indrelid, ic.relname, k.ord`

// qConstraints reads primary keys, unique constraints and foreign keys;
// key columns come as attnums and are named from the column rows. Foreign
// keys that PostgreSQL clones onto partitions (conparentid <> 0) are left
// out: the parent's constraint is the one that matters.
const qConstraints = `WITH ` + relFilter + `
SELECT con.conrelid, con.conname, con.contype::text, con.conkey,
  con.confrelid, coalesce(fn.nspname, ''), coalesce(fc.relname, ''), coalesce(con.confkey, '{}')
FROM rel
JOIN pg_catalog.pg_constraint con ON con.conrelid = rel.oid
LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'u', 'f') AND con.conparentid = 0
ORDER BY con.conrelid, con.conname`

// qFunctions reads every function with the volatility of what calling it
// by name runs, which is more than its own provolatile: an aggregate's
// transition, final, combine, serial and moving-aggregate functions run
// (CREATE AGGREGATE records the aggregate itself as immutable, whatever
// they are), and so do the functions its argument defaults call, which
// PostgreSQL inserts into the caller's query. The defaults' stored
// expression (proargdefaults) names them as the funcid of a call and the
// opfuncid of an operator, as a domain CHECK does (checkFunctions):
// pg_depend records nothing for pinned pg_catalog functions such as
// set_config.
const qFunctions = `SELECT p.oid, n.nspname, p.proname,
  pg_get_function_identity_arguments(p.oid), p.prokind::text,
  (SELECT CASE WHEN 'v' = ANY (v.vols) THEN 'v' WHEN 's' = ANY (v.vols) THEN 's' ELSE 'i' END
   FROM (SELECT pg_catalog.array_agg(f.provolatile::pg_catalog.text) FROM pg_catalog.pg_proc f
     WHERE f.oid IN (
       SELECT p.oid
       UNION ALL
       SELECT pg_catalog.unnest(ARRAY[a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
         a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn]::pg_catalog.oid[])
       FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid
       UNION ALL
       SELECT x[1]::pg_catalog.oid
       FROM pg_catalog.regexp_matches(p.proargdefaults::pg_catalog.text, ':(?:funcid|opfuncid) ([0-9]+)', 'g') x)) v(vols)),
  p.prosecdef, p.proretset
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY n.nspname, p.proname, 4`
