/**
 * Cancelling a lesson ends its live call: a new end reason, `lesson_cancelled`.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    ALTER TABLE call_sessions
      DROP CONSTRAINT call_sessions_end_reason_check,
      ADD CONSTRAINT call_sessions_end_reason_check
        CHECK (end_reason IN ('host', 'admin', 'empty', 'idle', 'max_lifetime', 'lesson_cancelled'))`
})
