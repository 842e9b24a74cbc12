import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Option, Schema } from "effect"
import { LessonId } from "../../src/schemas/Ids.ts"
import { LessonReminders } from "../../src/services/LessonReminders.ts"
import { Users } from "../../src/services/Users.ts"
import { awaitState, eventually, jobState } from "../support/Jobs.ts"
import { jobsStack } from "../support/JobsStack.ts"
import { backendLabel, liveStack } from "../support/TestStack.ts"

const person = (role: "tutor" | "student") =>
  Effect.flatMap(Users, (users) =>
    users.create({ email: `${role}-${Math.random().toString(36).slice(2, 10)}@example.com`, password: "correct horse battery", role }))

/**
 * A lesson row as the Lessons service would write it, starting `secondsFromNow` after its people exist (creating
 * them hashes passwords, which takes long on a loaded machine and must not eat into the reminder's lead).
 */
const insertLesson = (secondsFromNow: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tutor = yield* person("tutor")
    const students = [yield* person("student"), yield* person("student")]
    const iso = DateTime.formatIso(yield* inSeconds(secondsFromNow))
    const rows = yield* sql<{ id: string }>`
      INSERT INTO lessons (tutor_id, title, starts_at, ends_at)
      VALUES (${tutor.id}, 'Algebra', ${iso}::timestamptz, ${iso}::timestamptz + interval '1 hour') RETURNING id`
    const id = yield* Schema.decodeUnknown(LessonId)(rows[0]?.id)
    for (const s of students) {
      yield* sql`INSERT INTO lesson_students (lesson_id, student_id, starts_at) VALUES (${id}, ${s.id}, ${iso}::timestamptz)`
    }
    return { id, tutor, students }
  })

const inSeconds = (s: number) => Effect.map(DateTime.now, DateTime.addDuration(Duration.millis(s * 1000)))

/** The lesson's start as stored (microseconds included). */
const startOf = (lessonId: LessonId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ startsAt: Date }>`SELECT starts_at FROM lessons WHERE id = ${lessonId}`.pipe(
      Effect.map((rows) => DateTime.unsafeMake(rows[0]?.startsAt ?? 0)),
      Effect.orDie
    ))

const notificationsOf = (lessonId: LessonId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ userId: string; type: string; title: string }>`
      SELECT user_id, type, title FROM notifications WHERE data->>'lessonId' = ${lessonId} ORDER BY user_id`)

describe(`LessonReminders (${backendLabel})`, () => {
  it.layer(jobsStack({ config: { lessonReminderLead: Duration.seconds(1) } }), liveStack)((it) => {
    it.effect("the reminder runs LESSON_REMINDER_LEAD before the start and notifies the tutor and every student", () =>
      Effect.gen(function*() {
        const reminders = yield* LessonReminders
        const lesson = yield* insertLesson(4)
        const id = Option.getOrThrow(yield* reminders.schedule(lesson.id, yield* startOf(lesson.id)))
        expect((yield* jobState(id)).state).toBe("pending")
        const sent = yield* eventually(notificationsOf(lesson.id), (rows) => rows.length === 3, "10 seconds")
        expect(sent.map((n) => n.userId).sort()).toEqual([lesson.tutor.id, ...lesson.students.map((s) => s.id)].sort())
        expect(sent.every((n) => n.type === "lesson.reminder" && n.title.startsWith("Algebra starts"))).toBe(true)
      }))

    it.effect("rescheduling replaces the pending reminder; cancelling withdraws it; a started lesson gets none", () =>
      Effect.gen(function*() {
        const reminders = yield* LessonReminders
        const sql = yield* SqlClient.SqlClient
        const lesson = yield* insertLesson(3600)
        const start = yield* startOf(lesson.id)
        const first = Option.getOrThrow(yield* reminders.schedule(lesson.id, start))
        const later = DateTime.addDuration(start, Duration.hours(2))
        const second = Option.getOrThrow(yield* reminders.schedule(lesson.id, later))
        expect(second).toBe(first)
        const pending = yield* sql<{ n: number; runAt: string }>`
          SELECT count(*)::int AS n, max(run_at)::text AS run_at FROM jobs
          WHERE unique_key = ${`lesson.reminder:${lesson.id}`} AND state = 'pending'`
        expect(pending[0]?.n).toBe(1)
        expect(new Date(pending[0]?.runAt ?? 0).getTime()).toBe(DateTime.toEpochMillis(later) - 1000)
        expect(yield* reminders.cancel(lesson.id)).toBe(true)
        expect((yield* jobState(first)).state).toBe("cancelled")
        expect(yield* reminders.cancel(lesson.id)).toBe(false)
        expect(Option.isNone(yield* reminders.schedule(lesson.id, yield* inSeconds(-60)))).toBe(true)
      }))

    it.effect("a lesson cancelled (or moved) after scheduling gets no reminder", () =>
      Effect.gen(function*() {
        const reminders = yield* LessonReminders
        const sql = yield* SqlClient.SqlClient
        // The reminders fall due 3 s after the second lesson exists: time to schedule, cancel and move them first.
        const cancelled = yield* insertLesson(6)
        const moved = yield* insertLesson(4)
        const a = Option.getOrThrow(yield* reminders.schedule(cancelled.id, yield* startOf(cancelled.id)))
        const b = Option.getOrThrow(yield* reminders.schedule(moved.id, yield* startOf(moved.id)))
        yield* sql`UPDATE lessons SET status = 'cancelled' WHERE id = ${cancelled.id}`
        yield* sql`UPDATE lessons SET starts_at = starts_at + interval '1 day', ends_at = ends_at + interval '1 day'
                   WHERE id = ${moved.id}`
        yield* awaitState(a, "completed")
        yield* awaitState(b, "completed")
        expect(yield* notificationsOf(cancelled.id)).toEqual([])
        expect(yield* notificationsOf(moved.id)).toEqual([])
      }))
  })
})
