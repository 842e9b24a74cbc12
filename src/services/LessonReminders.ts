/**
 * Reminders before lessons: `schedule(lessonId, startsAt)` queues one
 * `lesson.reminder` job per lesson, `LESSON_REMINDER_LEAD` before it starts
 * (a unique key per lesson, so rescheduling replaces the pending job), and
 * `cancel(lessonId)` withdraws it. Call both inside the transaction that changes
 * the lesson. The job re-reads the lesson and notifies its tutor and students,
 * unless the lesson was cancelled or moved since.
 */
import { SqlClient } from "@effect/sql"
import { Clock, DateTime, Duration, Effect, Option, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { LessonId, UserId } from "../schemas/Ids.ts"
import { LessonStatus } from "../schemas/Lessons.ts"
import { JobAdmin } from "./JobAdmin.ts"
import { Jobs } from "./Jobs.ts"
import { Notifications } from "./Notifications.ts"

const ReminderPayload = Schema.Struct({ lessonId: LessonId, startsAt: Schema.DateTimeUtc })

const LessonRow = Schema.Struct({
  title: Schema.String,
  status: LessonStatus,
  startsAt: Schema.DateTimeUtcFromDate,
  tutorId: UserId,
  studentIds: Schema.Array(UserId)
})

const keyOf = (lessonId: LessonId) => `lesson.reminder:${lessonId}`

/** Lesson reminders. */
export class LessonReminders extends Effect.Service<LessonReminders>()("lectern/LessonReminders", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const jobs = yield* Jobs
    const admin = yield* JobAdmin
    const notifications = yield* Notifications
    const config = yield* AppConfig
    const lead = config.lessonReminderLead

    const remind = (payload: typeof ReminderPayload.Type) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          SELECT l.title, l.status, l.starts_at, l.tutor_id,
                 coalesce(array_agg(ls.student_id::text ORDER BY ls.student_id)
                          FILTER (WHERE ls.student_id IS NOT NULL), '{}') AS student_ids
          FROM lessons l LEFT JOIN lesson_students ls ON ls.lesson_id = l.id
          WHERE l.id = ${payload.lessonId}
          GROUP BY l.id`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(LessonRow))), storeCall)
        const lesson = rows[0]
        if (lesson === undefined || lesson.status !== "scheduled") {
          return yield* Effect.logInfo("lesson reminder skipped: lesson gone or no longer scheduled")
        }
        if (!DateTime.Equivalence(lesson.startsAt, payload.startsAt)) {
          // Moved without rescheduling its reminder; the reminder for the new time is someone else's job.
          return yield* Effect.logWarning("lesson reminder skipped: the lesson moved since it was scheduled")
        }
        const now = yield* DateTime.now
        const minutes = Math.max(0, Math.round(Duration.toMinutes(DateTime.distanceDuration(now, lesson.startsAt))))
        yield* notifications.notifyMany([lesson.tutorId, ...lesson.studentIds], {
          type: "lesson.reminder",
          title: `${lesson.title} starts ${minutes === 0 ? "now" : `in ${minutes} minute${minutes === 1 ? "" : "s"}`}`,
          body: `Starts at ${DateTime.formatIso(lesson.startsAt)}`,
          data: { lessonId: payload.lessonId, startsAt: DateTime.formatIso(lesson.startsAt) },
          collapseKey: `lesson:${payload.lessonId}`
        })
      }).pipe(Effect.annotateLogs({ lesson_id: payload.lessonId }))

    const reminder = yield* jobs.registerJob("lesson.reminder", ReminderPayload, remind, {
      maxAttempts: 5,
      timeout: "1 minute",
      backoff: { base: Duration.seconds(5), max: Duration.minutes(2) }
    })

    /**
     * (Re)schedules the lesson's reminder for `startsAt - LESSON_REMINDER_LEAD`
     * (at once if that has passed but the lesson has not started). A lesson
     * that has already started gets none, and loses a pending one.
     */
    const schedule = (lessonId: LessonId, startsAt: DateTime.Utc) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (DateTime.toEpochMillis(startsAt) <= now) {
          yield* admin.cancelByKey(keyOf(lessonId))
          return Option.none()
        }
        const runAt = DateTime.subtractDuration(startsAt, lead)
        const enqueued = yield* reminder.enqueue({ lessonId, startsAt }, {
          uniqueKey: keyOf(lessonId),
          onDuplicate: "replace",
          ...(DateTime.toEpochMillis(runAt) > now ? { runAt } : {})
        })
        return Option.some(enqueued.id)
      }).pipe(Effect.withSpan("LessonReminders.schedule", { attributes: { "lesson.id": lessonId } }))

    /** Withdraws the lesson's pending reminder (cancelled or deleted lesson); true if there was one. */
    const cancel = (lessonId: LessonId) =>
      admin.cancelByKey(keyOf(lessonId)).pipe(Effect.withSpan("LessonReminders.cancel", { attributes: { "lesson.id": lessonId } }))

    return { schedule, cancel } as const
  })
}) {}
