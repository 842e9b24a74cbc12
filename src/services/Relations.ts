/**
 * Tutor–student relations: a tutor (or an admin for a tutor) links a student,
 * one active pair at a time; tutor, student and admins see it; any of them ends
 * it. Ending leaves existing lessons alone but stops new ones for that student.
 * Lessons ask `activeStudents` whether students may be scheduled with a tutor.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Schema } from "effect"
import { isUniqueViolation, storeCall } from "../layers/SqlErrors.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { Forbidden, ValidationError } from "../schemas/Errors.ts"
import { RelationId, UserId } from "../schemas/Ids.ts"
import {
  Participant,
  Relation,
  RelationExists,
  type RelationListParams,
  RelationNotFound,
  RelationStatus
} from "../schemas/Relations.ts"
import { Role } from "../schemas/Users.ts"
import { decodeCursor, encodeCursor, exactTimestamp } from "./Cursor.ts"

/** Who is asking. */
export type Actor = Pick<CurrentUserInfo, "id" | "role">

const RelationRow = Schema.Struct({
  id: RelationId,
  tutorId: UserId,
  tutorName: Schema.String,
  studentId: UserId,
  studentName: Schema.String,
  status: RelationStatus,
  createdAt: Schema.DateTimeUtcFromDate,
  endedAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  cursorAt: Schema.String
})
type RelationRow = typeof RelationRow.Type
const decodeRows = Schema.decodeUnknown(Schema.Array(RelationRow))

const RelationCursor = Schema.Struct({ createdAt: Schema.String, id: RelationId })

const toRelation = (row: RelationRow) =>
  Relation.make({
    id: row.id,
    tutor: Participant.make({ id: row.tutorId, displayName: row.tutorName }),
    student: Participant.make({ id: row.studentId, displayName: row.studentName }),
    status: row.status,
    createdAt: row.createdAt,
    endedAt: row.endedAt
  })

const AccountRow = Schema.Struct({ role: Role, disabled: Schema.Boolean })

/** Tutor–student relations. */
export class Relations extends Effect.Service<Relations>()("lectern/Relations", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const select = sql`
      SELECT r.id, r.tutor_id, t.display_name AS tutor_name, r.student_id, s.display_name AS student_name,
             r.status, r.created_at, r.ended_at, ${exactTimestamp(sql, "r.created_at")} AS cursor_at
      FROM tutor_students r JOIN users t ON t.id = r.tutor_id JOIN users s ON s.id = r.student_id`

    const byId = (id: RelationId) =>
      sql`${select} WHERE r.id = ${id}`.pipe(Effect.flatMap(decodeRows), Effect.map((rows) => Option.fromNullable(rows[0])))

    /** An enabled account of `role`, or none. */
    const accountIs = (id: UserId, role: "tutor" | "student") =>
      sql`SELECT role, disabled FROM users WHERE id = ${id}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(AccountRow))),
        Effect.map((rows) => rows[0]?.role === role && rows[0].disabled === false)
      )

    const isParty = (actor: Actor, row: RelationRow) =>
      actor.role === "admin" || row.tutorId === actor.id || row.studentId === actor.id

    /** Links a student to a tutor; every invalid field is reported and nothing is written. */
    const create = (actor: Actor, input: { readonly studentId: UserId; readonly tutorId?: UserId | undefined }) =>
      Effect.gen(function*() {
        if (actor.role === "student") return yield* new Forbidden({ detail: "Only tutors and admins link students" })
        if (actor.role === "tutor" && input.tutorId !== undefined && input.tutorId !== actor.id) {
          return yield* new Forbidden({ detail: "Tutors link students to themselves" })
        }
        const tutorId = actor.role === "admin" ? input.tutorId : actor.id
        const fields: Record<string, string> = {}
        if (tutorId === undefined) fields.tutorId = "required when an admin links a student"
        else if (actor.role === "admin" && !(yield* accountIs(tutorId, "tutor"))) fields.tutorId = "no tutor with this id"
        if (!(yield* accountIs(input.studentId, "student"))) fields.studentId = "no student with this id"
        if (tutorId === undefined || Object.keys(fields).length > 0) return yield* new ValidationError({ fields })
        const inserted = yield* sql<{ readonly id: string }>`
          INSERT INTO tutor_students (tutor_id, student_id) VALUES (${tutorId}, ${input.studentId}) RETURNING id`.pipe(
          Effect.catchTag("SqlError", (e): Effect.Effect<never, RelationExists | SqlError> =>
            isUniqueViolation(e) ? Effect.fail(new RelationExists({})) : Effect.fail(e))
        )
        const id = yield* Schema.decodeUnknown(RelationId)(inserted[0]?.id)
        const row = yield* Effect.flatten(byId(id))
        yield* Effect.logInfo("relation created").pipe(Effect.annotateLogs({ relationId: id, tutorId }))
        return toRelation(row)
      }).pipe(storeCall, Effect.withSpan("Relations.create"))

    /** One relation the caller is part of (admins: any). */
    const get = (actor: Actor, id: RelationId) =>
      Effect.gen(function*() {
        const row = yield* byId(id)
        if (Option.isNone(row) || !isParty(actor, row.value)) return yield* new RelationNotFound({})
        return toRelation(row.value)
      }).pipe(storeCall, Effect.withSpan("Relations.get"))

    /** The caller's relations (as tutor or student; admins: all), oldest first, narrowed by the filters. */
    const list = (actor: Actor, params: RelationListParams) =>
      Effect.gen(function*() {
        const limit = params.limit ?? 50
        const after = params.cursor === undefined
          ? Option.none()
          : Option.some(yield* decodeCursor(RelationCursor, params.cursor))
        const visible = actor.role === "admin"
          ? []
          : [actor.role === "tutor" ? sql`r.tutor_id = ${actor.id}` : sql`r.student_id = ${actor.id}`]
        const rows = yield* sql`${select}
          WHERE ${
          sql.and([
            ...visible,
            ...(params.status === undefined ? [] : [sql`r.status = ${params.status}`]),
            ...(params.tutor === undefined ? [] : [sql`r.tutor_id = ${params.tutor}`]),
            ...(params.student === undefined ? [] : [sql`r.student_id = ${params.student}`]),
            ...Option.match(after, {
              onNone: () => [],
              onSome: (c) => [sql`(r.created_at, r.id) > (${c.createdAt}::timestamptz, ${c.id}::uuid)`]
            })
          ])
        }
          ORDER BY r.created_at, r.id LIMIT ${limit + 1}`.pipe(Effect.flatMap(decodeRows))
        const page = rows.slice(0, limit)
        const last = page.at(-1)
        return {
          items: page.map(toRelation),
          nextCursor: rows.length > limit && last !== undefined
            ? encodeCursor(RelationCursor, { createdAt: last.cursorAt, id: last.id })
            : null
        }
      }).pipe(storeCall, Effect.withSpan("Relations.list"))

    /** Ends a relation (its tutor, its student or an admin); ending an ended one returns it unchanged. */
    const end = (actor: Actor, id: RelationId) =>
      Effect.gen(function*() {
        const row = yield* byId(id)
        if (Option.isNone(row) || !isParty(actor, row.value)) return yield* new RelationNotFound({})
        if (row.value.status === "ended") return toRelation(row.value)
        yield* sql`UPDATE tutor_students SET status = 'ended', ended_at = now() WHERE id = ${id} AND status = 'active'`
        yield* Effect.logInfo("relation ended").pipe(Effect.annotateLogs({ relationId: id, endedBy: actor.id }))
        return toRelation(yield* Effect.flatten(byId(id)))
      }).pipe(storeCall, Effect.withSpan("Relations.end"))

    /** Which of `studentIds` are active students of `tutorId`. */
    const activeStudents = (tutorId: UserId, studentIds: ReadonlyArray<UserId>) =>
      Effect.gen(function*() {
        if (studentIds.length === 0) return new Set<UserId>()
        const rows = yield* sql`
          SELECT student_id FROM tutor_students
          WHERE tutor_id = ${tutorId} AND status = 'active' AND student_id IN ${sql.in(studentIds)}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({ studentId: UserId }))))
        )
        return new Set(rows.map((r) => r.studentId))
      }).pipe(storeCall)

    return { create, get, list, end, activeStudents } as const
  })
}) {}
