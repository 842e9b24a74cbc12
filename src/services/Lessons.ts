/**
 * Lessons: scheduling, reading, listing, changing and cancelling, with the
 * policy of `LessonAccess` (who may act) and `Relations` (whom a tutor may
 * teach). Every lesson write goes through this service and ends in
 * `recordChange`, the one place follow-ups inside the transaction hook into (the
 * reminder job before each scheduled lesson), and `afterCommit` for what must only
 * follow a committed change (calls ended or left, live subscribers re-checked).
 * Writes validate everything first and change nothing on failure.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import { Forbidden, ValidationError } from "../schemas/Errors.ts"
import { LessonId, type UserId } from "../schemas/Ids.ts"
import {
  type CreateLessonRequest,
  InvalidLessonTransition,
  type Lesson,
  type LessonListParams,
  LessonNotEditable,
  type LessonStatus,
  type UpdateLessonRequest
} from "../schemas/Lessons.ts"
import { Role } from "../schemas/Users.ts"
import { Calls } from "./Calls.ts"
import { LessonAccess } from "./LessonAccess.ts"
import { LessonNotices } from "./LessonNotices.ts"
import { LessonReminders } from "./LessonReminders.ts"
import { makeLessonQueries } from "./LessonQueries.ts"
import { canTransition, checkWindow, duplicateStudents, type FieldProblems, frozenDetails } from "./LessonRules.ts"
import { type Actor, Relations } from "./Relations.ts"

/** What a lesson write did; reminders and notifications will hang off these. */
export type LessonChange =
  | { readonly _tag: "Scheduled"; readonly lesson: Lesson }
  | { readonly _tag: "Changed"; readonly before: Lesson; readonly after: Lesson; readonly rescheduled: boolean }
  | { readonly _tag: "Cancelled"; readonly lesson: Lesson }

const AccountRow = Schema.Struct({ id: Schema.String, role: Role, disabled: Schema.Boolean })

const iso = (t: DateTime.Utc) => DateTime.formatIso(t)
const sameInstant = (a: DateTime.Utc, b: DateTime.Utc) => DateTime.Equivalence(a, b)
const sameSet = (a: ReadonlyArray<UserId>, b: ReadonlyArray<UserId>) =>
  a.length === b.length && a.every((id) => b.includes(id))

/** Lessons. */
export class Lessons extends Effect.Service<Lessons>()("lectern/Lessons", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const access = yield* LessonAccess
    const relations = yield* Relations
    const reminders = yield* LessonReminders
    const notices = yield* LessonNotices
    const calls = yield* Calls
    const queries = makeLessonQueries(sql)

    /** A lesson known to exist (just written or authorized); its absence is a bug. */
    const read = (id: LessonId) => Effect.flatten(queries.find(id))

    const accounts = (ids: ReadonlyArray<string>) =>
      ids.length === 0
        ? Effect.succeed(new Map<string, typeof AccountRow.Type>())
        : sql`SELECT id, role, disabled FROM users WHERE id IN ${sql.in(ids)}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(AccountRow))),
          Effect.map((rows) => new Map(rows.map((row) => [row.id, row])))
        )

    /**
     * Problems with students being added to a lesson of `tutorId`: each must be an
     * active student of that tutor. Admins learn why one is refused; a tutor only
     * that it is not one of theirs, so ids of other accounts cannot be probed.
     */
    const studentProblems = (actor: Actor, tutorId: UserId, studentIds: ReadonlyArray<UserId>, keep: ReadonlyArray<UserId>) =>
      Effect.gen(function*() {
        const added = studentIds.filter((id) => !keep.includes(id))
        const active = yield* relations.activeStudents(tutorId, added)
        const refused = added.filter((id) => !active.has(id))
        const known = actor.role === "admin" ? yield* accounts(refused) : new Map<string, typeof AccountRow.Type>()
        const problems: FieldProblems = {}
        for (const id of refused) {
          problems[`studentIds.${studentIds.indexOf(id)}`] = actor.role !== "admin"
            ? "not one of your active students"
            : known.get(id)?.role === "student"
            ? "not an active student of this tutor"
            : "no student with this id"
        }
        return problems
      })

    const fail = (problems: FieldProblems) =>
      Object.keys(problems).length === 0 ? Effect.void : Effect.fail(new ValidationError({ fields: problems }))

    /**
     * Follows up a change inside its transaction, so a rolled-back change leaves no
     * stray reminder: only scheduled lessons keep a reminder, moved ones get it moved.
     */
    const recordChange = (change: LessonChange) =>
      Effect.gen(function*() {
        switch (change._tag) {
          case "Scheduled":
            yield* reminders.schedule(change.lesson.id, change.lesson.startsAt)
            break
          case "Cancelled":
            yield* reminders.cancel(change.lesson.id)
            break
          case "Changed":
            if (change.after.status !== "scheduled") yield* reminders.cancel(change.after.id)
            else if (change.rescheduled) yield* reminders.schedule(change.after.id, change.after.startsAt)
        }
      }).pipe(
        Effect.zipRight(Effect.logInfo(`lesson ${change._tag.toLowerCase()}`)),
        Effect.annotateLogs({ lessonId: change._tag === "Changed" ? change.after.id : change.lesson.id })
      )

    /**
     * Follows up a committed change that can take access away: live subscribers are
     * re-checked on every process (students removed, lesson cancelled), and a
     * cancelled lesson's call ends. Never fails the write that already committed.
     */
    const afterCommit = (change: LessonChange) => {
      const lessonId = change._tag === "Changed" ? change.after.id : change.lesson.id
      const removed = change._tag === "Changed"
        ? change.before.students.filter((s) => !change.after.students.some((a) => a.id === s.id)).map((s) => s.id)
        : []
      if (change._tag !== "Cancelled" && removed.length === 0) return Effect.void
      const call = change._tag === "Cancelled"
        ? calls.endForCancelledLesson(lessonId)
        : calls.removeFormerMembers(lessonId, removed)
      return call.pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("the lesson's call was not updated for its membership change", cause)),
        Effect.zipRight(notices.publish(lessonId))
      )
    }

    /** Schedules a lesson (tutors for themselves, admins for a named tutor). */
    const create = (actor: Actor, input: CreateLessonRequest) =>
      Effect.gen(function*() {
        if (actor.role === "student") return yield* new Forbidden({ detail: "Only tutors and admins schedule lessons" })
        if (actor.role === "tutor" && input.tutorId !== undefined && input.tutorId !== actor.id) {
          return yield* new Forbidden({ detail: "Tutors schedule their own lessons" })
        }
        const tutorId = actor.role === "admin" ? input.tutorId : actor.id
        const now = yield* DateTime.now
        const problems: FieldProblems = {
          ...checkWindow(input, { now, startChanged: true, blame: "endsAt" }),
          ...duplicateStudents(input.studentIds)
        }
        if (tutorId === undefined) {
          problems.tutorId = "required when an admin schedules a lesson"
        } else {
          const tutor = (yield* accounts([tutorId])).get(tutorId)
          if (tutor === undefined || tutor.role !== "tutor" || tutor.disabled) problems.tutorId = "no tutor with this id"
          else Object.assign(problems, yield* studentProblems(actor, tutorId, input.studentIds, []))
        }
        if (tutorId === undefined || Object.keys(problems).length > 0) {
          return yield* new ValidationError({ fields: problems })
        }
        const inserted = yield* sql`
          INSERT INTO lessons (tutor_id, title, description, starts_at, ends_at)
          VALUES (${tutorId}, ${input.title}, ${input.description ?? ""},
                  ${iso(input.startsAt)}::timestamptz, ${iso(input.endsAt)}::timestamptz)
          RETURNING id`
        const id = yield* Schema.decodeUnknown(LessonId)(inserted[0]?.id)
        yield* sql`
          INSERT INTO lesson_students (lesson_id, student_id, starts_at)
          SELECT l.id, s.id, l.starts_at FROM lessons l, users s
          WHERE l.id = ${id} AND s.id IN ${sql.in(input.studentIds)}`
        const lesson = yield* read(id)
        yield* recordChange({ _tag: "Scheduled", lesson })
        return lesson
      }).pipe(sql.withTransaction, storeCall, Effect.withSpan("Lessons.create"))

    /** A lesson the caller takes part in (admins: any). */
    const get = (actor: Actor, id: LessonId) =>
      Effect.zipRight(access.authorize(actor, id, "read"), read(id).pipe(storeCall)).pipe(
        Effect.withSpan("Lessons.get", { attributes: { lessonId: id } })
      )

    /** Lessons the caller takes part in (admins: all), narrowed by the filters. */
    const list = (actor: Actor, params: LessonListParams) =>
      Effect.gen(function*() {
        if (params.from !== undefined && params.to !== undefined && !DateTime.greaterThan(params.to, params.from)) {
          return yield* ValidationError.field("to", "must be after from")
        }
        return yield* queries.list(actor, params)
      }).pipe(storeCall, Effect.withSpan("Lessons.list"))

    /** Locks the lesson row for this transaction, then checks the caller may manage it. */
    const lockForManage = (actor: Actor, id: LessonId) =>
      Effect.zipRight(
        sql`SELECT id FROM lessons WHERE id = ${id} FOR UPDATE`,
        access.authorize(actor, id, "manage")
      )

    /** Changes details and/or status (its tutor or an admin); unchanged values are no-ops. */
    const update = (actor: Actor, id: LessonId, patch: UpdateLessonRequest) =>
      Effect.gen(function*() {
        const membership = yield* lockForManage(actor, id)
        const before = yield* read(id)
        const currentStudents = before.students.map((s) => s.id)
        const startsAt = patch.startsAt ?? before.startsAt
        const endsAt = patch.endsAt ?? before.endsAt
        const changes = {
          title: patch.title !== undefined && patch.title !== before.title,
          description: patch.description !== undefined && patch.description !== before.description,
          studentIds: patch.studentIds !== undefined && !sameSet(patch.studentIds, currentStudents),
          startsAt: !sameInstant(startsAt, before.startsAt),
          endsAt: !sameInstant(endsAt, before.endsAt)
        }
        const status: LessonStatus = patch.status ?? before.status
        if (!canTransition(before.status, status)) {
          return yield* new InvalidLessonTransition({ from: before.status, to: status })
        }
        const frozen = frozenDetails(before.status, changes)
        if (Object.keys(frozen).length > 0) return yield* new LessonNotEditable({ status: before.status, fields: frozen })
        const now = yield* DateTime.now
        yield* fail({
          ...(changes.startsAt || changes.endsAt
            ? checkWindow({ startsAt, endsAt }, {
              now,
              startChanged: changes.startsAt,
              blame: patch.endsAt === undefined ? "startsAt" : "endsAt"
            })
            : {}),
          ...(patch.studentIds === undefined || !changes.studentIds ? {} : {
            ...duplicateStudents(patch.studentIds),
            ...(yield* studentProblems(actor, membership.tutorId, patch.studentIds, currentStudents))
          })
        })
        const sets = [
          ...(changes.title ? [sql`title = ${patch.title ?? before.title}`] : []),
          ...(changes.description ? [sql`description = ${patch.description ?? before.description}`] : []),
          ...(changes.startsAt ? [sql`starts_at = ${iso(startsAt)}::timestamptz`] : []),
          ...(changes.endsAt ? [sql`ends_at = ${iso(endsAt)}::timestamptz`] : []),
          ...(status !== before.status ? [sql`status = ${status}`] : [])
        ]
        if (sets.length === 0 && !changes.studentIds) return { lesson: before, change: undefined }
        yield* sql`UPDATE lessons SET ${sql.csv([...sets, sql`updated_at = now()`])} WHERE id = ${id}`
        if (patch.studentIds !== undefined && changes.studentIds) {
          const next = patch.studentIds
          const removed = currentStudents.filter((s) => !next.includes(s))
          const added = next.filter((s) => !currentStudents.includes(s))
          if (removed.length > 0) {
            yield* sql`DELETE FROM lesson_students WHERE lesson_id = ${id} AND student_id IN ${sql.in(removed)}`
          }
          if (added.length > 0) {
            yield* sql`
              INSERT INTO lesson_students (lesson_id, student_id, starts_at)
              SELECT l.id, s.id, l.starts_at FROM lessons l, users s
              WHERE l.id = ${id} AND s.id IN ${sql.in(added)}`
          }
        }
        const after = yield* read(id)
        const change: LessonChange = after.status === "cancelled"
          ? { _tag: "Cancelled", lesson: after }
          : { _tag: "Changed", before, after, rescheduled: changes.startsAt || changes.endsAt }
        yield* recordChange(change)
        return { lesson: after, change }
      }).pipe(
        sql.withTransaction,
        storeCall,
        Effect.tap(({ change }) => change === undefined ? Effect.void : afterCommit(change)),
        Effect.map(({ lesson }) => lesson),
        Effect.withSpan("Lessons.update", { attributes: { lessonId: id } })
      )

    /**
     * Cancels a lesson (its tutor or an admin). The lesson stays readable with
     * status `cancelled`; cancelling a cancelled lesson returns it unchanged; a
     * lesson that has started or ended cannot be cancelled.
     */
    const cancel = (actor: Actor, id: LessonId) =>
      Effect.gen(function*() {
        yield* lockForManage(actor, id)
        const before = yield* read(id)
        if (before.status === "cancelled") return { lesson: before, change: undefined }
        if (!canTransition(before.status, "cancelled")) {
          return yield* new InvalidLessonTransition({ from: before.status, to: "cancelled" })
        }
        yield* sql`UPDATE lessons SET status = 'cancelled', updated_at = now() WHERE id = ${id}`
        const lesson = yield* read(id)
        const change: LessonChange = { _tag: "Cancelled", lesson }
        yield* recordChange(change)
        return { lesson, change }
      }).pipe(
        sql.withTransaction,
        storeCall,
        Effect.tap(({ change }) => change === undefined ? Effect.void : afterCommit(change)),
        Effect.map(({ lesson }) => lesson),
        Effect.withSpan("Lessons.cancel", { attributes: { lessonId: id } })
      )

    return { create, get, list, update, cancel } as const
  }),
  dependencies: [LessonAccess.Default, Relations.Default, LessonNotices.Default]
}) {}
