/**
 * Tutor–student relations: a tutor links a student (one active pair at a time),
 * either side can list theirs, the tutor (or an admin) ends it. Lessons may only
 * be created for a tutor's active students.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DateTime, Effect, Option, Schema } from "effect"
import { isUniqueViolation, storeCall } from "../layers/SqlErrors.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { Forbidden, ValidationError } from "../schemas/Errors.ts"
import { RelationId, UserId } from "../schemas/Ids.ts"
import { Relation, RelationExists, RelationNotFound, RelationStatus } from "../schemas/Lessons.ts"
import { decodeCursor, encodeCursor } from "./Cursor.ts"

const RelationRow = Schema.Struct({
  id: RelationId,
  tutorId: UserId,
  studentId: UserId,
  status: RelationStatus,
  createdAt: Schema.DateTimeUtcFromDate,
  endedAt: Schema.NullOr(Schema.DateTimeUtcFromDate)
})
const Rows = Schema.Array(RelationRow)
const RelationCursor = Schema.Struct({ createdAt: Schema.String, id: RelationId })

type Actor = Pick<CurrentUserInfo, "id" | "role">

const columns = "id, tutor_id, student_id, status, created_at, ended_at"

/** Tutor–student relations. */
export class Relations extends Effect.Service<Relations>()("lectern/Relations", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const roleOf = (id: UserId) =>
      sql<{ readonly role: string }>`SELECT role FROM users WHERE id = ${id}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]?.role))
      )

    const create = (actor: Actor, input: { readonly studentId: UserId; readonly tutorId?: UserId | undefined }) =>
      Effect.gen(function*() {
        if (actor.role === "student") return yield* new Forbidden({ detail: "Only tutors link students" })
        const tutorId = actor.role === "admin" ? input.tutorId : actor.id
        if (tutorId === undefined) return yield* ValidationError.field("tutorId", "required when an admin links a student")
        if (actor.role === "tutor" && input.tutorId !== undefined && input.tutorId !== actor.id) {
          return yield* new Forbidden({ detail: "Tutors link students to themselves" })
        }
        if (Option.getOrUndefined(yield* roleOf(tutorId)) !== "tutor") {
          return yield* ValidationError.field("tutorId", "not a tutor")
        }
        if (Option.getOrUndefined(yield* roleOf(input.studentId)) !== "student") {
          return yield* ValidationError.field("studentId", "no student with this id")
        }
        const rows = yield* sql`
          INSERT INTO tutor_students (tutor_id, student_id) VALUES (${tutorId}, ${input.studentId})
          RETURNING ${sql.literal(columns)}`.pipe(
          Effect.catchTag("SqlError", (e): Effect.Effect<never, RelationExists | SqlError> =>
            isUniqueViolation(e) ? Effect.fail(new RelationExists({})) : Effect.fail(e)),
          Effect.flatMap(Schema.decodeUnknown(Rows))
        )
        const row = rows[0]
        if (row === undefined) return yield* Effect.dieMessage("INSERT … RETURNING gave no row")
        return Relation.make(row)
      }).pipe(storeCall, Effect.withSpan("Relations.create"))

    const list = (
      actor: Actor,
      options: { readonly status?: "active" | "ended" | undefined; readonly cursor?: string | undefined; readonly limit: number }
    ) =>
      Effect.gen(function*() {
        const after = options.cursor === undefined
          ? Option.none()
          : Option.some(yield* decodeCursor(RelationCursor, options.cursor))
        const visible = actor.role === "admin"
          ? []
          : [sql`(tutor_id = ${actor.id} OR student_id = ${actor.id})`]
        const rows = yield* sql`
          SELECT ${sql.literal(columns)} FROM tutor_students
          WHERE ${
          sql.and([
            ...visible,
            ...(options.status === undefined ? [] : [sql`status = ${options.status}`]),
            ...Option.match(after, {
              onNone: () => [],
              onSome: (c) => [sql`(created_at, id) > (${c.createdAt}::timestamptz, ${c.id}::uuid)`]
            })
          ])
        }
          ORDER BY created_at, id LIMIT ${options.limit + 1}`.pipe(Effect.flatMap(Schema.decodeUnknown(Rows)))
        const items = rows.slice(0, options.limit).map((row) => Relation.make(row))
        const last = items.at(-1)
        return {
          items,
          nextCursor: rows.length > options.limit && last !== undefined
            ? encodeCursor(RelationCursor, { createdAt: DateTime.formatIso(last.createdAt), id: last.id })
            : null
        }
      }).pipe(storeCall, Effect.withSpan("Relations.list"))

    /** Ends an active relation (its tutor or an admin); ending twice is a no-op. */
    const end = (actor: Actor, id: RelationId) =>
      Effect.gen(function*() {
        const rows = yield* sql`SELECT ${sql.literal(columns)} FROM tutor_students WHERE id = ${id}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Rows))
        )
        const row = rows[0]
        const visible = row !== undefined &&
          (actor.role === "admin" || row.tutorId === actor.id || row.studentId === actor.id)
        if (!visible) return yield* new RelationNotFound({})
        if (actor.role !== "admin" && row.tutorId !== actor.id) {
          return yield* new Forbidden({ detail: "Only the tutor or an admin ends a relation" })
        }
        const ended = yield* sql`
          UPDATE tutor_students SET status = 'ended', ended_at = coalesce(ended_at, now())
          WHERE id = ${id} RETURNING ${sql.literal(columns)}`.pipe(Effect.flatMap(Schema.decodeUnknown(Rows)))
        const updated = ended[0]
        if (updated === undefined) return yield* new RelationNotFound({})
        return Relation.make(updated)
      }).pipe(storeCall, Effect.withSpan("Relations.end"))

    /** The ids among `studentIds` that are NOT active students of `tutorId`. */
    const notActiveStudents = (tutorId: UserId, studentIds: ReadonlyArray<UserId>) =>
      Effect.gen(function*() {
        if (studentIds.length === 0) return []
        const rows = yield* sql<{ readonly studentId: string }>`
          SELECT student_id::text AS student_id FROM tutor_students
          WHERE tutor_id = ${tutorId} AND status = 'active' AND student_id IN ${sql.in(studentIds)}`
        const active = new Set(rows.map((r) => r.studentId))
        return studentIds.filter((id) => !active.has(id))
      }).pipe(storeCall)

    return { create, list, end, notActiveStudents } as const
  })
}) {}
