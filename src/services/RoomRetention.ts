/**
 * Retention of the room event log: the `rooms.prune` job, on the `JOBS_PRUNE_CRON`
 * schedule, keeps the newest `retainEvents` events of each lesson and deletes
 * older ones in bounded chunks. Recovery never replays more than `maxRecovery`
 * events, so older ones only cost space; chat and board keep their own history
 * (`chat_messages`, `board_ops`), which this job does not touch.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { Jobs } from "./Jobs.ts"
import { RoomLogOptions } from "./RoomLog.ts"

const chunk = 5_000

/** The room-log retention job and its schedule. */
export class RoomRetention extends Effect.Service<RoomRetention>()("lectern/RoomRetention", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const jobs = yield* Jobs
    const config = yield* AppConfig

    const pruneChunk = (keep: number) =>
      sql`
        WITH doomed AS (
          SELECT e.lesson_id, e.seq FROM room_events e JOIN room_heads h ON h.lesson_id = e.lesson_id
          WHERE e.seq <= h.seq - ${keep}
          LIMIT ${chunk}
        )
        DELETE FROM room_events e USING doomed d WHERE e.lesson_id = d.lesson_id AND e.seq = d.seq
        RETURNING e.seq`.pipe(Effect.map((rows) => rows.length), storeCall)

    /** Deletes events older than the newest `retainEvents` of their lesson; returns how many. */
    const prune = Effect.gen(function*() {
      const { retainEvents } = yield* RoomLogOptions
      let total = 0
      while (true) {
        const deleted = yield* pruneChunk(Math.max(1, retainEvents))
        total += deleted
        if (deleted < chunk) break
      }
      if (total > 0) yield* Effect.logInfo("pruned room events").pipe(Effect.annotateLogs({ deleted: total }))
      return total
    }).pipe(Effect.withSpan("RoomRetention.prune"))

    const job = yield* jobs.registerJob("rooms.prune", Schema.Struct({}), () => prune, {
      queue: "maintenance",
      maxAttempts: 3,
      timeout: "10 minutes"
    })
    yield* jobs.schedule("rooms.prune", config.jobs.pruneCron, job, {})
    return { prune } as const
  })
}) {}
