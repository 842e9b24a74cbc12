import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import type { UserId } from "../../src/schemas/Ids.ts"
import { UserEvents } from "../../src/services/UserEvents.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

const alice = "00000000-0000-4000-8000-00000000000a" as UserId
const bob = "00000000-0000-4000-8000-00000000000b" as UserId

describe(`UserEvents (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.scoped("a user's followers receive that user's events, and only theirs", () =>
      Effect.gen(function*() {
        const events = yield* UserEvents
        const aliceEvents = yield* events.follow(alice)
        const bobEvents = yield* events.follow(bob)
        yield* events.publish(alice, "notification.created", { id: 1, title: "Homework" })
        yield* events.publish(bob, "notification.created", { id: 2 })
        yield* events.publish(alice, "notifications.unread", { count: 3 })
        const got = yield* Stream.runCollect(Stream.take(aliceEvents, 2)).pipe(Effect.timeout("2 seconds"))
        expect(Chunk.toArray(got)).toEqual([
          { type: "notification.created", data: { id: 1, title: "Homework" } },
          { type: "notifications.unread", data: { count: 3 } }
        ])
        const bobGot = yield* Stream.runCollect(Stream.take(bobEvents, 1)).pipe(Effect.timeout("2 seconds"))
        expect(Chunk.toArray(bobGot)).toEqual([{ type: "notification.created", data: { id: 2 } }])
      }))
  })
})
