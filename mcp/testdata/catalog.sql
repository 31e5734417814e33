-- A small schema exercising every catalog feature the snapshot records.
CREATE EXTENSION pg_trgm;
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'Application tables.';

CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.short_text AS varchar(20);
CREATE DOMAIN app.label AS app.short_text NOT NULL;
CREATE DOMAIN app.amounts AS numeric(8,2)[];

CREATE TABLE app.people (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email     text NOT NULL UNIQUE,
    name      text NOT NULL,
    nick      app.label,
    mood      app.mood DEFAULT 'ok',
    tags      text[],
    amounts   app.amounts,
    born      date,
    seen_at   timestamptz,
    doc       tsvector GENERATED ALWAYS AS (to_tsvector('english', name)) STORED,
    spot      point
);
COMMENT ON TABLE app.people IS 'Everyone we know.';
COMMENT ON COLUMN app.people.email IS 'Where to write.';
CREATE INDEX people_lower_email ON app.people (lower(email));
CREATE INDEX people_born_partial ON app.people (born) WHERE born IS NOT NULL;
CREATE INDEX people_seen ON app.people (seen_at DESC, id);
CREATE INDEX people_doc ON app.people USING gin (doc);
CREATE INDEX people_name_trgm ON app.people USING gin (name gin_trgm_ops);
CREATE INDEX people_mood_hash ON app.people USING hash (mood);
CREATE INDEX people_incl ON app.people (born) INCLUDE (name);

CREATE TABLE app.notes (
    person_id bigint NOT NULL REFERENCES app.people (id),
    line      int NOT NULL,
    body      text,
    PRIMARY KEY (person_id, line)
);
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.notes FORCE ROW LEVEL SECURITY;

CREATE TABLE app.events (id int NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE VIEW app.happy_people AS SELECT id, name FROM app.people WHERE mood = 'happy';
COMMENT ON VIEW app.happy_people IS 'Only the happy ones.';
CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM app.people GROUP BY mood;
CREATE UNIQUE INDEX mood_counts_mood ON app.mood_counts (mood);

CREATE TABLE "Weird ""Name"" ü" ("select" int PRIMARY KEY, "Column With Space" text, "ñandú" text);
CREATE TABLE aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb int);

CREATE FUNCTION app.pure(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x';
CREATE FUNCTION app.pure(x text) RETURNS text LANGUAGE sql VOLATILE AS 'SELECT x';
