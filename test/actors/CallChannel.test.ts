/**
 * The `call:<lessonId>` channel through the real gateway (msgpack WebSockets):
 * targeted relay with three clients, malformed signals answered with error
 * frames and no state change, second devices, grants pushed to the participant,
 * the host ending the call, the idle timeout ending it from the actor's tick,
 * and one actor per call however many subscribe at once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import { WebRtcSessions } from "../../src/actors/WebRtcSession.ts"
import { callsConfig, signedInCallCast } from "../support/CallCast.ts"
import { call } from "../support/Http.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, type Frame, request, type TestSocket } from "../support/Ws.ts"

/** Connects, subscribes to the call channel and (unless `joinCall` is false) joins the call. */
const inCall = (token: string, lessonId: string, joinCall = true) =>
  Effect.gen(function*() {
    const socket = yield* connected(token)
    const channel = `call:${lessonId}`
    const sub = yield* request(socket, { t: "sub", channel })
    expect(sub.t).toBe("ack")
    if (joinCall) expect(yield* request(socket, { t: "cmd", channel, type: "join" })).toMatchObject({ t: "ack" })
    const cmd = (type: string, data?: unknown) => request(socket, { t: "cmd", channel, type, ...(data === undefined ? {} : { data }) })
    return { socket, cmd, channel }
  })

const event = (type: string, extra: (f: Frame) => boolean = () => true) => (f: Frame) =>
  f.t === "event" && f.type === type && extra(f)
const dataOf = (f: Frame) => f.data as Record<string, unknown>
const events = (socket: TestSocket, type: string) => socket.frames.filter(event(type))

describe(`call channel over WebSockets (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("three clients: an offer for B reaches B only; malformed signals get error frames and change nothing", () =>
      Effect.gen(function*() {
        const cast = yield* signedInCallCast(3)
        const lessonId = cast.lesson.id
        const [bUser, cUser, dUser] = cast.students
        if (bUser === undefined || cUser === undefined || dUser === undefined) return yield* Effect.dieMessage("cast")
        const a = yield* inCall(cast.tutor.token, lessonId)
        const b = yield* inCall(bUser.token, lessonId)
        const c = yield* inCall(cUser.token, lessonId)
        const d = yield* inCall(dUser.token, lessonId, false) // subscribed, not in the call

        expect(yield* a.cmd("offer", { to: bUser.user.id, sdp: "v=0\r\no=- offer-for-b" })).toMatchObject({ t: "ack" })
        const offer = yield* b.socket.waitFor(event("offer"))
        expect(dataOf(offer)).toEqual({ from: cast.tutor.user.id, sdp: "v=0\r\no=- offer-for-b" })
        // A later signal for C arrives; by then the offer would have too, had it been misrouted.
        yield* a.cmd("ice", { to: cUser.user.id, candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid: "0" } })
        yield* c.socket.waitFor(event("ice"))
        expect(events(c.socket, "offer")).toEqual([])
        expect(events(d.socket, "offer")).toEqual([])
        expect(events(a.socket, "offer")).toEqual([])
        yield* b.cmd("answer", { to: cast.tutor.user.id, sdp: "v=0\r\no=- answer" })
        expect(dataOf(yield* a.socket.waitFor(event("answer")))).toMatchObject({ from: bUser.user.id })

        const before = (yield* call("GET", `/api/v1/lessons/${lessonId}/call`, { token: cast.tutor.token })).json
        const bad: ReadonlyArray<readonly [string, unknown, string, Record<string, string>?]> = [
          ["offer", { to: bUser.user.id, sdp: `v=0\r\n${"a".repeat(40_000)}` }, "VALIDATION_ERROR", { sdp: "at most 32768 characters" }],
          ["offer", { to: bUser.user.id, sdp: "hello" }, "VALIDATION_ERROR", { sdp: "expected an SDP (starting with v=0)" }],
          ["offer", { to: "not-a-uuid", sdp: "v=0" }, "VALIDATION_ERROR"],
          ["ice", { to: bUser.user.id, candidate: { candidate: "x".repeat(2_000) } }, "VALIDATION_ERROR"],
          ["offer", { to: bUser.user.id, sdp: "v=0", extra: 1 }, "VALIDATION_ERROR"],
          ["offer", { to: randomUUID(), sdp: "v=0" }, "SIGNAL_TARGET_UNKNOWN"],
          ["offer", { to: dUser.user.id, sdp: "v=0" }, "SIGNAL_TARGET_UNKNOWN"],
          ["offer", { to: cast.tutor.user.id, sdp: "v=0" }, "SIGNAL_TARGET_UNKNOWN"],
          ["offer", { to: bUser.user.id, sdp: "v=0", from: cUser.user.id }, "FORBIDDEN"],
          ["teleport", {}, "UNKNOWN_COMMAND"],
          ["mute", { kind: "smell" }, "VALIDATION_ERROR"],
          ["grants", { userId: bUser.user.id, screen: false }, "FORBIDDEN"] // only the host (A) may
        ]
        for (const [type, data, code, fields] of bad) {
          const sender = type === "grants" ? c : a
          const answer = yield* sender.cmd(type, data)
          expect([type, answer.t, answer.code], JSON.stringify(data).slice(0, 80)).toEqual([type, "error", code])
          if (fields !== undefined) expect(answer.fields).toMatchObject(fields)
        }
        // D is subscribed but not in the call: its signals are refused.
        expect(yield* d.cmd("offer", { to: bUser.user.id, sdp: "v=0" })).toMatchObject({ code: "NOT_IN_CALL" })
        expect(events(b.socket, "offer")).toHaveLength(1)
        const after = (yield* call("GET", `/api/v1/lessons/${lessonId}/call`, { token: cast.tutor.token })).json
        expect(after).toEqual(before)

        // Outsiders cannot even subscribe.
        const outsider = yield* connected(cast.outsider.token)
        expect(yield* request(outsider, { t: "sub", channel: `call:${lessonId}` })).toMatchObject({ code: "LESSON_NOT_FOUND" })
        expect(yield* request(outsider, { t: "sub", channel: "call:nonsense" })).toMatchObject({ code: "LESSON_NOT_FOUND" })
      }))

    it.scoped("a second device replaces the first (notice, close 4504); grants and mutes are pushed; the host ends it", () =>
      Effect.gen(function*() {
        const cast = yield* signedInCallCast(1)
        const lessonId = cast.lesson.id
        const student = cast.students[0]
        if (student === undefined) return yield* Effect.dieMessage("cast")
        const host = yield* inCall(cast.tutor.token, lessonId)
        const laptop = yield* inCall(student.token, lessonId)
        const phone = yield* inCall(student.token, lessonId)
        yield* laptop.socket.waitFor(event("call.replaced"))
        expect((yield* laptop.socket.closed).code).toBe(4504)
        yield* host.cmd("offer", { to: student.user.id, sdp: "v=0 to-phone" })
        expect(dataOf(yield* phone.socket.waitFor(event("offer")))).toMatchObject({ sdp: "v=0 to-phone" })

        const viewer = yield* inCall(cast.admin.token, lessonId)
        expect(yield* viewer.cmd("unmute", { kind: "audio" })).toMatchObject({ code: "GRANT_DENIED" })
        expect(yield* viewer.cmd("screen_share_start")).toMatchObject({ code: "GRANT_DENIED" })

        expect(yield* phone.cmd("screen_share_start")).toMatchObject({ t: "ack" })
        expect(yield* host.cmd("screen_share_start")).toMatchObject({ code: "SCREEN_SHARE_TAKEN" })
        yield* host.cmd("grants", { userId: student.user.id, screen: false })
        const pushed = yield* phone.socket.waitFor(event("participant.updated", (f) => {
          const p = dataOf(f).participant as { grants: { screen: boolean }; screenSharing: boolean }
          return p.grants.screen === false
        }))
        expect(dataOf(pushed).participant).toMatchObject({ screenSharing: false, userId: student.user.id })
        expect(yield* phone.cmd("screen_share_start")).toMatchObject({ code: "GRANT_DENIED" })
        expect(yield* host.cmd("screen_share_start")).toMatchObject({ t: "ack" })
        yield* host.cmd("host_mute", { userId: student.user.id, kind: "audio" })
        yield* viewer.socket.waitFor(event("participant.updated", (f) =>
          (dataOf(f).participant as { audioMuted: boolean; userId: string }).audioMuted &&
          (dataOf(f).participant as { userId: string }).userId === student.user.id))

        expect(yield* host.cmd("host_end")).toMatchObject({ t: "ack" })
        for (const s of [host, phone, viewer]) {
          expect(dataOf(yield* s.socket.waitFor(event("call.ended")))).toMatchObject({ reason: "host" })
        }
        expect(yield* phone.cmd("offer", { to: cast.tutor.user.id, sdp: "v=0" })).toMatchObject({ code: "CALL_NOT_FOUND" })
      }))

    it.scoped("one actor per call however many connections subscribe at once; it stops with the last", () =>
      Effect.gen(function*() {
        const cast = yield* signedInCallCast(1)
        const student = cast.students[0]
        if (student === undefined) return yield* Effect.dieMessage("cast")
        const sessions = yield* WebRtcSessions
        const before = yield* sessions.size
        const sockets = yield* Effect.scoped(Effect.gen(function*() {
          yield* Effect.forEach(
            Array.from({ length: 24 }, (_, i) => i),
            (i) => inCall(i % 2 === 0 ? cast.tutor.token : student.token, cast.lesson.id, false),
            { concurrency: "unbounded" }
          )
          return yield* sessions.size
        }))
        expect(sockets - before).toBe(1)
        // Sockets closed with the inner scope; the gateway detaches them asynchronously.
        yield* Effect.repeat(sessions.size, { until: (n) => n === before, schedule: Schedule.spaced("20 millis") }).pipe(
          Effect.timeout("5 seconds")
        )
      }))
  })
})

describe(`call timeouts from the actor (${backendLabel})`, () => {
  it.layer(serverStack({ calls: callsConfig({ idleTimeout: Duration.millis(800) }) }), liveStack)((it) => {
    it.scoped("a host waiting alone past the idle timeout is told the call ended (reason idle)", () =>
      Effect.gen(function*() {
        const cast = yield* signedInCallCast(1)
        const host = yield* inCall(cast.tutor.token, cast.lesson.id)
        const ended = yield* host.socket.waitFor(event("call.ended"), "5 seconds")
        expect(dataOf(ended)).toMatchObject({ reason: "idle" })
        const state = yield* call("GET", `/api/v1/lessons/${cast.lesson.id}/call`, { token: cast.tutor.token })
        expect((state.json as { session: unknown }).session).toBeNull()
      }))
  })
})
