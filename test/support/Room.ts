/**
 * Room helpers for realtime tests: append durable events the way Chat and Board
 * do (numbered inside a transaction, published after commit).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { LessonId } from "../../src/schemas/Ids.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"

/** Appends and publishes one durable room event. */
export const appendEvent = (lessonId: LessonId, type: string, data: unknown) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const log = yield* RoomLog
    const event = yield* log.append(lessonId, type, data).pipe(sql.withTransaction, Effect.orDie)
    yield* log.publish(event)
    return event
  })
