/**
 * Every lesson route × every kind of caller, through the real server: the
 * allowed ones succeed, the others get 401/403/404 with the right code, a
 * lesson id of someone else answers exactly like an id that does not exist, and
 * refused writes leave the database as it was.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { lessonTables, snapshot } from "../support/DbSnapshot.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { type LessonCast, lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

type Caller = "admin" | "tutor" | "otherTutor" | "student" | "otherStudent" | "anonymous"
const callers: ReadonlyArray<Caller> = ["admin", "tutor", "otherTutor", "student", "otherStudent", "anonymous"]

const tokenOf = (cast: LessonCast, caller: Caller) => caller === "anonymous" ? undefined : cast[caller].token

const as = (cast: LessonCast, caller: Caller, method: string, path: string, body?: unknown) => {
  const token = tokenOf(cast, caller)
  return call(method, path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) })
}

const outcome = (r: TestResponse) => [r.status, errorCode(r) ?? "ok"]

/** A refusal must not carry anything of the lesson. */
const expectNoLeak = (r: TestResponse, cast: LessonCast) => {
  expect(r.text).not.toContain(cast.lesson.id)
  expect(r.text).not.toContain(cast.lesson.title)
  expect(r.text).not.toContain(cast.tutor.user.id)
}

describe(`lessons: every route × every caller (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("GET /lessons/{id}: its tutor, its student and admins read it; others 404 exactly like a missing id", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast({ title: "Secret algebra" })
        const path = `/api/v1/lessons/${cast.lesson.id}`
        const missing = yield* as(cast, "otherTutor", "GET", `/api/v1/lessons/${randomUUID()}`)
        const expected: Record<Caller, ReadonlyArray<unknown>> = {
          admin: [200, "ok"],
          tutor: [200, "ok"],
          student: [200, "ok"],
          otherTutor: [404, "LESSON_NOT_FOUND"],
          otherStudent: [404, "LESSON_NOT_FOUND"],
          anonymous: [401, "AUTHENTICATION_REQUIRED"]
        }
        for (const caller of callers) {
          const r = yield* as(cast, caller, "GET", path)
          expect(outcome(r), caller).toEqual(expected[caller])
          if (r.status === 200) {
            expect(r.json, caller).toMatchObject({
              id: cast.lesson.id,
              title: "Secret algebra",
              status: "scheduled",
              tutor: { id: cast.tutor.user.id, displayName: "Tutor" },
              students: [{ id: cast.student.user.id, displayName: "Student" }]
            })
          } else {
            expectNoLeak(r, cast)
            if (r.status === 404) expect(r.json, caller).toEqual(missing.json)
          }
        }
      }))

    it.effect("PATCH /lessons/{id}: its tutor and admins change it; its student 403; strangers 404; anonymous 401", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const path = `/api/v1/lessons/${cast.lesson.id}`
        const expected: Record<Caller, ReadonlyArray<unknown>> = {
          admin: [200, "ok"],
          tutor: [200, "ok"],
          student: [403, "FORBIDDEN"],
          otherTutor: [404, "LESSON_NOT_FOUND"],
          otherStudent: [404, "LESSON_NOT_FOUND"],
          anonymous: [401, "AUTHENTICATION_REQUIRED"]
        }
        for (const caller of callers) {
          const before = yield* snapshot(lessonTables)
          const r = yield* as(cast, caller, "PATCH", path, { title: `Renamed by ${caller}` })
          expect(outcome(r), caller).toEqual(expected[caller])
          if (r.status === 200) {
            expect(r.json, caller).toMatchObject({ id: cast.lesson.id, title: `Renamed by ${caller}` })
          } else {
            expectNoLeak(r, cast)
            expect(yield* snapshot(lessonTables), `${caller} changed nothing`).toEqual(before)
          }
        }
        const final = yield* as(cast, "student", "GET", path)
        expect(final.json).toMatchObject({ title: "Renamed by tutor" })
      }))

    it.effect("DELETE /lessons/{id} cancels: strangers 404, its student 403, its tutor cancels, admins too (idempotent)", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const path = `/api/v1/lessons/${cast.lesson.id}`
        for (const [caller, status, code] of [
          ["anonymous", 401, "AUTHENTICATION_REQUIRED"],
          ["otherTutor", 404, "LESSON_NOT_FOUND"],
          ["otherStudent", 404, "LESSON_NOT_FOUND"],
          ["student", 403, "FORBIDDEN"]
        ] as const) {
          const before = yield* snapshot(lessonTables)
          const r = yield* as(cast, caller, "DELETE", path)
          expect(outcome(r), caller).toEqual([status, code])
          expectNoLeak(r, cast)
          expect(yield* snapshot(lessonTables), `${caller} changed nothing`).toEqual(before)
        }
        const cancelled = yield* as(cast, "tutor", "DELETE", path)
        expect(cancelled.status).toBe(200)
        expect(cancelled.json).toMatchObject({ id: cast.lesson.id, status: "cancelled" })
        const again = yield* as(cast, "admin", "DELETE", path)
        expect(again.status).toBe(200)
        expect(again.json).toEqual(cancelled.json)
        // Kept, not erased: its participants still read it.
        expect((yield* as(cast, "student", "GET", path)).json).toMatchObject({ status: "cancelled" })

        const second = yield* lessonCast()
        const byAdmin = yield* as(second, "admin", "DELETE", `/api/v1/lessons/${second.lesson.id}`)
        expect(byAdmin.json).toMatchObject({ status: "cancelled" })
      }))

    it.effect("POST /lessons: a tutor for their own student, an admin for a named tutor; students 403; anonymous 401", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const body = (extra: Record<string, unknown> = {}) => ({
          title: "Geometry",
          studentIds: [cast.student.user.id],
          startsAt: new Date(Date.now() + 3_600_000).toISOString(),
          endsAt: new Date(Date.now() + 7_200_000).toISOString(),
          ...extra
        })
        const byTutor = yield* as(cast, "tutor", "POST", "/api/v1/lessons", body())
        expect(byTutor.status).toBe(201)
        expect(byTutor.json).toMatchObject({ tutor: { id: cast.tutor.user.id }, status: "scheduled", title: "Geometry" })
        const byAdmin = yield* as(cast, "admin", "POST", "/api/v1/lessons", body({ tutorId: cast.tutor.user.id }))
        expect(byAdmin.status).toBe(201)
        expect(byAdmin.json).toMatchObject({ tutor: { id: cast.tutor.user.id } })

        const before = yield* snapshot(lessonTables)
        const refused: ReadonlyArray<readonly [Caller, Record<string, unknown>, number, string]> = [
          ["anonymous", body(), 401, "AUTHENTICATION_REQUIRED"],
          ["student", body(), 403, "FORBIDDEN"],
          ["otherStudent", body(), 403, "FORBIDDEN"],
          // Another tutor cannot schedule with a student who is not theirs…
          ["otherTutor", body(), 400, "VALIDATION_ERROR"],
          // …nor in someone else's name.
          ["otherTutor", body({ tutorId: cast.tutor.user.id }), 403, "FORBIDDEN"],
          // An admin must say whose lesson it is.
          ["admin", body(), 400, "VALIDATION_ERROR"]
        ]
        for (const [caller, payload, status, code] of refused) {
          const r = yield* as(cast, caller, "POST", "/api/v1/lessons", payload)
          expect(outcome(r), caller).toEqual([status, code])
        }
        expect(yield* snapshot(lessonTables)).toEqual(before)
        const notTheirs = yield* as(cast, "otherTutor", "POST", "/api/v1/lessons", body())
        expect(notTheirs.json).toMatchObject({ error: { fields: { "studentIds.0": "not one of your active students" } } })
      }))

    it.effect("GET /lessons lists exactly the caller's lessons (admins: all); anonymous 401", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const listed = (caller: Caller, query = "") =>
          Effect.map(as(cast, caller, "GET", `/api/v1/lessons?limit=200${query}`), (r) => {
            expect(r.status, caller).toBe(200)
            const body = r.json as { items: ReadonlyArray<{ id: string }> }
            return body.items.map((l) => l.id)
          })
        expect(yield* listed("tutor")).toEqual([cast.lesson.id])
        expect(yield* listed("student")).toEqual([cast.lesson.id])
        expect(yield* listed("otherTutor")).toEqual([])
        expect(yield* listed("otherStudent")).toEqual([])
        expect(yield* listed("admin")).toContain(cast.lesson.id)
        // Filters only narrow: naming someone else's lessons gives nothing.
        expect(yield* listed("otherTutor", `&tutor=${cast.tutor.user.id}`)).toEqual([])
        expect(yield* listed("otherStudent", `&student=${cast.student.user.id}`)).toEqual([])
        expect(yield* listed("admin", `&tutor=${cast.tutor.user.id}`)).toEqual([cast.lesson.id])
        expect(yield* listed("admin", `&student=${cast.student.user.id}`)).toEqual([cast.lesson.id])
        const anonymous = yield* as(cast, "anonymous", "GET", "/api/v1/lessons")
        expect(outcome(anonymous)).toEqual([401, "AUTHENTICATION_REQUIRED"])
      }))
  })
})
