import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Metric, Schedule } from "effect"
import type { Connection } from "../../src/actors/ChannelKind.ts"
import { roomRestarts } from "../../src/actors/LessonRoom.ts"
import { LessonRooms } from "../../src/actors/LessonRooms.ts"
import { CurrentUserInfo } from "../../src/schemas/Auth.ts"
import { unpack } from "../../src/schemas/FrameCodec.ts"
import { appendEvent } from "../support/Room.ts"
import { createUser, link, scheduleLesson } from "../support/Seed.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

/**
 * A connection that records the seqs it is sent; `failFirst` makes its first delivery a defect, after `hold`
 * (when given) completes.
 */
const fakeConnection = (id: string, user: Connection["user"], failFirst: boolean, hold: Effect.Effect<void> = Effect.void) => {
  const seqs: Array<number> = []
  let failed = !failFirst
  const conn: Connection = {
    connectionId: id,
    user,
    send: () => Effect.void,
    deliver: (_channel, frame) =>
      Effect.suspend(() => {
        if (!failed) {
          failed = true
          return Effect.zipRight(hold, Effect.dieMessage("boom: a broken subscriber"))
        }
        const decoded = unpack(frame)
        if (Either.isRight(decoded) && typeof decoded.right === "object" && decoded.right !== null && "seq" in decoded.right) {
          seqs.push(Number(decoded.right.seq))
        }
        return Effect.void
      }),
    revoke: () => Effect.void,
    close: () => Effect.void
  }
  return { conn, seqs }
}

describe(`LessonRoom supervision (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.scoped("a defect in the room restarts it; no subscriber loses an event (a repeat is possible, a gap is not)", () =>
      Effect.gen(function*() {
        const tutor = yield* createUser("tutor")
        const student = yield* createUser("student")
        yield* link(tutor.id, student.id)
        const lesson = yield* scheduleLesson(tutor.id, [student.id])
        const rooms = yield* LessonRooms
        const room = yield* rooms.acquire(lesson.id)
        const info = CurrentUserInfo.make({ id: student.id, role: "student", sessionId: "s" })
        const broken = fakeConnection("n:1", info, true)
        const healthy = fakeConnection("n:2", info, false)
        // The broken one joins first, so the defect hits before the healthy one got the event.
        yield* room.join(broken.conn)
        yield* room.join(healthy.conn)
        const restartsBefore = (yield* Metric.value(roomRestarts)).count
        for (let n = 1; n <= 3; n++) yield* appendEvent(lesson.id, "chat.created", { n })
        yield* Effect.sync(() => new Set(healthy.seqs).size).pipe(
          Effect.repeat({ until: (n) => n === 3, schedule: Schedule.spaced("20 millis") }),
          Effect.timeout("5 seconds")
        )
        expect([...new Set(healthy.seqs)]).toEqual([1, 2, 3])
        expect([...healthy.seqs].sort((a, b) => a - b)).toEqual(healthy.seqs)
        expect([...new Set(broken.seqs)]).toEqual([1, 2, 3])
        expect((yield* Metric.value(roomRestarts)).count).toBe(restartsBefore + 1)
      }))

    it.scoped("events queued behind the failing one are not handled before the restart re-reads it (no gap)", () =>
      Effect.gen(function*() {
        const tutor = yield* createUser("tutor")
        const student = yield* createUser("student")
        yield* link(tutor.id, student.id)
        const lesson = yield* scheduleLesson(tutor.id, [student.id])
        const room = yield* (yield* LessonRooms).acquire(lesson.id)
        const info = CurrentUserInfo.make({ id: student.id, role: "student", sessionId: "s" })
        const entered = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const broken = fakeConnection("n:1", info, true, Deferred.succeed(entered, undefined).pipe(Effect.zipRight(Deferred.await(release))))
        const healthy = fakeConnection("n:2", info, false)
        yield* room.join(broken.conn)
        yield* room.join(healthy.conn)
        yield* appendEvent(lesson.id, "chat.created", { n: 1 })
        // The room is inside event 1's fan-out, about to fail; 2 and 3 reach its mailbox meanwhile.
        yield* Deferred.await(entered)
        yield* appendEvent(lesson.id, "chat.created", { n: 2 })
        yield* appendEvent(lesson.id, "chat.created", { n: 3 })
        yield* Effect.sleep("300 millis")
        yield* Deferred.succeed(release, undefined)
        yield* Effect.sync(() => new Set(healthy.seqs).size).pipe(
          Effect.repeat({ until: (n) => n === 3, schedule: Schedule.spaced("20 millis") }),
          Effect.timeout("5 seconds")
        )
        expect([...new Set(healthy.seqs)]).toEqual([1, 2, 3])
        expect([...new Set(broken.seqs)]).toEqual([1, 2, 3])
      }))
  })
})
