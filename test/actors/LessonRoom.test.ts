import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { LessonRooms } from "../../src/actors/LessonRooms.ts"
import { realtimeConfig } from "../support/Realtime.ts"
import { appendEvent } from "../support/Room.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, type Frame, request, type TestSocket } from "../support/Ws.ts"

const config = realtimeConfig({ roomRingSize: 16, roomIdleTtl: Duration.millis(300) })

/** Durable events of a channel (presence and typing carry no seq). */
const events = (socket: TestSocket, channel: string) =>
  socket.frames.filter((f) => f.t === "event" && f.channel === channel && f.seq !== undefined)
const seqs = (frames: ReadonlyArray<Frame>) => frames.map((f) => f.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe(`Lesson rooms over WebSocket (${backendLabel})`, () => {
  it.layer(serverStack({ realtime: config }), liveStack)((it) => {
    it.scoped("members get the room's events with seq and epoch; a stranger is FORBIDDEN and receives nothing", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const channel = `lesson:${cast.lesson.id}`
        const tutor = yield* connected(cast.tutor.token)
        const student = yield* connected(cast.student.token)
        const stranger = yield* connected(cast.otherStudent.token)
        const otherTutor = yield* connected(cast.otherTutor.token)
        const tutorAck = yield* request(tutor, { t: "sub", channel })
        expect(tutorAck).toMatchObject({ t: "ack", data: { seq: 0, recovered: 0, reset: false, role: "tutor" } })
        const studentAck = yield* request(student, { t: "sub", channel })
        expect(studentAck).toMatchObject({ t: "ack", data: { role: "student" } })
        // Presence names who is there, so a UI needs no extra lookups.
        const present = (studentAck.data as { presence: ReadonlyArray<{ userId: string; displayName?: string; role: string }> }).presence
        expect(present.map((p) => [p.userId, p.displayName, p.role]).sort()).toEqual([
          [cast.tutor.user.id, "Tutor", "tutor"],
          [cast.student.user.id, "Student", "student"]
        ].sort())
        const joined = yield* tutor.waitFor((f) =>
          f.t === "event" && f.type === "presence.join" && (f.data as { userId?: unknown }).userId === cast.student.user.id
        )
        expect(joined.data).toMatchObject({ userId: cast.student.user.id, displayName: "Student", role: "student", status: "online" })
        expect(yield* request(stranger, { t: "sub", channel })).toMatchObject({ t: "error", code: "FORBIDDEN" })
        expect(yield* request(otherTutor, { t: "sub", channel })).toMatchObject({ t: "error", code: "FORBIDDEN" })
        expect(yield* request(stranger, { t: "sub", channel: "lesson:not-a-uuid" })).toMatchObject({ code: "FORBIDDEN" })
        // A stranger's command is refused too: it never joined.
        expect(yield* request(stranger, { t: "cmd", channel, type: "typing", data: { typing: true } })).toMatchObject({
          code: "CHANNEL_NOT_SUBSCRIBED"
        })

        const first = yield* appendEvent(cast.lesson.id, "chat.created", { body: "hello" })
        yield* appendEvent(cast.lesson.id, "chat.created", { body: "again" })
        const got = yield* student.waitFor((f) => f.t === "event" && f.seq === 2)
        expect(got).toMatchObject({ channel, type: "chat.created", data: { body: "again" }, epoch: first.epoch })
        yield* tutor.waitFor((f) => f.t === "event" && f.seq === 2)
        expect(seqs(events(tutor, channel))).toEqual([1, 2])

        // Typing is ephemeral: fanned out (seq-less) to everyone in the room.
        expect(yield* request(student, { t: "cmd", channel, type: "typing", data: { typing: true } })).toMatchObject({ t: "ack" })
        const typing = yield* tutor.waitFor((f) => f.t === "event" && f.type === "typing")
        expect(typing).toMatchObject({ data: { userId: cast.student.user.id, typing: true } })
        expect(typing.seq).toBeUndefined()
        expect(yield* request(student, { t: "cmd", channel, type: "typing", data: { typing: "yes" } })).toMatchObject({
          code: "VALIDATION_ERROR",
          fields: { typing: expect.any(String) }
        })
        expect(yield* request(student, { t: "cmd", channel, type: "toString" })).toMatchObject({ code: "UNKNOWN_COMMAND" })

        yield* Effect.sleep("100 millis")
        expect(stranger.frames.filter((f) => f.t === "event")).toEqual([])
        expect(otherTutor.frames.filter((f) => f.t === "event")).toEqual([])
        // Presence: the tutor saw the student join; the stranger never appeared.
        const joins = tutor.frames.filter((f) => f.type === "presence.join").map((f) => (f.data as { userId: string }).userId)
        expect(joins).toContain(cast.student.user.id)
        expect(joins).not.toContain(cast.otherStudent.user.id)
      }))

    it.scoped("recovery: from the ring, from the log beyond the ring, and a reset for another epoch", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const channel = `lesson:${cast.lesson.id}`
        const watcher = yield* connected(cast.tutor.token)
        yield* request(watcher, { t: "sub", channel })
        const first = yield* appendEvent(cast.lesson.id, "board.op", { n: 1 })
        const epoch = first.epoch

        // 10 missed events: within the ring (16).
        for (let n = 2; n <= 11; n++) yield* appendEvent(cast.lesson.id, "board.op", { n })
        yield* watcher.waitFor((f) => f.seq === 11)
        const ring = yield* connected(cast.student.token)
        const ringAck = yield* request(ring, { t: "sub", channel, recover: { epoch, seq: 1 } })
        expect(ringAck).toMatchObject({ t: "ack", data: { epoch, seq: 11, recovered: 10, reset: false } })
        yield* ring.waitFor((f) => f.seq === 11)
        // The ack comes before the replayed events.
        expect(ring.frames.indexOf(ringAck)).toBeLessThan(ring.frames.findIndex((f) => f.t === "event"))

        // 50 missed events: beyond the ring, read from the log; then live events continue without gap.
        for (let n = 12; n <= 61; n++) yield* appendEvent(cast.lesson.id, "board.op", { n })
        yield* watcher.waitFor((f) => f.seq === 61)
        const far = yield* connected(cast.student.token)
        const farAck = yield* request(far, { t: "sub", channel, recover: { epoch, seq: 11 } })
        expect(farAck).toMatchObject({ data: { recovered: 50, reset: false } })
        yield* appendEvent(cast.lesson.id, "board.op", { n: 62 })
        yield* far.waitFor((f) => f.seq === 62)
        expect(seqs(events(far, channel))).toEqual(range(12, 62))
        expect(events(far, channel).map((f) => (f.data as { n: number }).n)).toEqual(range(12, 62))

        const stale = yield* connected(cast.student.token)
        const staleAck = yield* request(stale, { t: "sub", channel, recover: { epoch: "someothere", seq: 3 } })
        expect(staleAck).toMatchObject({ data: { epoch, seq: 62, recovered: 0, reset: true } })
        yield* appendEvent(cast.lesson.id, "board.op", { n: 63 })
        yield* stale.waitFor((f) => f.seq === 63)
        expect(seqs(events(stale, channel))).toEqual([63])
      }))

    it.scoped("many concurrent first subscribers share one room actor, which stops when idle", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const channel = `lesson:${cast.lesson.id}`
        const rooms = yield* LessonRooms
        const before = (yield* rooms.stats).started
        const sockets = yield* Effect.forEach(range(1, 24), (i) => connected(i % 2 === 0 ? cast.tutor.token : cast.student.token), {
          concurrency: "unbounded"
        })
        const acks = yield* Effect.forEach(sockets, (s) => request(s, { t: "sub", channel }), { concurrency: "unbounded" })
        expect(acks.every((a) => a.t === "ack")).toBe(true)
        expect((yield* rooms.stats).started - before).toBe(1)
        yield* appendEvent(cast.lesson.id, "chat.created", { body: "all" })
        yield* Effect.forEach(sockets, (s) => s.waitFor((f) => f.seq === 1), { concurrency: "unbounded" })

        yield* Effect.forEach(sockets, (s) => request(s, { t: "unsub", channel }), { concurrency: "unbounded" })
        expect(yield* rooms.isActive(cast.lesson.id)).toBe(true)
        yield* Effect.sleep("800 millis")
        expect(yield* rooms.isActive(cast.lesson.id)).toBe(false)
        // A later subscriber starts it again and recovers what it missed.
        yield* appendEvent(cast.lesson.id, "chat.created", { body: "later" })
        const again = sockets[0]
        if (again === undefined) return
        const ack = yield* request(again, { t: "sub", channel })
        expect(ack).toMatchObject({ data: { seq: 2 } })
        expect((yield* rooms.stats).started - before).toBe(2)
      }))
  })
})
