/**
 * Tutor–student relations through the real server, for every kind of caller:
 * linking, listing (mine / all), reading, ending, and the refusals — which
 * leave the database unchanged.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { lessonTables, snapshot } from "../support/DbSnapshot.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { lessonCast, signedIn } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

interface RelationJson {
  readonly id: string
  readonly status: string
  readonly tutor: { readonly id: string; readonly displayName: string }
  readonly student: { readonly id: string; readonly displayName: string }
  readonly endedAt: string | null
}

const outcome = (r: TestResponse) => [r.status, errorCode(r) ?? "ok"]
const items = (r: TestResponse) => (r.json as { items: ReadonlyArray<RelationJson> }).items

describe(`relations: every route × every caller (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("POST: a tutor links their student, an admin links any pair; the rest are refused and change nothing", () =>
      Effect.gen(function*() {
        const admin = yield* signedIn("admin")
        const tutor = yield* signedIn("tutor", { displayName: "Ada" })
        const otherTutor = yield* signedIn("tutor")
        const student = yield* signedIn("student", { displayName: "Grace" })
        const post = (token: string | undefined, body: unknown) =>
          call("POST", "/api/v1/relations", { ...(token === undefined ? {} : { token }), body })

        const before = yield* snapshot(lessonTables)
        const refusals: ReadonlyArray<readonly [string | undefined, unknown, number, string, Record<string, string>]> = [
          [undefined, { studentId: student.user.id }, 401, "AUTHENTICATION_REQUIRED", {}],
          [student.token, { studentId: student.user.id }, 403, "FORBIDDEN", {}],
          [tutor.token, { studentId: student.user.id, tutorId: otherTutor.user.id }, 403, "FORBIDDEN", {}],
          [tutor.token, { studentId: randomUUID() }, 400, "VALIDATION_ERROR", { studentId: "no student with this id" }],
          [tutor.token, { studentId: otherTutor.user.id }, 400, "VALIDATION_ERROR", { studentId: "no student with this id" }],
          [tutor.token, { studentId: "x" }, 400, "VALIDATION_ERROR", { studentId: "expected a UUID" }],
          [admin.token, { studentId: student.user.id }, 400, "VALIDATION_ERROR", {
            tutorId: "required when an admin links a student"
          }],
          [admin.token, { studentId: tutor.user.id, tutorId: student.user.id }, 400, "VALIDATION_ERROR", {
            tutorId: "no tutor with this id",
            studentId: "no student with this id"
          }]
        ]
        for (const [token, body, status, code, fields] of refusals) {
          const r = yield* post(token, body)
          expect(outcome(r), JSON.stringify(body)).toEqual([status, code])
          if (status === 400) expect((r.json as { error: { fields: unknown } }).error.fields).toEqual(fields)
        }
        expect(yield* snapshot(lessonTables)).toEqual(before)

        const linked = yield* post(tutor.token, { studentId: student.user.id })
        expect(linked.status).toBe(201)
        expect(linked.json).toMatchObject({
          tutor: { id: tutor.user.id, displayName: "Ada" },
          student: { id: student.user.id, displayName: "Grace" },
          status: "active",
          endedAt: null
        })
        const again = yield* post(tutor.token, { studentId: student.user.id })
        expect(outcome(again)).toEqual([409, "RELATION_EXISTS"])
        expect(again.json).toMatchObject({ error: { fields: { studentId: "already an active student of this tutor" } } })
        const byAdmin = yield* post(admin.token, { studentId: student.user.id, tutorId: otherTutor.user.id })
        expect(byAdmin.status).toBe(201)
        expect(byAdmin.json).toMatchObject({ tutor: { id: otherTutor.user.id } })
      }))

    it.effect("GET /{id} and lists: each side sees theirs (with names), strangers get 404 / nothing, admins see all", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const mine = yield* call("GET", "/api/v1/relations", { token: cast.tutor.token })
        expect(mine.status).toBe(200)
        const [relation] = items(mine)
        expect(items(mine)).toHaveLength(1)
        expect(relation).toMatchObject({
          tutor: { id: cast.tutor.user.id, displayName: "Tutor" },
          student: { id: cast.student.user.id, displayName: "Student" }
        })
        expect(items(yield* call("GET", "/api/v1/relations", { token: cast.student.token })).map((r) => r.id))
          .toEqual([relation?.id])
        expect(items(yield* call("GET", "/api/v1/relations", { token: cast.otherTutor.token })).map((r) => r.id))
          .not.toContain(relation?.id)
        const forStudent = yield* call("GET", `/api/v1/relations?student=${cast.student.user.id}`, {
          token: cast.otherTutor.token
        })
        expect(items(forStudent)).toEqual([])
        const all = yield* call("GET", `/api/v1/relations?tutor=${cast.tutor.user.id}`, { token: cast.admin.token })
        expect(items(all).map((r) => r.id)).toEqual([relation?.id])

        const path = `/api/v1/relations/${relation?.id}`
        const expected = {
          admin: [200, "ok"],
          tutor: [200, "ok"],
          student: [200, "ok"],
          otherTutor: [404, "RELATION_NOT_FOUND"],
          otherStudent: [404, "RELATION_NOT_FOUND"]
        } as const
        for (const caller of ["admin", "tutor", "student", "otherTutor", "otherStudent"] as const) {
          const r = yield* call("GET", path, { token: cast[caller].token })
          expect(outcome(r), caller).toEqual(expected[caller])
          if (r.status !== 200) expect(r.text).not.toContain(cast.student.user.id)
        }
        expect(outcome(yield* call("GET", path))).toEqual([401, "AUTHENTICATION_REQUIRED"])
      }))

    it.effect("lists page oldest first with a cursor and filter by status", () =>
      Effect.gen(function*() {
        const tutor = yield* signedIn("tutor")
        const students = yield* Effect.all([signedIn("student"), signedIn("student"), signedIn("student")])
        const created: Array<string> = []
        for (const s of students) {
          const r = yield* call("POST", "/api/v1/relations", { token: tutor.token, body: { studentId: s.user.id } })
          created.push((r.json as RelationJson).id)
        }
        const seen: Array<string> = []
        let cursor: string | null = null
        do {
          const suffix: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`
          const page = yield* call("GET", `/api/v1/relations?limit=1${suffix}`, { token: tutor.token })
          const body = page.json as { items: ReadonlyArray<RelationJson>; nextCursor: string | null }
          seen.push(...body.items.map((r) => r.id))
          cursor = body.nextCursor
        } while (cursor !== null && seen.length < 10)
        expect(seen).toEqual(created)

        yield* call("DELETE", `/api/v1/relations/${created[1]}`, { token: tutor.token })
        const active = yield* call("GET", "/api/v1/relations?status=active", { token: tutor.token })
        expect(items(active).map((r) => r.id)).toEqual([created[0], created[2]])
        const ended = yield* call("GET", "/api/v1/relations?status=ended", { token: tutor.token })
        expect(items(ended).map((r) => r.id)).toEqual([created[1]])
        const bad = yield* call("GET", "/api/v1/relations?status=paused&limit=0", { token: tutor.token })
        expect(outcome(bad)).toEqual([400, "VALIDATION_ERROR"])
        expect(Object.keys((bad.json as { error: { fields: object } }).error.fields).sort()).toEqual(["limit", "status"])
        const badCursor = yield* call("GET", "/api/v1/relations?cursor=zzz", { token: tutor.token })
        expect(outcome(badCursor)).toEqual([400, "INVALID_CURSOR"])
      }))

    it.effect("DELETE ends: strangers 404, the student may end it, ending twice is a no-op, the pair can relink", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const relation = items(yield* call("GET", "/api/v1/relations", { token: cast.tutor.token }))[0]
        const path = `/api/v1/relations/${relation?.id}`
        for (const caller of ["otherTutor", "otherStudent"] as const) {
          const before = yield* snapshot(lessonTables)
          expect(outcome(yield* call("DELETE", path, { token: cast[caller].token })), caller)
            .toEqual([404, "RELATION_NOT_FOUND"])
          expect(yield* snapshot(lessonTables)).toEqual(before)
        }
        expect(outcome(yield* call("DELETE", path))).toEqual([401, "AUTHENTICATION_REQUIRED"])
        const ended = yield* call("DELETE", path, { token: cast.student.token })
        expect(ended.status).toBe(200)
        expect(ended.json).toMatchObject({ id: relation?.id, status: "ended", endedAt: expect.any(String) })
        const again = yield* call("DELETE", path, { token: cast.tutor.token })
        expect(again.json).toEqual(ended.json)
        const relinked = yield* call("POST", "/api/v1/relations", {
          token: cast.tutor.token,
          body: { studentId: cast.student.user.id }
        })
        expect(relinked.status).toBe(201)
        expect((relinked.json as RelationJson).id).not.toBe(relation?.id)
        const byAdmin = yield* call("DELETE", `/api/v1/relations/${(relinked.json as RelationJson).id}`, {
          token: cast.admin.token
        })
        expect(byAdmin.json).toMatchObject({ status: "ended" })
      }))
  })
})
