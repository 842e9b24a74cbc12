/**
 * Realtime rooms: the per-lesson event log (a head row that is the sequencer, and
 * the events it numbered), chat messages, and the whiteboard (current elements
 * with last-writer-wins versions, the op log, and a cached materialized snapshot).
 * The head row's `UPDATE … SET seq = seq + 1` lock orders writers across
 * processes; a rolled-back write releases its number, so seqs have no gaps.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE room_heads (
      lesson_id uuid PRIMARY KEY REFERENCES lessons (id) ON DELETE CASCADE,
      -- random per log: a client holding a position of another epoch must reload
      epoch text NOT NULL,
      seq bigint NOT NULL CHECK (seq >= 0),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE TABLE room_events (
      lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
      seq bigint NOT NULL CHECK (seq >= 1),
      type text NOT NULL,
      data jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (lesson_id, seq)
    )`
  yield* sql`
    CREATE TABLE chat_messages (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
      author_id uuid NOT NULL REFERENCES users (id),
      -- null once deleted (the row stays as a tombstone so history and recovery agree)
      body text,
      client_message_id text,
      -- the room seq of the message's creation: history order and cursor
      seq bigint NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      edited_at timestamptz,
      deleted_at timestamptz,
      CHECK ((body IS NULL) = (deleted_at IS NOT NULL))
    )`
  yield* sql`CREATE UNIQUE INDEX chat_messages_seq_idx ON chat_messages (lesson_id, seq)`
  yield* sql`
    CREATE UNIQUE INDEX chat_messages_client_idx ON chat_messages (lesson_id, author_id, client_message_id)
    WHERE client_message_id IS NOT NULL`
  yield* sql`
    CREATE TABLE board_elements (
      lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
      element_id text NOT NULL,
      props jsonb NOT NULL,
      -- room seq of the last op that changed it (the LWW clock)
      version bigint NOT NULL,
      -- the last writer, for the baseVersion conflict rule
      updated_by uuid NOT NULL REFERENCES users (id),
      -- tombstone: element ids are never reused within a board
      deleted boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (lesson_id, element_id)
    )`
  yield* sql`
    CREATE TABLE board_ops (
      lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
      seq bigint NOT NULL,
      author_id uuid NOT NULL REFERENCES users (id),
      -- an 'import' row (element_id '*') marks a snapshot import: deltas across it need a reload
      kind text NOT NULL CHECK (kind IN ('add', 'update', 'delete', 'import')),
      element_id text NOT NULL,
      props jsonb,
      client_op_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (lesson_id, seq)
    )`
  yield* sql`
    CREATE UNIQUE INDEX board_ops_client_idx ON board_ops (lesson_id, author_id, client_op_id)
    WHERE client_op_id IS NOT NULL`
  yield* sql`
    CREATE TABLE board_snapshots (
      lesson_id uuid PRIMARY KEY REFERENCES lessons (id) ON DELETE CASCADE,
      -- the board version (room seq of its last change) the cached document shows
      version bigint NOT NULL,
      elements jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
})
