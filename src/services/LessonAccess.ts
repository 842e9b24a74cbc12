/**
 * The one place that answers "may user U act on lesson L, and as what?".
 * REST handlers, lesson rooms and call signaling all ask here. A lesson the
 * caller is not part of is `LessonNotFound` (never "forbidden"), so ids cannot
 * be probed; members without the right role get `Forbidden`.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { Forbidden } from "../schemas/Errors.ts"
import { LessonId, UserId } from "../schemas/Ids.ts"
import { LessonNotFound, LessonStatus } from "../schemas/Lessons.ts"

/** How the caller relates to a lesson. */
export type LessonRole = "tutor" | "student" | "admin"

/** What the caller wants to do. */
export type LessonAction =
  /** see the lesson, its chat and board; enter its room */
  | "read"
  /** change, reschedule or cancel it; moderate its room; host its call */
  | "manage"

/** The facts access decisions need. */
export interface LessonMembership {
  readonly lessonId: LessonId
  readonly tutorId: UserId
  readonly studentIds: ReadonlyArray<UserId>
  readonly status: LessonStatus
  readonly as: LessonRole
}

const MembershipRow = Schema.Struct({
  tutorId: UserId,
  status: LessonStatus,
  studentIds: Schema.Array(UserId)
})

/** Who takes part in a lesson, and its status: what every access decision is made of. */
export type LessonFacts = typeof MembershipRow.Type

/** The caller's role in a lesson with these facts; undefined when they have none. */
export const roleIn = (facts: LessonFacts, actor: Pick<CurrentUserInfo, "id" | "role">): LessonRole | undefined =>
  actor.role === "admin"
    ? "admin"
    : facts.tutorId === actor.id
    ? "tutor"
    : facts.studentIds.includes(actor.id)
    ? "student"
    : undefined

/** Lesson authorization. */
export class LessonAccess extends Effect.Service<LessonAccess>()("lectern/LessonAccess", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** The lesson's tutor, students and status; none when it does not exist. */
    const facts = (lessonId: LessonId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          SELECT l.tutor_id, l.status,
                 coalesce(array_agg(ls.student_id::text ORDER BY ls.student_id) FILTER (WHERE ls.student_id IS NOT NULL),
                          '{}') AS student_ids
          FROM lessons l LEFT JOIN lesson_students ls ON ls.lesson_id = l.id
          WHERE l.id = ${lessonId}
          GROUP BY l.id`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(MembershipRow))))
        return Option.fromNullable(rows[0])
      }).pipe(storeCall)

    /** The caller's relation to the lesson; `LessonNotFound` when they have none. */
    const membership = (actor: Pick<CurrentUserInfo, "id" | "role">, lessonId: LessonId) =>
      Effect.gen(function*() {
        const row = yield* facts(lessonId)
        const as = Option.isNone(row) ? undefined : roleIn(row.value, actor)
        if (Option.isNone(row) || as === undefined) return yield* new LessonNotFound({ lessonId })
        const { tutorId, studentIds, status } = row.value
        return { lessonId, tutorId, studentIds, status, as } satisfies LessonMembership
      }).pipe(Effect.withSpan("LessonAccess.membership", { attributes: { lessonId } }))

    /** Fails unless the caller may perform `action` on the lesson. */
    const authorize = (actor: Pick<CurrentUserInfo, "id" | "role">, lessonId: LessonId, action: LessonAction) =>
      Effect.flatMap(membership(actor, lessonId), (m) =>
        action === "manage" && m.as === "student"
          ? Effect.fail(new Forbidden({ detail: "Only the lesson's tutor or an admin can do this" }))
          : Effect.succeed(m))

    /**
     * The lessons the user takes part in — as their tutor or an enrolled student —
     * whatever their status (what offline sync mirrors; admins see other lessons
     * through `membership` but do not take part in them).
     */
    const lessonsOf = (userId: UserId) =>
      sql`
        SELECT id FROM lessons WHERE tutor_id = ${userId}
        UNION
        SELECT lesson_id AS id FROM lesson_students WHERE student_id = ${userId}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({ id: LessonId })))),
        Effect.map((rows) => rows.map((row) => row.id)),
        storeCall,
        Effect.withSpan("LessonAccess.lessonsOf")
      )

    return { facts, membership, authorize, lessonsOf } as const
  })
}) {}
