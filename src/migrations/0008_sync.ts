/**
 * Offline sync (docs/sync.md): the devices (`sync_clients`, one row per client id
 * with the last mutation id applied for it), their stored pull checkpoints, and a
 * per-user change counter on notifications so a pull can ask "what changed since".
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE sync_clients (
      client_id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      device_name text NOT NULL DEFAULT '',
      platform text NOT NULL DEFAULT '',
      -- the highest mutation id processed (applied, conflicting or rejected) for this client
      last_mutation_id bigint NOT NULL DEFAULT 0 CHECK (last_mutation_id >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      last_push_at timestamptz,
      last_pull_at timestamptz,
      revoked_at timestamptz,
      revoked_by uuid REFERENCES users (id) ON DELETE SET NULL
    )`
  yield* sql`CREATE INDEX sync_clients_user_idx ON sync_clients (user_id, last_seen_at DESC)`
  // Positions a pull answered with: the generation a client presents and the one it was given are kept,
  // so a pull whose answer was lost can be repeated with the older token.
  yield* sql`
    CREATE TABLE sync_checkpoints (
      client_id uuid NOT NULL REFERENCES sync_clients (client_id) ON DELETE CASCADE,
      generation bigint NOT NULL,
      -- { "<lessonId>": { "epoch": text, "seq": number } }
      lessons jsonb NOT NULL,
      notifications_seq bigint NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (client_id, generation)
    )`

  // Notification changes in commit order per user: every insert or update takes the next number of the user's
  // counter under that counter's row lock, held until commit, so a later number never commits before an earlier one.
  yield* sql`ALTER TABLE notifications ADD COLUMN change_seq bigint NOT NULL DEFAULT 0`
  yield* sql`
    CREATE TABLE notification_heads (
      user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      seq bigint NOT NULL
    )`
  yield* sql`
    CREATE FUNCTION lectern_notification_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO notification_heads AS h (user_id, seq) VALUES (NEW.user_id, 1)
      ON CONFLICT (user_id) DO UPDATE SET seq = h.seq + 1
      RETURNING h.seq INTO NEW.change_seq;
      RETURN NEW;
    END
    $$`
  yield* sql`
    CREATE TRIGGER notifications_change BEFORE INSERT OR UPDATE ON notifications
    FOR EACH ROW EXECUTE FUNCTION lectern_notification_change()`
  yield* sql`CREATE INDEX notifications_change_idx ON notifications (user_id, change_seq)`
})
