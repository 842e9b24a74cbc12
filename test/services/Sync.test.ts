/**
 * Sync services. Checkpoints older than SYNC_CHECKPOINT_MAX_AGE are not served
 * (the pull becomes a reset). Room events of sync mutations wait for the commit: Chat built over the holding
 * RoomLog publishes nothing inside `holdPublications`, so a mutation whose
 * transaction rolls back after the chat write never reaches followers (its seq is
 * given back and taken by the next message), while outside a sync mutation the
 * same Chat publishes as usual.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Duration, Effect, Exit, Fiber, Layer, Option, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { SyncClientId } from "../../src/schemas/Sync.ts"
import type { ChatMessage } from "../../src/schemas/Chat.ts"
import { Chat } from "../../src/services/Chat.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"
import { SyncCheckpoints } from "../../src/services/SyncCheckpoints.ts"
import { SyncClients } from "../../src/services/SyncClients.ts"
import * as SyncRoomLog from "../../src/services/SyncRoomLog.ts"
import { createUser, link, scheduleLesson } from "../support/Seed.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

describe(`Sync services (${backendLabel})`, () => {
  it.layer(coreStack({ sync: { checkpointMaxAge: Duration.seconds(1), pullEventsLimit: 500 } }), liveStack)((it) => {
    it.effect("a stored checkpoint is served until it is older than the maximum age", () =>
      Effect.gen(function*() {
        const clients = yield* SyncClients
        const checkpoints = yield* SyncCheckpoints
        const user = yield* createUser("student")
        const clientId = SyncClientId.make(randomUUID())
        yield* clients.touch(user.id, clientId, "pull")
        const positions = { lessons: { [randomUUID()]: { epoch: "e1", seq: 4 } }, notificationsSeq: 7 }
        const token = yield* checkpoints.save(clientId, Option.none(), positions)
        const generation = yield* checkpoints.verify(token, clientId)
        expect(yield* checkpoints.load(clientId, generation)).toEqual(Option.some(positions))
        yield* Effect.sleep("1200 millis")
        expect(yield* checkpoints.load(clientId, generation)).toEqual(Option.none())
        // A token for another client never verifies, even a genuine one.
        const other = SyncClientId.make(randomUUID())
        expect(Exit.isFailure(yield* Effect.exit(checkpoints.verify(token, other)))).toBe(true)
      }))

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
