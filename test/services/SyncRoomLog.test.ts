/**
 * Room events of sync mutations wait for the commit: Chat built over the holding
 * RoomLog publishes nothing inside `holdPublications`, so a mutation whose
 * transaction rolls back after the chat write never reaches followers (its seq is
 * given back and taken by the next message), while outside a sync mutation the
 * same Chat publishes as usual.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Exit, Fiber, Layer, Stream } from "effect"
import type { ChatMessage } from "../../src/schemas/Chat.ts"
import { Chat } from "../../src/services/Chat.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"
import * as SyncRoomLog from "../../src/services/SyncRoomLog.ts"
import { createUser, link, scheduleLesson } from "../support/Seed.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

describe(`SyncRoomLog (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.scoped("events held inside a sync mutation are published only by the caller, after commit", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const log = yield* RoomLog
        const held = Context.get(yield* Layer.build(Chat.Default.pipe(Layer.provide(SyncRoomLog.layerHolding))), Chat)
        const tutor = yield* createUser("tutor")
        const student = yield* createUser("student")
        yield* link(tutor.id, student.id)
        const lesson = yield* scheduleLesson(tutor.id, [student.id])
        const start = yield* log.head(lesson.id)
        const follower = yield* log.follow(lesson.id, start).pipe(
          Effect.flatMap((events) => Stream.runCollect(Stream.take(events, 2))),
          Effect.scoped,
          Effect.fork
        )

        // A mutation that fails after writing its message: rolled back, nothing published.
        const failed = yield* SyncRoomLog.holdPublications(held.send(student, lesson.id, { body: "phantom" })).pipe(
          Effect.tap(({ events }) => Effect.sync(() => expect(events.map((e) => e.type)).toEqual(["chat.created"]))),
          Effect.zipRight(Effect.fail("the mutation failed later")),
          sql.withTransaction,
          Effect.exit
        )
        expect(Exit.isFailure(failed)).toBe(true)
        // A committed one: held, then published by the caller.
        const kept = yield* SyncRoomLog.holdPublications(held.send(student, lesson.id, { body: "kept" })).pipe(sql.withTransaction)
        expect(kept.events.map((e) => e.seq)).toEqual([start.seq + 1])
        yield* Effect.forEach(kept.events, log.publish)
        // Outside a sync mutation the same Chat publishes by itself.
        yield* held.send(student, lesson.id, { body: "online" })

        const seen = Chunk.toReadonlyArray(yield* Fiber.join(follower).pipe(Effect.timeout("10 seconds")))
        expect(seen.map((e) => [e.seq, (e.data as ChatMessage).body])).toEqual([[start.seq + 1, "kept"], [start.seq + 2, "online"]])
        const history = yield* held.history(tutor, lesson.id, {})
        expect(history.items.map((m) => m.body)).toEqual(["online", "kept"])
      }))
  })
})
