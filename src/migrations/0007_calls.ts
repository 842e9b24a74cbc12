/**
 * Call signaling state: one live call session per lesson (partial unique index,
 * so two server processes cannot both start one), its participants with role,
 * grants and media state (a partial unique index allows one screen sharer per
 * session, across processes), and the signaling log (who sent what to whom,
 * never the SDP). Times are written by the application clock, not `now()`, so
 * timeouts follow the same clock as the actors that enforce them.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE call_sessions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
      status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'active', 'ended')),
      started_by uuid NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL,
      activated_at timestamptz,
      -- set while nobody is in the call; the empty timeout counts from here
      empty_since timestamptz,
      expires_at timestamptz NOT NULL,
      ended_at timestamptz,
      end_reason text CHECK (end_reason IN ('host', 'admin', 'empty', 'idle', 'max_lifetime')),
      CHECK ((status = 'ended') = (ended_at IS NOT NULL))
    )`
  yield* sql`CREATE UNIQUE INDEX call_sessions_live_idx ON call_sessions (lesson_id) WHERE status <> 'ended'`
  yield* sql`CREATE INDEX call_sessions_lesson_idx ON call_sessions (lesson_id, created_at DESC)`
  yield* sql`
    CREATE TABLE call_participants (
      session_id uuid NOT NULL REFERENCES call_sessions (id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      role text NOT NULL CHECK (role IN ('HOST', 'PARTICIPANT', 'VIEWER')),
      can_audio boolean NOT NULL,
      can_video boolean NOT NULL,
      can_screen boolean NOT NULL,
      audio_muted boolean NOT NULL DEFAULT false,
      video_muted boolean NOT NULL DEFAULT false,
      screen_sharing boolean NOT NULL DEFAULT false,
      -- the realtime connection currently in the call (a second device replaces it)
      connection_id text,
      joined_at timestamptz NOT NULL,
      -- last heartbeat from the process holding the connection; stale rows are swept out
      seen_at timestamptz NOT NULL,
      left_at timestamptz,
      -- removed by the host: may not rejoin this session
      removed boolean NOT NULL DEFAULT false,
      PRIMARY KEY (session_id, user_id),
      CHECK (NOT screen_sharing OR left_at IS NULL)
    )`
  // One screen sharer per session, whichever process handles the request.
  yield* sql`CREATE UNIQUE INDEX call_participants_one_sharer_idx ON call_participants (session_id) WHERE screen_sharing`
  yield* sql`
    CREATE TABLE call_signal_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      session_id uuid NOT NULL REFERENCES call_sessions (id) ON DELETE CASCADE,
      type text NOT NULL,
      from_user uuid,
      to_user uuid,
      at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX call_signal_log_session_idx ON call_signal_log (session_id, id)`
  yield* sql`CREATE INDEX call_signal_log_at_idx ON call_signal_log (at)`
})
