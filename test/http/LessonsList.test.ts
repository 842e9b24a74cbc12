/**
 * Listing and changing lessons through the real server: keyset pagination in
 * both directions (ties on start time included), overlap windows for tutors and
 * students, status filters, rescheduling (the student index copy follows), and
 * group lessons whose student list changes.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect } from "effect"
import { call, errorCode } from "../support/Http.ts"
import { createUser, lessonCast, link, scheduleLesson, signedIn } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

interface LessonJson {
  readonly id: string
  readonly startsAt: string
  readonly status: string
  readonly students: ReadonlyArray<{ readonly id: string }>
}
interface PageJson {
  readonly items: ReadonlyArray<LessonJson>
  readonly nextCursor: string | null
}

/** Follows `nextCursor` to the end; returns every page's ids. */
const allPages = (token: string, query: string) =>
  Effect.gen(function*() {
    const pages: Array<Array<string>> = []
    let cursor: string | null = null
    do {
      const suffix: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`
      const r = yield* call("GET", `/api/v1/lessons?${query}${suffix}`, { token })
      expect(r.status, r.text).toBe(200)
      const page = r.json as PageJson
      pages.push(page.items.map((l) => l.id))
      cursor = page.nextCursor
    } while (cursor !== null && pages.length < 20)
    return pages
  })

const ids = (r: { readonly json: unknown }) => (r.json as PageJson).items.map((l) => l.id)

describe(`lessons: listing and changing (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("pages by (start, id) in both directions, ties included, each lesson exactly once", () =>
      Effect.gen(function*() {
        const tutor = yield* signedIn("tutor")
        const student = yield* createUser("student")
        yield* link(tutor.user.id, student.id)
        // Whole hours from a whole-hour base: three lessons start at the very same instant.
        const base = DateTime.unsafeMake(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 3_600_000)
        const created = []
        for (const h of [5, 1, 3, 3, 3, 2, 4]) {
          const startsAt = DateTime.addDuration(base, Duration.hours(h))
          created.push(yield* scheduleLesson(tutor.user.id, [student.id], { startsAt }))
        }
        const expected = [...created]
          .sort((a, b) => a.startsAt.epochMillis - b.startsAt.epochMillis || (a.id < b.id ? -1 : 1))
          .map((l) => l.id)

        const asc = yield* allPages(tutor.token, "limit=2")
        expect(asc.map((p) => p.length)).toEqual([2, 2, 2, 1])
        expect(asc.flat()).toEqual(expected)
        const desc = yield* allPages(tutor.token, "limit=3&order=desc")
        expect(desc.flat()).toEqual([...expected].reverse())

        const first = yield* call("GET", "/api/v1/lessons?limit=2&order=desc", { token: tutor.token })
        const descCursor = (first.json as PageJson).nextCursor ?? ""
        const mixed = yield* call("GET", `/api/v1/lessons?limit=2&cursor=${encodeURIComponent(descCursor)}`, {
          token: tutor.token
        })
        expect([mixed.status, errorCode(mixed)]).toEqual([400, "INVALID_CURSOR"])
      }))

    it.effect("from/to select overlapping lessons, the same for the tutor and the student; status filters repeat", () =>
      Effect.gen(function*() {
        const tutor = yield* signedIn("tutor")
        const student = yield* signedIn("student")
        yield* link(tutor.user.id, student.user.id)
        const base = Date.now() + 24 * 3_600_000
        const lesson = (startHour: number) =>
          scheduleLesson(tutor.user.id, [student.user.id], { startsAt: DateTime.unsafeMake(base + startHour * 3_600_000) })
        const early = yield* lesson(0) // 0h–1h
        const middle = yield* lesson(2) // 2h–3h
        const late = yield* lesson(4) // 4h–5h
        const iso = (h: number) => new Date(base + h * 3_600_000).toISOString()
        const window = `from=${iso(0.5)}&to=${iso(4)}`
        for (const token of [tutor.token, student.token]) {
          const r = yield* call("GET", `/api/v1/lessons?${window}`, { token })
          // early ends after `from`; late starts exactly at `to`, which is excluded.
          expect(ids(r)).toEqual([early.id, middle.id])
        }
        expect(ids(yield* call("GET", `/api/v1/lessons?from=${iso(1)}`, { token: student.token })))
          .toEqual([middle.id, late.id])
        expect(ids(yield* call("GET", `/api/v1/lessons?to=${iso(2)}`, { token: student.token }))).toEqual([early.id])

        yield* call("DELETE", `/api/v1/lessons/${middle.id}`, { token: tutor.token })
        expect(ids(yield* call("GET", "/api/v1/lessons?status=cancelled", { token: student.token }))).toEqual([middle.id])
        expect(ids(yield* call("GET", "/api/v1/lessons?status=scheduled", { token: student.token })))
          .toEqual([early.id, late.id])
        expect(ids(yield* call("GET", "/api/v1/lessons?status=scheduled&status=cancelled", { token: tutor.token })))
          .toEqual([early.id, middle.id, late.id])
      }))

    it.effect("rescheduling moves the lesson in every participant's list and keeps the student index in step", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const path = `/api/v1/lessons/${cast.lesson.id}`
        const newStart = new Date(Date.now() + 48 * 3_600_000)
        const newEnd = new Date(newStart.getTime() + 90 * 60_000)
        const moved = yield* call("PATCH", path, {
          token: cast.tutor.token,
          body: { startsAt: newStart.toISOString(), endsAt: newEnd.toISOString() }
        })
        expect(moved.status).toBe(200)
        expect(moved.json).toMatchObject({ startsAt: newStart.toISOString(), endsAt: newEnd.toISOString() })
        const window = `from=${new Date(newStart.getTime() - 60_000).toISOString()}&to=${newEnd.toISOString()}`
        for (const token of [cast.tutor.token, cast.student.token]) {
          expect(ids(yield* call("GET", `/api/v1/lessons?${window}`, { token }))).toEqual([cast.lesson.id])
        }
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ readonly same: boolean }>`
          SELECT ls.starts_at = l.starts_at AS same FROM lesson_students ls JOIN lessons l ON l.id = ls.lesson_id
          WHERE l.id = ${cast.lesson.id}`
        expect(rows).toEqual([{ same: true }])
      }))

    it.effect("a group lesson: students added see it, students removed lose it (404)", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const second = yield* signedIn("student", { displayName: "Second" })
        const third = yield* signedIn("student", { displayName: "Third" })
        yield* link(cast.tutor.user.id, second.user.id)
        yield* link(cast.tutor.user.id, third.user.id)
        const path = `/api/v1/lessons/${cast.lesson.id}`
        const group = yield* call("PATCH", path, {
          token: cast.tutor.token,
          body: { studentIds: [second.user.id, third.user.id] }
        })
        expect(group.status).toBe(200)
        expect((group.json as LessonJson).students.map((s) => s.id).sort()).toEqual(
          [second.user.id, third.user.id].sort()
        )
        expect((yield* call("GET", path, { token: second.token })).status).toBe(200)
        expect((yield* call("GET", path, { token: third.token })).status).toBe(200)
        const removed = yield* call("GET", path, { token: cast.student.token })
        expect([removed.status, errorCode(removed)]).toEqual([404, "LESSON_NOT_FOUND"])
        expect(ids(yield* call("GET", "/api/v1/lessons", { token: cast.student.token }))).toEqual([])
        expect(ids(yield* call("GET", "/api/v1/lessons", { token: third.token }))).toEqual([cast.lesson.id])
      }))

    it.effect("a lesson nobody attended: scheduled → no_show is final", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const path = `/api/v1/lessons/${cast.lesson.id}`
        const r = yield* call("PATCH", path, { token: cast.tutor.token, body: { status: "no_show" } })
        expect(r.json).toMatchObject({ status: "no_show" })
        const after = yield* call("PATCH", path, { token: cast.admin.token, body: { status: "completed" } })
        expect([after.status, errorCode(after)]).toEqual([409, "INVALID_LESSON_TRANSITION"])
      }))
  })
})
