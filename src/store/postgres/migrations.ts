/**
 * Schema migrations, applied in order at start, each in its own transaction
 * under an advisory lock (see `migrate` in db.ts). Append only: a released
 * migration is never edited. Version 1 is the whole model as the SQLite store
 * has it after its own fifth migration; times are bigint milliseconds, as there.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
      -- Every accepted event: the dedupe record (its key JSON-encoded: text cannot hold the NUL it has) and the payload the outbox delivers.
      -- The body is text, not jsonb: jsonb would reorder keys, and what is delivered is what was stored.
      CREATE TABLE events (
        seq         bigserial PRIMARY KEY,
        dedupe_key  text   NOT NULL UNIQUE,
        id          text   NOT NULL,
        source      text   NOT NULL,
        type        text   NOT NULL,
        subject     text,
        received_at bigint NOT NULL,
        body        text   NOT NULL
      );
      CREATE INDEX events_received_at ON events (received_at);
      CREATE INDEX events_id ON events (id);
      CREATE INDEX events_call ON events (source, subject, seq) WHERE subject IS NOT NULL;

      -- The outbox: one row per (event, route, connector). A lease lives in the row, so every
      -- replica sees it: a replica that dies mid-send holds its deliveries only until lease_until.
      CREATE TABLE deliveries (
        id              bigserial PRIMARY KEY,
        event_seq       bigint  NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
        route           text    NOT NULL,
        connector       text    NOT NULL,
        order_key       text    NOT NULL,
        status          text    NOT NULL CHECK (status IN ('pending', 'delivered', 'skipped', 'dead')),
        skip_reason     text,
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at bigint  NOT NULL,
        budget_from     bigint  NOT NULL,
        replay          integer NOT NULL DEFAULT 0,
        last_error      text,
        lease_token     text,
        lease_until     bigint,
        created_at      bigint  NOT NULL,
        updated_at      bigint  NOT NULL
      );
      CREATE INDEX deliveries_event ON deliveries (event_seq);
      CREATE INDEX deliveries_pending ON deliveries (connector, order_key, id) WHERE status = 'pending';
      CREATE INDEX deliveries_due ON deliveries (connector, next_attempt_at) WHERE status = 'pending';
      CREATE INDEX deliveries_dead ON deliveries (connector, updated_at) WHERE status = 'dead';

      -- Every attempt of a delivery, gone with it.
      CREATE TABLE delivery_attempts (
        seq         bigserial PRIMARY KEY,
        delivery_id bigint  NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        at          bigint  NOT NULL,
        outcome     text    NOT NULL CHECK (outcome IN ('delivered', 'skipped', 'retry', 'dead')),
        error       text,
        duration_ms integer
      );
      CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, seq);

      -- The call lifecycle: one row per call, per source. A commit inserts the row of a call it has not
      -- seen with saved = false only to lock it (a row lock needs a row); such a row reads as no call.
      CREATE TABLE calls (
        source           text    NOT NULL,
        call_id          text    NOT NULL,
        saved            boolean NOT NULL DEFAULT true,
        direction        text,
        from_number      text,
        to_number        text,
        from_name        text,
        status           text,
        tags             text,
        started_at       text,
        answered         boolean NOT NULL DEFAULT false,
        ended_at         text,
        end_event_seq    bigint,
        end_reason       text,
        missed_check_at  bigint,
        missed           text CHECK (missed IN ('emitted', 'not_missed')),
        summary_check_at bigint,
        summary_revision integer,
        updated_at       bigint  NOT NULL,
        PRIMARY KEY (source, call_id)
      );
      CREATE INDEX calls_missed_due ON calls (missed_check_at) WHERE missed_check_at IS NOT NULL;
      CREATE INDEX calls_summary_due ON calls (summary_check_at) WHERE summary_check_at IS NOT NULL;
      CREATE INDEX calls_updated_at ON calls (updated_at);

      -- Small durable state of connectors, e.g. the Slack message each alert thread hangs on.
      CREATE TABLE connector_state (
        connector  text   NOT NULL,
        key        text   NOT NULL,
        value      text   NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (connector, key)
      );
      CREATE INDEX connector_state_expires_at ON connector_state (expires_at);

      -- Paused connectors, shared by every replica.
      CREATE TABLE connector_pauses (
        connector text   PRIMARY KEY,
        paused_at bigint NOT NULL
      );

      -- One row the store rewrites to learn whether writes work again after they failed (readiness).
      CREATE TABLE store_probe (
        id integer PRIMARY KEY CHECK (id = 1),
        at bigint  NOT NULL
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Operators' searches (src/store/operator-reads.ts), as the SQLite store's migration 7. A call by its
      -- caller's or callee's number as digits: a number written with digits and the separators ' +-()./' only,
      -- without them ('+1 415-555-0100' is '14155550100'); anything else (a SIP URI, 'anonymous') has none.
      ALTER TABLE calls ADD COLUMN from_digits text GENERATED ALWAYS AS (
        CASE WHEN translate(from_number, ' +-()./', '') ~ '^[0-9]+$' THEN translate(from_number, ' +-()./', '') END) STORED;
      ALTER TABLE calls ADD COLUMN to_digits text GENERATED ALWAYS AS (
        CASE WHEN translate(to_number, ' +-()./', '') ~ '^[0-9]+$' THEN translate(to_number, ' +-()./', '') END) STORED;
      CREATE INDEX calls_from_digits ON calls (from_digits, updated_at) WHERE from_digits IS NOT NULL;
      CREATE INDEX calls_to_digits ON calls (to_digits, updated_at) WHERE to_digits IS NOT NULL;
      -- Each connector's latest error: only deliveries failing right now are in it (a delivery clears its error).
      CREATE INDEX deliveries_errors ON deliveries (connector, updated_at) WHERE last_error IS NOT NULL;
    `,
  },
  {
    version: 3,
    sql: `
      -- Operators' actions (src/store/audit.ts), as the SQLite store's migration 8. Pruned after store.audit_ttl.
      CREATE TABLE audit_log (
        id      bigserial PRIMARY KEY,
        at      bigint  NOT NULL,
        action  text    NOT NULL,
        via     text    NOT NULL,
        actor   text    NOT NULL,
        address text,
        target  text,
        count   integer NOT NULL,
        detail  text
      );
      CREATE INDEX audit_log_at ON audit_log (at);
    `,
  },
  {
    version: 4,
    sql: `
      -- The request each event arrived in, as the SQLite store's migration 9: on the event's row, written by the
      -- same insert and pruned with it; both NULL when nothing was kept.
      ALTER TABLE events ADD COLUMN raw_body bytea;
      ALTER TABLE events ADD COLUMN raw_headers text;
      -- The deliveries page by connector (src/store/operator-reads.ts): newest first within one connector, however
      -- rare it is among the others (test/integration/page-indexes.test.ts).
      CREATE INDEX deliveries_connector ON deliveries (connector, id);
      -- The dead letters, newest first (the overview's link): a walk of this small index stopped by the page's limit,
      -- not every dead delivery sorted.
      CREATE INDEX deliveries_dead_id ON deliveries (id) WHERE status = 'dead';
    `,
  },
  {
    version: 5,
    sql: `
      -- Each connector's health as the dispatcher judged it (src/dispatch/health.ts), as the SQLite store's
      -- migration 10: one replica's judgement and probe serve all. No row: up. Written compare-and-set on version.
      CREATE TABLE connector_health (
        connector text    PRIMARY KEY,
        state     text    NOT NULL CHECK (state IN ('up', 'down', 'held')),
        since     bigint  NOT NULL,
        reason    text,
        until     bigint,
        flaps     integer NOT NULL DEFAULT 0,
        version   integer NOT NULL
      );
    `,
  },
];
