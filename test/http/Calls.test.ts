/**
 * Lesson calls over REST, for every kind of caller: reading the call with ICE
 * servers (TURN REST credentials), starting, ending, the signaling log, and the
 * refusals.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { callsConfig } from "../support/CallCast.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

const turnSecret = "turn-shared-secret-for-tests"
const config = callsConfig({
  iceUrls: ["stun:stun.example.com:3478", "turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"],
  turnSecret: Option.some(Redacted.make(turnSecret)),
  turnTtl: Duration.hours(2)
})

const outcome = (r: TestResponse) => [r.status, errorCode(r) ?? "ok"]
const json = (r: TestResponse) => r.json as Record<string, unknown>

describe(`lesson calls over REST (${backendLabel})`, () => {
  it.layer(serverStack({ calls: config }), liveStack)((it) => {
    it.effect("GET: role per caller and ICE servers with TURN REST credentials; outsiders get 404", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const path = `/api/v1/lessons/${cast.lesson.id}/call`
        const roles = []
        for (const who of [cast.tutor, cast.student, cast.admin]) {
          const r = yield* call("GET", path, { token: who.token })
          expect(r.status).toBe(200)
          roles.push(json(r).role)
          expect(json(r).session).toBeNull()
        }
        expect(roles).toEqual(["HOST", "PARTICIPANT", "VIEWER"])
        expect(outcome(yield* call("GET", path, { token: cast.otherStudent.token }))).toEqual([404, "LESSON_NOT_FOUND"])
        expect(outcome(yield* call("GET", path, { token: cast.otherTutor.token }))).toEqual([404, "LESSON_NOT_FOUND"])
        expect(outcome(yield* call("GET", path))).toEqual([401, "AUTHENTICATION_REQUIRED"])
        expect(outcome(yield* call("GET", "/api/v1/lessons/nope/call", { token: cast.tutor.token }))[0]).toBe(400)

        const r = yield* call("GET", path, { token: cast.student.token })
        const [stun, turn] = json(r).iceServers as ReadonlyArray<{ urls: Array<string>; username?: string; credential?: string }>
        expect(stun).toEqual({ urls: ["stun:stun.example.com:3478"] })
        expect(turn?.urls).toEqual(["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"])
        const [expiry, userId] = (turn?.username ?? "").split(":")
        expect(userId).toBe(cast.student.user.id)
        const inSeconds = Number(expiry) - Date.now() / 1000
        expect(inSeconds).toBeGreaterThan(2 * 3600 - 60)
        expect(inSeconds).toBeLessThanOrEqual(2 * 3600)
        expect(turn?.credential).toBe(createHmac("sha1", turnSecret).update(turn?.username ?? "").digest("base64"))
      }))

    it.effect("POST starts once (host only), DELETE ends (host or admin), the log is for host and admins", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const path = `/api/v1/lessons/${cast.lesson.id}/call`
        for (const who of [cast.student, cast.admin]) {
          expect(outcome(yield* call("POST", path, { token: who.token }))).toEqual([403, "FORBIDDEN"])
        }
        expect(outcome(yield* call("POST", path, { token: cast.otherTutor.token }))).toEqual([404, "LESSON_NOT_FOUND"])
        expect(json(yield* call("GET", path, { token: cast.student.token })).session).toBeNull()

        const started = yield* call("POST", path, { token: cast.tutor.token })
        expect(started.status).toBe(200)
        const session = json(started).session as { id: string; status: string; participants: Array<unknown> }
        expect([session.status, session.participants]).toEqual(["WAITING", []])
        const again = json(yield* call("POST", path, { token: cast.tutor.token })).session as { id: string }
        expect(again.id).toBe(session.id)
        expect((json(yield* call("GET", path, { token: cast.student.token })).session as { id: string }).id).toBe(session.id)

        expect(outcome(yield* call("DELETE", path, { token: cast.student.token }))).toEqual([403, "FORBIDDEN"])
        const ended = yield* call("DELETE", path, { token: cast.tutor.token })
        expect(ended.status).toBe(200)
        expect(json(ended)).toMatchObject({ id: session.id, status: "ENDED", endReason: "host" })
        expect(outcome(yield* call("DELETE", path, { token: cast.tutor.token }))).toEqual([404, "CALL_NOT_FOUND"])

        // A new session; an admin may end it too.
        const second = json(yield* call("POST", path, { token: cast.tutor.token })).session as { id: string }
        expect(second.id).not.toBe(session.id)
        expect(json(yield* call("DELETE", path, { token: cast.admin.token }))).toMatchObject({ endReason: "admin" })

        const log = yield* call("GET", `${path}/log`, { token: cast.tutor.token })
        expect(log.status).toBe(200)
        expect(json(log).sessionId).toBe(second.id)
        expect((json(log).items as Array<{ type: string }>).map((e) => e.type)).toEqual(["start", "end"])
        const first = yield* call("GET", `${path}/log?sessionId=${session.id}`, { token: cast.admin.token })
        expect((json(first).items as Array<{ type: string }>).map((e) => e.type)).toEqual(["start", "end"])
        expect(outcome(yield* call("GET", `${path}/log`, { token: cast.student.token }))).toEqual([403, "FORBIDDEN"])
        expect(outcome(yield* call("GET", `${path}/log?limit=0`, { token: cast.tutor.token }))).toEqual([400, "VALIDATION_ERROR"])
        expect(outcome(yield* call("GET", `${path}/log?cursor=garbage`, { token: cast.tutor.token }))).toEqual([400, "INVALID_CURSOR"])
      }))

    it.effect("a cancelled lesson cannot have a call", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        expect((yield* call("DELETE", `/api/v1/lessons/${cast.lesson.id}`, { token: cast.tutor.token })).status).toBe(200)
        expect(outcome(yield* call("POST", `/api/v1/lessons/${cast.lesson.id}/call`, { token: cast.tutor.token })))
          .toEqual([409, "CALL_LESSON_CLOSED"])
      }))
  })
})
