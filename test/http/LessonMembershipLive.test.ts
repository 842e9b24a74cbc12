/**
 * Lesson membership changes take effect on live connections: a student removed
 * from a lesson, or everyone when the lesson is cancelled, is unsubscribed by
 * the server (an `unsubscribed` frame), receives nothing more on the channel,
 * cannot command or re-enter it; a cancelled lesson's live call ends. Also
 * across two server processes (the notice travels on the Bus).
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Duration, Effect } from "effect"
import { signedInCallCast } from "../support/CallCast.ts"
import { call } from "../support/Http.ts"
import { peerServers } from "../support/PeerStacks.ts"
import { realtimeConfig } from "../support/Realtime.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, type Frame, request, type TestSocket } from "../support/Ws.ts"

const unsubscribed = (channel: string) => (f: Frame) => f.t === "unsubscribed" && f.channel === channel
const event = (type: string) => (f: Frame) => f.t === "event" && f.type === type
/** Events of `channel` that arrived after the socket was told it is unsubscribed. */
const eventsAfterRevocation = (socket: TestSocket, channel: string) =>
  socket.frames.slice(socket.frames.findIndex(unsubscribed(channel))).filter((f) => f.t === "event" && f.channel === channel)

const lessonSub = (token: string, channel: string) =>
  Effect.gen(function*() {
    const socket = yield* connected(token)
    expect(yield* request(socket, { t: "sub", channel })).toMatchObject({ t: "ack" })
    return socket
  })

/** A lesson with two students: one who stays, one who will be removed. */
const twoStudentsInRoom = Effect.gen(function*() {
  const cast = yield* signedInCallCast(2)
  const [kept, removed] = cast.students
  if (kept === undefined || removed === undefined) return yield* Effect.dieMessage("cast")
  const channel = `lesson:${cast.lesson.id}`
  return { cast, kept, removed, channel }
})

describe(`lesson membership on live connections (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("a student removed from the lesson is unsubscribed from its room and call, taken out of the call, and cannot command or re-enter", () =>
      Effect.gen(function*() {
        const { cast, kept, removed, channel } = yield* twoStudentsInRoom
        const tutor = yield* lessonSub(cast.tutor.token, channel)
        const stays = yield* lessonSub(kept.token, channel)
        const goes = yield* lessonSub(removed.token, channel)
        const callChannel = `call:${cast.lesson.id}`
        for (const socket of [tutor, goes]) {
          expect(yield* request(socket, { t: "sub", channel: callChannel })).toMatchObject({ t: "ack" })
          expect(yield* request(socket, { t: "cmd", channel: callChannel, type: "join" })).toMatchObject({ t: "ack" })
        }

        const patched = yield* call("PATCH", `/api/v1/lessons/${cast.lesson.id}`, {
          token: cast.tutor.token,
          body: { studentIds: [kept.user.id] }
        })
        expect(patched.status).toBe(200)
        expect(yield* goes.waitFor(unsubscribed(channel))).toEqual({
          t: "unsubscribed",
          channel,
          code: "SUBSCRIPTION_REVOKED",
          detail: "You are no longer a member of this lesson"
        })
        // The others saw them leave, and still have the room.
        yield* tutor.waitFor((f) => event("presence.leave")(f) && (f.data as { userId: string }).userId === removed.user.id)
        expect(yield* request(tutor, { t: "cmd", channel, type: "chat.send", data: { body: "still here" } })).toMatchObject({
          t: "ack"
        })
        yield* stays.waitFor(event("chat.created"))
        yield* tutor.waitFor(event("chat.created"))
        expect(yield* request(goes, { t: "cmd", channel, type: "typing", data: { typing: true } })).toMatchObject({
          code: "CHANNEL_NOT_SUBSCRIBED"
        })
        expect(yield* request(goes, { t: "sub", channel })).toMatchObject({ t: "error", code: "FORBIDDEN" })
        expect(eventsAfterRevocation(goes, channel)).toEqual([])
        expect(goes.isOpen()).toBe(true)
        for (const socket of [tutor, stays]) expect(socket.frames.filter((f) => f.t === "unsubscribed")).toEqual([])

        // The call: they are out of it (as if the host removed them) and off its channel.
        expect(yield* goes.waitFor(unsubscribed(callChannel))).toMatchObject({ code: "SUBSCRIPTION_REVOKED" })
        const left = yield* tutor.waitFor((f) => f.channel === callChannel && event("participant.left")(f))
        expect(left.data).toEqual({ userId: removed.user.id, reason: "removed" })
        expect(yield* request(goes, { t: "sub", channel: callChannel })).toMatchObject({ code: "LESSON_NOT_FOUND" })
      }))

    it.scoped("cancelling the lesson unsubscribes everyone from its room and ends its call with reason lesson_cancelled", () =>
      Effect.gen(function*() {
        const cast = yield* signedInCallCast(1)
        const [student] = cast.students
        if (student === undefined) return yield* Effect.dieMessage("cast")
        const lessonId = cast.lesson.id
        const channel = `lesson:${lessonId}`
        const callChannel = `call:${lessonId}`
        const inLessonAndCall = (token: string) =>
          Effect.gen(function*() {
            const socket = yield* lessonSub(token, channel)
            expect(yield* request(socket, { t: "sub", channel: callChannel })).toMatchObject({ t: "ack" })
            expect(yield* request(socket, { t: "cmd", channel: callChannel, type: "join" })).toMatchObject({ t: "ack" })
            return socket
          })
        const host = yield* inLessonAndCall(cast.tutor.token)
        const pupil = yield* inLessonAndCall(student.token)

        const cancelled = yield* call("DELETE", `/api/v1/lessons/${lessonId}`, { token: cast.tutor.token })
        expect(cancelled.status).toBe(200)
        for (const socket of [host, pupil]) {
          expect((yield* socket.waitFor(event("call.ended"))).data).toMatchObject({ reason: "lesson_cancelled" })
          expect(yield* socket.waitFor(unsubscribed(channel))).toMatchObject({
            code: "SUBSCRIPTION_REVOKED",
            detail: "The lesson was cancelled; its room is closed"
          })
        }
        const info = yield* call("GET", `/api/v1/lessons/${lessonId}/call`, { token: cast.tutor.token })
        expect(info.json).toMatchObject({ session: null })
        expect(yield* request(pupil, { t: "sub", channel })).toMatchObject({ t: "error", code: "FORBIDDEN" })
        expect(yield* request(host, { t: "cmd", channel, type: "chat.send", data: { body: "anyone?" } })).toMatchObject({
          code: "CHANNEL_NOT_SUBSCRIBED"
        })
        expect(eventsAfterRevocation(pupil, channel)).toEqual([])
      }))
  })

  it.layer(serverStack({ realtime: realtimeConfig({ membershipRecheck: Duration.millis(500) }) }), liveStack)((it) => {
    it.scoped("a removal whose notice was lost still unsubscribes the student within WS_MEMBERSHIP_RECHECK", () =>
      Effect.gen(function*() {
        const { cast, kept, removed, channel } = yield* twoStudentsInRoom
        const stays = yield* lessonSub(kept.token, channel)
        const goes = yield* lessonSub(removed.token, channel)
        // Removed behind the services' back: no notice is published, as if the Bus had lost it.
        const sql = yield* SqlClient.SqlClient
        yield* sql`DELETE FROM lesson_students WHERE lesson_id = ${cast.lesson.id} AND student_id = ${removed.user.id}`
        expect(yield* goes.waitFor(unsubscribed(channel), "5 seconds")).toMatchObject({ code: "SUBSCRIPTION_REVOKED" })
        // The student still in the lesson keeps the room.
        yield* Effect.sleep("1200 millis")
        expect(stays.frames.some(unsubscribed(channel))).toBe(false)
        expect(yield* request(stays, { t: "cmd", channel, type: "typing", data: { typing: true } })).toMatchObject({ t: "ack" })
      }))
  })

  it.scopedLive("a student connected to another server process is unsubscribed when removed through this one", () =>
    Effect.gen(function*() {
      const [a, b] = yield* peerServers()
      const cast = yield* a.run(signedInCallCast(2))
      const [kept, removed] = cast.students
      if (kept === undefined || removed === undefined) return yield* Effect.dieMessage("cast")
      const channel = `lesson:${cast.lesson.id}`
      const goes = yield* Effect.provide(lessonSub(removed.token, channel), b.context)
      const stays = yield* Effect.provide(lessonSub(kept.token, channel), b.context)
      const patched = yield* a.run(call("PATCH", `/api/v1/lessons/${cast.lesson.id}`, {
        token: cast.tutor.token,
        body: { studentIds: [kept.user.id] }
      }))
      expect(patched.status).toBe(200)
      expect(yield* goes.waitFor(unsubscribed(channel))).toMatchObject({ code: "SUBSCRIPTION_REVOKED" })
      yield* stays.waitFor((f) => event("presence.leave")(f) && (f.data as { userId: string }).userId === removed.user.id)
      expect(stays.frames.filter((f) => f.t === "unsubscribed")).toEqual([])
    }), 60_000)
})
