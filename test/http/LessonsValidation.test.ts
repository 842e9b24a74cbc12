/**
 * Bad input to the lesson routes, through the real server: each answers 400 or
 * 409 with the offending field named, and the database is exactly as before.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { lessonTables, snapshot } from "../support/DbSnapshot.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { createUser, lessonCast, link, signedIn } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

const hour = 3_600_000
const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString()

const fieldsOf = (r: TestResponse): Record<string, string> =>
  (r.json as { error?: { fields?: Record<string, string> } }).error?.fields ?? {}

/** Runs `request`, expects `status`/`code` and exactly `fields` (names → message pattern), and no DB change. */
const refused = <R>(
  request: Effect.Effect<TestResponse, never, R>,
  expected: { readonly status: number; readonly code: string; readonly fields: Record<string, RegExp> }
) =>
  Effect.gen(function*() {
    const before = yield* snapshot(lessonTables)
    const r = yield* request
    expect([r.status, errorCode(r)], r.text).toEqual([expected.status, expected.code])
    expect(Object.keys(fieldsOf(r)).sort(), r.text).toEqual(Object.keys(expected.fields).sort())
    for (const [field, pattern] of Object.entries(expected.fields)) expect(fieldsOf(r)[field]).toMatch(pattern)
    expect(yield* snapshot(lessonTables)).toEqual(before)
  })

describe(`lessons: bad input changes nothing (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("create: end before start, too long, in the past, unknown/unlinked/duplicate students, bad shapes", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const stranger = yield* createUser("student")
        const post = (token: string, body: Record<string, unknown>) => call("POST", "/api/v1/lessons", { token, body })
        const base = { title: "Lesson", studentIds: [cast.student.user.id], startsAt: at(2 * hour), endsAt: at(3 * hour) }
        const tutor = cast.tutor.token
        const admin = cast.admin.token

        yield* refused(post(tutor, { ...base, endsAt: at(hour) }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { endsAt: /after startsAt/ }
        })
        yield* refused(post(tutor, { ...base, endsAt: base.startsAt }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { endsAt: /after startsAt/ }
        })
        yield* refused(post(tutor, { ...base, endsAt: at(11 * hour) }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { endsAt: /at most 8h/ }
        })
        yield* refused(post(tutor, { ...base, startsAt: at(-hour), endsAt: at(hour) }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { startsAt: /past/ }
        })
        // Unknown student, a student of someone else, and a repeated student, reported together.
        yield* refused(
          post(tutor, { ...base, studentIds: [cast.student.user.id, randomUUID(), cast.otherStudent.user.id, cast.student.user.id] }),
          {
            status: 400,
            code: "VALIDATION_ERROR",
            fields: {
              "studentIds.1": /not one of your active students/,
              "studentIds.2": /not one of your active students/,
              "studentIds.3": /listed twice/
            }
          }
        )
        // Admins learn why: no such student vs. not this tutor's student.
        yield* refused(
          post(admin, {
            ...base,
            tutorId: cast.tutor.user.id,
            studentIds: [randomUUID(), stranger.id, cast.tutor.user.id]
          }),
          {
            status: 400,
            code: "VALIDATION_ERROR",
            fields: {
              "studentIds.0": /no student with this id/,
              "studentIds.1": /not an active student of this tutor/,
              "studentIds.2": /no student with this id/
            }
          }
        )
        yield* refused(post(admin, { ...base, tutorId: cast.student.user.id }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { tutorId: /no tutor/ }
        })
        // Shape errors: every field at once.
        yield* refused(
          post(tutor, {
            title: "  ",
            studentIds: [],
            startsAt: "tomorrow",
            endsAt: "2026-13-45T99:00:00Z",
            description: "x".repeat(5001)
          }),
          {
            status: 400,
            code: "VALIDATION_ERROR",
            fields: { title: /empty/, studentIds: /at least one/, startsAt: /./, endsAt: /./, description: /5000/ }
          }
        )
        yield* refused(post(tutor, { ...base, studentIds: Array.from({ length: 10 }, () => randomUUID()) }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { studentIds: /at most 9/ }
        })
        yield* refused(post(tutor, { ...base, studentIds: ["not-a-uuid"] }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { "studentIds.0": /UUID/ }
        })
      }))

    it.effect("a relation that ended no longer allows new lessons with that student", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const relations = yield* call("GET", `/api/v1/relations?student=${cast.student.user.id}`, { token: cast.tutor.token })
        const relationId = (relations.json as { items: ReadonlyArray<{ id: string }> }).items[0]?.id
        expect((yield* call("DELETE", `/api/v1/relations/${relationId}`, { token: cast.tutor.token })).status).toBe(200)
        yield* refused(
          call("POST", "/api/v1/lessons", {
            token: cast.tutor.token,
            body: { title: "After", studentIds: [cast.student.user.id], startsAt: at(hour), endsAt: at(2 * hour) }
          }),
          { status: 400, code: "VALIDATION_ERROR", fields: { "studentIds.0": /not one of your active students/ } }
        )
        // The lesson scheduled before the relation ended is untouched.
        const existing = yield* call("GET", `/api/v1/lessons/${cast.lesson.id}`, { token: cast.student.token })
        expect(existing.json).toMatchObject({ status: "scheduled" })
      }))

    it.effect("update: bad windows and students → 400; wrong status transitions → 409; frozen details → 409", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const path = `/api/v1/lessons/${cast.lesson.id}`
        const patch = (body: Record<string, unknown>, token = cast.tutor.token) => call("PATCH", path, { token, body })
        const startsAt = cast.lesson.startsAt.toJSON()

        yield* refused(patch({ endsAt: startsAt }), { status: 400, code: "VALIDATION_ERROR", fields: { endsAt: /after startsAt/ } })
        // Moving only the start past the end blames the start.
        yield* refused(patch({ startsAt: at(5 * hour) }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { startsAt: /before endsAt/ }
        })
        yield* refused(patch({ studentIds: [cast.student.user.id, cast.otherStudent.user.id] }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { "studentIds.1": /not one of your active students/ }
        })
        yield* refused(patch({ status: "finished" }), { status: 400, code: "VALIDATION_ERROR", fields: { status: /./ } })

        // scheduled → live → (no going back, no cancelling) → completed → (final)
        const live = yield* patch({ status: "live" })
        expect(live.json).toMatchObject({ status: "live" })
        yield* refused(patch({ status: "scheduled" }), {
          status: 409,
          code: "INVALID_LESSON_TRANSITION",
          fields: { status: /from live to scheduled/ }
        })
        yield* refused(call("DELETE", path, { token: cast.tutor.token }), {
          status: 409,
          code: "INVALID_LESSON_TRANSITION",
          fields: { status: /from live to cancelled/ }
        })
        yield* refused(patch({ startsAt: at(hour / 2) }), {
          status: 409,
          code: "LESSON_NOT_EDITABLE",
          fields: { startsAt: /already started/ }
        })
        // A live lesson may still run longer.
        expect((yield* patch({ endsAt: at(3 * hour) })).status).toBe(200)
        expect((yield* patch({ status: "completed" })).json).toMatchObject({ status: "completed" })
        for (const status of ["live", "cancelled", "no_show", "scheduled"]) {
          yield* refused(patch({ status }), {
            status: 409,
            code: "INVALID_LESSON_TRANSITION",
            fields: { status: new RegExp(`from completed to ${status}`) }
          })
        }
        yield* refused(patch({ title: "Rewritten history", startsAt: at(hour) }), {
          status: 409,
          code: "LESSON_NOT_EDITABLE",
          fields: { title: /completed/, startsAt: /completed/ }
        })
        // Admins are held to the same rules.
        yield* refused(patch({ status: "cancelled" }, cast.admin.token), {
          status: 409,
          code: "INVALID_LESSON_TRANSITION",
          fields: { status: /from completed to cancelled/ }
        })
        // Sending the current values back is not a change.
        const same = yield* patch({ status: "completed", title: cast.lesson.title })
        expect(same.status).toBe(200)
      }))

    it.effect("list: limit 0 / 10000 / not a number, malformed cursors, to before from, unknown status → 400", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("tutor")
        const list = (query: string) => call("GET", `/api/v1/lessons?${query}`, { token })
        for (const limit of ["0", "10000", "-1", "2.5", "ten"]) {
          yield* refused(list(`limit=${limit}`), { status: 400, code: "VALIDATION_ERROR", fields: { limit: /1 to 200/ } })
        }
        const foreign = Buffer.from(JSON.stringify({ createdAt: "2026-01-01", id: randomUUID() })).toString("base64url")
        for (const cursor of ["!!!", "bm90IGpzb24", foreign]) {
          yield* refused(list(`cursor=${encodeURIComponent(cursor)}`), {
            status: 400,
            code: "INVALID_CURSOR",
            fields: { cursor: /malformed/ }
          })
        }
        yield* refused(list("from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z"), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { to: /after from/ }
        })
        yield* refused(list("status=live&status=done"), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { "status.1": /expected scheduled, live/ }
        })
        yield* refused(list("tutor=nobody"), { status: 400, code: "VALIDATION_ERROR", fields: { tutor: /UUID/ } })
        yield* refused(list("from=yesterday&limit=0"), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { from: /./, limit: /1 to 200/ }
        })
      }))

    it.effect("malformed lesson ids answer 400 naming the id; unknown ones 404", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("admin")
        yield* refused(call("GET", "/api/v1/lessons/123", { token }), {
          status: 400,
          code: "VALIDATION_ERROR",
          fields: { id: /UUID/ }
        })
        yield* refused(call("PATCH", `/api/v1/lessons/${randomUUID()}`, { token, body: { title: "x" } }), {
          status: 404,
          code: "LESSON_NOT_FOUND",
          fields: {}
        })
      }))

    it.effect("a relation link needed for scheduling is per tutor: linking the student lets the other tutor schedule", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        yield* link(cast.otherTutor.user.id, cast.student.user.id)
        const r = yield* call("POST", "/api/v1/lessons", {
          token: cast.otherTutor.token,
          body: { title: "Second tutor", studentIds: [cast.student.user.id], startsAt: at(hour), endsAt: at(2 * hour) }
        })
        expect(r.status).toBe(201)
      }))
  })
})
