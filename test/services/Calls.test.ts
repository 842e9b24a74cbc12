/**
 * Call rules through the `Calls` service: roles from the lesson, the grant
 * matrix, CALL_FULL, second devices, host actions, relay targets, timeouts
 * (a shifted clock) and the signaling log. Cross-process screen sharing is in
 * CallsPeers.test.ts; the realtime channel in test/actors.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, Queue, Stream } from "effect"
import { SqlClient } from "@effect/sql"
import type { LessonId } from "../../src/schemas/Ids.ts"
import { CallEvents } from "../../src/services/CallEvents.ts"
import { CallLog } from "../../src/services/CallLog.ts"
import { type Actor, Calls } from "../../src/services/Calls.ts"
import { callCast } from "../support/CallCast.ts"
import { makeShiftClock } from "../support/ShiftClock.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

const code = <A, E>(effect: Effect.Effect<A, E, Calls>) =>
  Effect.map(Effect.flip(effect), (e) => (typeof e === "object" && e !== null && "code" in e ? e.code : e))

const calls = Effect.flatMap(Calls, Effect.succeed)


describe(`calls: rules (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.scoped("roles come from the lesson; outsiders and early students are refused; viewers cannot publish", () =>
      Effect.gen(function*() {
        const c = yield* calls
        const cast = yield* callCast(2)
        const [s1, s2] = cast.students as [Actor, Actor]
        const lesson = cast.lesson.id

        expect(yield* code(c.join(s1, lesson, "s1"))).toBe("CALL_NOT_FOUND")
        expect(yield* code(c.start(s1, lesson))).toBe("FORBIDDEN")
        expect(yield* code(c.start(cast.admin, lesson))).toBe("FORBIDDEN")
        expect(yield* code(c.join(cast.outsider, lesson, "o"))).toBe("LESSON_NOT_FOUND")
        expect(yield* code(c.info(cast.outsider, lesson))).toBe("LESSON_NOT_FOUND")

        const host = yield* c.join(cast.tutor, lesson, "t")
        expect(host.session.status).toBe("WAITING")
        expect(host.session.participants.map((p) => [p.role, p.grants.screen])).toEqual([["HOST", true]])
        const student = yield* c.join(s1, lesson, "s1")
        expect(student.session.status).toBe("ACTIVE")
        const viewer = yield* c.join(cast.admin, lesson, "a")
        const admin = viewer.session.participants.find((p) => p.userId === cast.admin.id)
        expect(admin).toMatchObject({ role: "VIEWER", audioMuted: true, videoMuted: true })
        expect(admin?.grants).toEqual({ audio: false, video: false, screen: false })

        expect(yield* code(c.setMuted(cast.admin, lesson, "a", "audio", false))).toBe("GRANT_DENIED")
        expect(yield* code(c.setMuted(cast.admin, lesson, "a", "video", false))).toBe("GRANT_DENIED")
        expect(yield* code(c.screenShare(cast.admin, lesson, "a", true))).toBe("GRANT_DENIED")
        expect(yield* code(c.setGrants(cast.tutor, lesson, cast.admin.id, { audio: true }))).toBe("VALIDATION_ERROR")
        expect(yield* code(c.screenShare(s2, lesson, undefined, true))).toBe("NOT_IN_CALL")
        expect(yield* code(c.setGrants(s1, lesson, s1.id, { screen: true }))).toBe("FORBIDDEN")
        expect(yield* code(c.hostMute(cast.admin, lesson, s1.id, "audio"))).toBe("FORBIDDEN")
        expect(yield* code(c.remove(s1, lesson, cast.tutor.id))).toBe("FORBIDDEN")
        expect(yield* code(c.end(s1, lesson))).toBe("FORBIDDEN")

        // Refusals changed nothing.
        const info = yield* c.info(s1, lesson)
        expect(info.role).toBe("PARTICIPANT")
        expect(info.session?.participants.map((p) => [p.role, p.audioMuted, p.screenSharing])).toEqual([
          ["HOST", false, false],
          ["PARTICIPANT", false, false],
          ["VIEWER", true, false]
        ])
      }))

    it.scoped("grants: the host revokes and restores; revoking stops what is published; one screen at a time", () =>
      Effect.gen(function*() {
        const c = yield* calls
        const cast = yield* callCast(2)
        const [s1, s2] = cast.students as [Actor, Actor]
        const lesson = cast.lesson.id
        yield* c.join(cast.tutor, lesson, "t")
        yield* c.join(s1, lesson, "s1")
        yield* c.join(s2, lesson, "s2")

        expect((yield* c.screenShare(s1, lesson, "s1", true)).screenSharing).toBe(true)
        expect(yield* code(c.screenShare(s2, lesson, "s2", true))).toBe("SCREEN_SHARE_TAKEN")
        expect(yield* code(c.screenShare(cast.tutor, lesson, "t", true))).toBe("SCREEN_SHARE_TAKEN")

        const revoked = yield* c.setGrants(cast.tutor, lesson, s1.id, { screen: false, audio: false })
        expect(revoked).toMatchObject({ screenSharing: false, audioMuted: true })
        expect(revoked.grants).toEqual({ audio: false, video: true, screen: false })
        expect(yield* code(c.screenShare(s1, lesson, "s1", true))).toBe("GRANT_DENIED")
        expect(yield* code(c.setMuted(s1, lesson, "s1", "audio", false))).toBe("GRANT_DENIED")
        expect((yield* c.screenShare(s2, lesson, "s2", true)).screenSharing).toBe(true)

        yield* c.setGrants(cast.tutor, lesson, s1.id, { audio: true })
        expect((yield* c.setMuted(s1, lesson, "s1", "audio", false)).audioMuted).toBe(false)
        expect((yield* c.hostMute(cast.tutor, lesson, s1.id, "audio")).audioMuted).toBe(true)
        expect((yield* c.hostMute(cast.tutor, lesson, s2.id, "screen")).screenSharing).toBe(false)
        expect((yield* c.screenShare(cast.tutor, lesson, "t", true)).screenSharing).toBe(true)
      }))

    it.scoped("the 11th person gets CALL_FULL; a second device replaces the first without counting twice", () =>
      Effect.gen(function*() {
        const c = yield* calls
        const cast = yield* callCast(9)
        const lesson = cast.lesson.id
        yield* c.join(cast.tutor, lesson, "t")
        yield* Effect.forEach(cast.students, (s, i) => c.join(s, lesson, `s${i}`), { discard: true })
        expect(yield* code(c.join(cast.admin, lesson, "a"))).toBe("CALL_FULL")

        const s0 = cast.students[0] as Actor
        const second = yield* c.join(s0, lesson, "s0-phone")
        expect(second.replaced).toBe("s0")
        expect(second.session.participants).toHaveLength(10)
        // The replaced connection is no longer in the call; the new one is.
        expect(yield* code(c.leave(s0, lesson, "s0"))).toBe("NOT_IN_CALL")
        expect(yield* code(c.setMuted(s0, lesson, "s0", "audio", true))).toBe("NOT_IN_CALL")
        yield* c.disconnected(s0, lesson, "s0") // the old socket closing does not take the new one out
        expect((yield* c.info(s0, lesson)).session?.participants).toHaveLength(10)

        yield* c.leave(s0, lesson, "s0-phone")
        expect((yield* c.join(cast.admin, lesson, "a")).session.participants).toHaveLength(10)
      }))

    it.scoped("relay: only to a present participant other than the sender, and only on that target's channel", () =>
      Effect.gen(function*() {
        const c = yield* calls
        const events = yield* CallEvents
        const cast = yield* callCast(3)
        const [b, cc, absent] = cast.students as [Actor, Actor, Actor]
        const lesson = cast.lesson.id
        yield* c.join(cast.tutor, lesson, "a")
        yield* c.join(b, lesson, "b")
        yield* c.join(cc, lesson, "c")
        const toB = yield* events.followDirect(lesson, b.id)
        const toC = yield* events.followDirect(lesson, cc.id)
        const firstOf = (s: Stream.Stream<{ readonly type: string; readonly from: string }>) =>
          Effect.fork(Stream.runHead(s))
        const bFirst = yield* firstOf(toB)
        const cFirst = yield* firstOf(toC)

        yield* c.relay(cast.tutor, lesson, "a", "offer", b.id, { sdp: "v=0 offer-for-b" })
        // C's first message must be this one, not the offer for B.
        yield* c.relay(cast.tutor, lesson, "a", "ice", cc.id, { candidate: "for-c" })
        expect(Option.map(yield* Fiber.join(bFirst), (m) => [m.type, m.from])).toEqual(Option.some(["offer", cast.tutor.id]))
        expect(Option.map(yield* Fiber.join(cFirst), (m) => m.type)).toEqual(Option.some("ice"))

        expect(yield* code(c.relay(cast.tutor, lesson, "a", "offer", cast.tutor.id, {}))).toBe("SIGNAL_TARGET_UNKNOWN")
        expect(yield* code(c.relay(cast.tutor, lesson, "a", "offer", absent.id, {}))).toBe("SIGNAL_TARGET_UNKNOWN")
        expect(yield* code(c.relay(absent, lesson, "x", "offer", b.id, {}))).toBe("NOT_IN_CALL")
        expect(yield* code(c.relay(b, lesson, "not-b's-connection", "offer", cast.tutor.id, {}))).toBe("NOT_IN_CALL")
      }))

    it.scoped("the host removes someone, who cannot rejoin; ending tells everyone and logs without SDP", () =>
      Effect.gen(function*() {
        const c = yield* calls
        const events = yield* CallEvents
        const callLog = yield* CallLog
        const cast = yield* callCast(2)
        const [s1, s2] = cast.students as [Actor, Actor]
        const lesson = cast.lesson.id
        const broadcasts = yield* events.followBroadcast(lesson)
        const seen = yield* Queue.unbounded<string>()
        yield* broadcasts.pipe(
          Stream.runForEach((m) => Queue.offer(seen, m.kind === "event" ? m.type : m.kind)),
          Effect.forkScoped
        )
        yield* c.join(cast.tutor, lesson, "t")
        yield* c.join(s1, lesson, "s1")
        yield* c.join(s2, lesson, "s2")
        yield* c.relay(s1, lesson, "s1", "offer", cast.tutor.id, { sdp: "secret-sdp" })
        yield* c.remove(cast.tutor, lesson, s2.id)
        expect(yield* code(c.join(s2, lesson, "s2"))).toBe("CALL_REMOVED")
        expect(yield* code(c.remove(cast.tutor, lesson, cast.tutor.id))).toBe("VALIDATION_ERROR")
        const ended = yield* c.end(cast.tutor, lesson)
        expect([ended.status, ended.endReason]).toEqual(["ENDED", "host"])
        expect(yield* code(c.end(cast.tutor, lesson))).toBe("CALL_NOT_FOUND")
        expect(yield* code(c.join(s1, lesson, "s1"))).toBe("CALL_NOT_FOUND")

        const types: Array<string> = []
        while (!types.includes("call.ended")) types.push(yield* Queue.take(seen))
        expect(types).toEqual([
          "call.started",
          "participant.joined",
          "participant.joined",
          "participant.joined",
          "participant.left",
          "removed",
          "call.ended"
        ])

        const log = yield* callLog.read(cast.tutor, lesson, {})
        expect(log.items.map((e) => [e.type, e.from === null ? null : "u", e.to === null ? null : "u"])).toEqual([
          ["start", "u", null],
          ["join", "u", null],
          ["join", "u", null],
          ["join", "u", null],
          ["offer", "u", "u"],
          ["remove", "u", null],
          ["end", "u", null]
        ])
        expect(log.items.map((e) => e.seq)).toEqual([...log.items.map((e) => e.seq)].sort((x, y) => x - y))
        const paged = yield* callLog.read(cast.admin, lesson, { limit: 4 })
        expect(paged.items).toHaveLength(4)
        const rest = yield* callLog.read(cast.admin, lesson, { limit: 4, cursor: paged.nextCursor ?? "" })
        expect([...paged.items, ...rest.items]).toEqual(log.items)
        expect(rest.nextCursor).toBeNull()
        expect(yield* code(callLog.read(s1, lesson, {}))).toBe("FORBIDDEN")
        const sql = yield* SqlClient.SqlClient
        const stored = yield* sql`SELECT * FROM call_signal_log`
        expect(JSON.stringify(stored)).not.toContain("secret-sdp")
      }))

    it.scoped("timeouts end the session and tell followers (empty, idle, max lifetime); dead processes' participants are swept; old log entries are pruned", () => {
      const time = makeShiftClock()
      return Effect.gen(function*() {
        const c = yield* calls
        const events = yield* CallEvents
        const callLog = yield* CallLog
        const cast = yield* callCast(1)
        const s1 = cast.students[0] as Actor
        const lesson = cast.lesson.id
        const endings = yield* events.followBroadcast(lesson)
        const reasons = yield* Queue.unbounded<unknown>()
        yield* endings.pipe(
          Stream.filter((m) => m.kind === "event" && m.type === "call.ended"),
          Stream.runForEach((m) => Queue.offer(reasons, m.kind === "event" ? m.data : null)),
          Effect.forkScoped
        )
        const reasonOf = (lessonId: LessonId) =>
          Effect.gen(function*() {
            expect(yield* c.expire(lessonId)).toBe(true)
            const data = yield* Queue.take(reasons)
            return typeof data === "object" && data !== null && "reason" in data ? data.reason : data
          })

        // Empty: everyone left; a minute short of the timeout it lives on.
        yield* c.join(cast.tutor, lesson, "t")
        yield* c.join(s1, lesson, "s")
        yield* c.leave(s1, lesson, "s")
        yield* c.leave(cast.tutor, lesson, "t")
        yield* time.adjust(Duration.minutes(1))
        expect(yield* c.expire(lesson)).toBe(false)
        yield* time.adjust(Duration.minutes(1))
        expect(yield* reasonOf(lesson)).toBe("empty")

        // Idle: the host waits alone past the idle timeout.
        yield* c.join(cast.tutor, lesson, "t")
        yield* time.adjust(Duration.minutes(14))
        expect(yield* c.expire(lesson)).toBe(false)
        yield* time.adjust(Duration.minutes(1))
        expect(yield* reasonOf(lesson)).toBe("idle")

        // Max lifetime: a lively call still ends after 4 hours.
        yield* c.join(cast.tutor, lesson, "t")
        yield* c.join(s1, lesson, "s")
        yield* time.adjust(Duration.hours(3))
        expect(yield* c.expire(lesson, ["t", "s"])).toBe(false) // their process heartbeats them
        yield* time.adjust(Duration.hours(1))
        expect(yield* reasonOf(lesson)).toBe("max_lifetime")
        // Reading an overdue session also ends it (no process needs to be watching).
        yield* c.join(cast.tutor, lesson, "t")
        yield* time.adjust(Duration.minutes(15))
        expect((yield* c.info(s1, lesson)).session).toBeNull()
        expect(yield* Queue.take(reasons)).toMatchObject({ reason: "idle" })

        // A participant whose process stopped heartbeating (it died) is taken out; the others stay.
        yield* c.join(cast.tutor, lesson, "t")
        yield* c.join(s1, lesson, "s")
        yield* time.adjust(Duration.seconds(20))
        expect(yield* c.expire(lesson, ["t"])).toBe(false)
        expect((yield* c.info(s1, lesson)).session?.participants).toHaveLength(2)
        yield* time.adjust(Duration.seconds(30)) // past 3 ticks (45 s at these timeouts)
        expect(yield* c.expire(lesson, ["t"])).toBe(false)
        expect((yield* c.info(s1, lesson)).session?.participants.map((p) => p.userId)).toEqual([cast.tutor.id])
        yield* c.end(cast.tutor, lesson)
        expect(yield* Queue.take(reasons)).toMatchObject({ reason: "host" })

        expect(yield* callLog.prune).toBe(0)
        yield* time.adjust(Duration.days(31))
        expect(yield* callLog.prune).toBeGreaterThan(5)
      }).pipe(Effect.withClock(time.clock))
    })
  })
})
