/**
 * Room helpers for realtime tests: append durable events the way Chat and Board
 * do (numbered inside a transaction, published after commit), or make a room's
 * followers fall behind the retained log.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { LessonId } from "../../src/schemas/Ids.ts"
import { RoomLog, RoomLogOptions } from "../../src/services/RoomLog.ts"
import { RoomRetention } from "../../src/services/RoomRetention.ts"

/** Runs `effect` with the room log's tunables changed by `overrides` (the rest as they are). */
export const withRoomLogOptions = (overrides: Partial<RoomLogOptions["Type"]>) =>
<X, E, R>(effect: Effect.Effect<X, E, R>) =>
  Effect.flatMap(RoomLogOptions, (options) => Effect.provideService(effect, RoomLogOptions, { ...options, ...overrides }))

/** Appends and publishes one durable room event. */
export const appendEvent = (lessonId: LessonId, type: string, data: unknown) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const log = yield* RoomLog
    const event = yield* log.append(lessonId, type, data).pipe(sql.withTransaction, Effect.orDie)
    yield* log.publish(event)
    return event
  })

/**
 * Makes every follower of the lesson fall behind the retained log, deterministically: appends `count` events
 * without publishing them (as during a Bus outage) and prunes to the newest `keep` per lesson in the same
 * transaction, so no follower can have read the pruned ones. Returns the new head seq.
 */
export const appendPrunedUnread = (lessonId: LessonId, count: number, keep: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const log = yield* RoomLog
    const retention = yield* RoomRetention
    return yield* sql.withTransaction(Effect.gen(function*() {
      let head = 0
      for (let n = 1; n <= count; n++) head = (yield* log.append(lessonId, "chat.created", { unread: n })).seq
      yield* withRoomLogOptions({ retainEvents: keep })(retention.prune)
      return head
    })).pipe(Effect.orDie)
  })
