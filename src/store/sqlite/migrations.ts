/**
 * Schema migrations, applied in order at start inside one transaction each.
 * Append only: a released migration is never edited.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
      -- Every accepted event: the dedupe record and the payload the outbox delivers.
      CREATE TABLE events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe_key  TEXT    NOT NULL UNIQUE,
        id          TEXT    NOT NULL,
        source      TEXT    NOT NULL,
        type        TEXT    NOT NULL,
        subject     TEXT,
        received_at INTEGER NOT NULL,
        body        TEXT    NOT NULL
      );
      CREATE INDEX events_received_at ON events (received_at);

      -- The outbox: one row per (event, route, connector).
      CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
        route           TEXT    NOT NULL,
        connector       TEXT    NOT NULL,
        order_key       TEXT    NOT NULL,
        status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      );
      CREATE INDEX deliveries_event ON deliveries (event_seq);
      CREATE INDEX deliveries_pending ON deliveries (connector, order_key, id) WHERE status = 'pending';
      CREATE INDEX deliveries_due ON deliveries (connector, next_attempt_at) WHERE status = 'pending';

      -- The call lifecycle: one row per call, per source.
      CREATE TABLE calls (
        source          TEXT    NOT NULL,
        call_id         TEXT    NOT NULL,
        direction       TEXT,
        from_number     TEXT,
        to_number       TEXT,
        from_name       TEXT,
        status          TEXT,
        tags            TEXT,
        started_at      TEXT,
        answered        INTEGER NOT NULL DEFAULT 0,
        ended_at        TEXT,
        end_event_seq   INTEGER,
        end_reason      TEXT,
        missed_check_at INTEGER,
        missed          TEXT CHECK (missed IN ('emitted', 'not_missed')),
        updated_at      INTEGER NOT NULL,
        PRIMARY KEY (source, call_id)
      );
      CREATE INDEX calls_missed_due ON calls (missed_check_at) WHERE missed_check_at IS NOT NULL;
      CREATE INDEX calls_updated_at ON calls (updated_at);
    `,
  },
  {
    version: 2,
    sql: `
      -- Small durable state of connectors, e.g. the Slack message each alert thread hangs on.
      CREATE TABLE connector_state (
        connector  TEXT    NOT NULL,
        key        TEXT    NOT NULL,
        value      TEXT    NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (connector, key)
      );
      CREATE INDEX connector_state_expires_at ON connector_state (expires_at);
    `,
  },
  {
    version: 3,
    sql: `
      -- One row the store rewrites to learn whether writes work again after they failed (readiness).
      CREATE TABLE store_probe (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    sql: `
      -- Operations: replays, a retry budget that restarts on replay or resume, attempt history, pauses.
      ALTER TABLE deliveries ADD COLUMN replay INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE deliveries ADD COLUMN budget_from INTEGER;
      UPDATE deliveries SET budget_from = created_at;
      CREATE INDEX deliveries_dead ON deliveries (connector, updated_at) WHERE status = 'dead';
      CREATE INDEX events_id ON events (id);
      CREATE INDEX events_subject ON events (subject) WHERE subject IS NOT NULL;

      -- Every attempt of a delivery, gone with it.
      CREATE TABLE delivery_attempts (
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        at          INTEGER NOT NULL,
        outcome     TEXT    NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
        error       TEXT,
        duration_ms INTEGER
      );
      CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

      -- Paused connectors, shared by every process on the file.
      CREATE TABLE connector_pauses (
        connector TEXT    PRIMARY KEY,
        paused_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    sql: `
      -- Call summaries: when the next revision is due, and the last one emitted.
      ALTER TABLE calls ADD COLUMN summary_check_at INTEGER;
      ALTER TABLE calls ADD COLUMN summary_revision INTEGER;
      CREATE INDEX calls_summary_due ON calls (summary_check_at) WHERE summary_check_at IS NOT NULL;
      -- A call's events, for its summary.
      CREATE INDEX events_call ON events (source, subject, seq) WHERE subject IS NOT NULL;
      -- A delivery the connector skipped (status stays 'delivered': the CHECK of version 1 allows no other final one):
      -- the reason, read back as status 'skipped'.
      ALTER TABLE deliveries ADD COLUMN skip_reason TEXT;

      -- A skipped attempt is kept in the history as 'skipped': SQLite cannot widen a CHECK in place, so the
      -- table of version 4 is rebuilt (nothing refers to it; its rows and its index are carried over).
      CREATE TABLE delivery_attempts_v5 (
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        at          INTEGER NOT NULL,
        outcome     TEXT    NOT NULL CHECK (outcome IN ('delivered', 'skipped', 'retry', 'dead')),
        error       TEXT,
        duration_ms INTEGER
      );
      INSERT INTO delivery_attempts_v5 (rowid, delivery_id, at, outcome, error, duration_ms)
        SELECT rowid, delivery_id, at, outcome, error, duration_ms FROM delivery_attempts;
      DROP TABLE delivery_attempts;
      ALTER TABLE delivery_attempts_v5 RENAME TO delivery_attempts;
      CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);
    `,
  },
  {
    version: 6,
    sql: `
      -- No query reads it (a call's events go through events_call, by source and subject), and every
      -- event of a call paid for it: one more page of a random index written per event.
      DROP INDEX IF EXISTS events_subject;
    `,
  },
  {
    version: 7,
    sql: `
      -- Operators' searches (src/store/operator-reads.ts). A call by its caller's or callee's number as digits:
      -- a number written with digits and the separators ' +-()./' only, without them ('+1 415-555-0100' is
      -- '14155550100'); anything else (a SIP URI, 'anonymous') has none. Computed, so no write path changes.
      ALTER TABLE calls ADD COLUMN from_digits TEXT GENERATED ALWAYS AS (
        CASE WHEN replace(replace(replace(replace(replace(replace(replace(from_number, ' ', ''), '+', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '') NOT GLOB '*[^0-9]*'
        THEN nullif(replace(replace(replace(replace(replace(replace(replace(from_number, ' ', ''), '+', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), '') END) VIRTUAL;
      ALTER TABLE calls ADD COLUMN to_digits TEXT GENERATED ALWAYS AS (
        CASE WHEN replace(replace(replace(replace(replace(replace(replace(to_number, ' ', ''), '+', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '') NOT GLOB '*[^0-9]*'
        THEN nullif(replace(replace(replace(replace(replace(replace(replace(to_number, ' ', ''), '+', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), '') END) VIRTUAL;
      CREATE INDEX calls_from_digits ON calls (from_digits, updated_at) WHERE from_digits IS NOT NULL;
      CREATE INDEX calls_to_digits ON calls (to_digits, updated_at) WHERE to_digits IS NOT NULL;
      -- Each connector's latest error: only deliveries failing right now are in it (a delivery clears its error).
      CREATE INDEX deliveries_errors ON deliveries (connector, updated_at) WHERE last_error IS NOT NULL;
    `,
  },
  {
    version: 8,
    sql: `
      -- Operators' actions (src/store/audit.ts): when, what, how many, from where. Pruned after store.audit_ttl.
      CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        action  TEXT    NOT NULL,
        via     TEXT    NOT NULL,
        actor   TEXT    NOT NULL,
        address TEXT,
        target  TEXT,
        count   INTEGER NOT NULL,
        detail  TEXT
      );
      CREATE INDEX audit_log_at ON audit_log (at);
    `,
  },
  {
    version: 9,
    sql: `
      -- The request each event arrived in (store.keep_raw, src/store/raw.ts): the body's bytes and the headers as a
      -- JSON array of [name, value], secrets redacted. On the event's row, so it is written by the same insert and
      -- pruned with it; both NULL when nothing was kept.
      ALTER TABLE events ADD COLUMN raw_body BLOB;
      ALTER TABLE events ADD COLUMN raw_headers TEXT;
      -- The deliveries page by connector (src/store/operator-reads.ts): newest first within one connector, however
      -- rare it is among the others (test/integration/page-indexes.test.ts).
      CREATE INDEX deliveries_connector ON deliveries (connector, id);
      -- The dead letters, newest first (the overview's link): a walk of this small index stopped by the page's limit,
      -- not every dead delivery sorted.
      CREATE INDEX deliveries_dead_id ON deliveries (id) WHERE status = 'dead';
    `,
  },
  {
    version: 10,
    sql: `
      -- Each connector's health as the dispatcher judged it (src/dispatch/health.ts): up, down (probed) or held
      -- (a 429's wait), since when and why. No row: up. Written compare-and-set on version.
      CREATE TABLE connector_health (
        connector TEXT    PRIMARY KEY,
        state     TEXT    NOT NULL CHECK (state IN ('up', 'down', 'held')),
        since     INTEGER NOT NULL,
        reason    TEXT,
        until     INTEGER,
        flaps     INTEGER NOT NULL DEFAULT 0,
        version   INTEGER NOT NULL
      );
    `,
  },
];
