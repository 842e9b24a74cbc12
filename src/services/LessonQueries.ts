/**
 * The read side of lessons: the row shape (with tutor and student names), one
 * lesson by id, and the filtered, keyset-paginated list. Visibility is applied
 * here as a WHERE clause shaped to the indexes: a tutor's lessons by
 * (tutor_id, starts_at), a student's by lesson_students (student_id, starts_at).
 */
import type { SqlClient } from "@effect/sql"
import { DateTime, Effect, Option, Schema } from "effect"
import { InvalidCursor } from "../schemas/Errors.ts"
import { LessonId, UserId } from "../schemas/Ids.ts"
import { Lesson, type LessonListParams, LessonOrder, LessonStatus, maxLessonDuration } from "../schemas/Lessons.ts"
import { Participant } from "../schemas/Relations.ts"
import { decodeCursor, encodeCursor, exactTimestamp } from "./Cursor.ts"
import type { Actor } from "./Relations.ts"

const LessonRow = Schema.Struct({
  id: LessonId,
  tutorId: UserId,
  tutorName: Schema.String,
  // json_agg read as text: PgClient would rewrite the keys of a json value.
  students: Schema.parseJson(Schema.Array(Participant)),
  title: Schema.String,
  description: Schema.String,
  startsAt: Schema.DateTimeUtcFromDate,
  endsAt: Schema.DateTimeUtcFromDate,
  status: LessonStatus,
  createdAt: Schema.DateTimeUtcFromDate,
  updatedAt: Schema.DateTimeUtcFromDate,
  cursorAt: Schema.String
})
type LessonRow = typeof LessonRow.Type
const decodeRows = Schema.decodeUnknown(Schema.Array(LessonRow))

const LessonCursor = Schema.Struct({ startsAt: Schema.String, id: LessonId, order: LessonOrder })

const toLesson = ({ cursorAt: _, tutorId, tutorName, ...row }: LessonRow) =>
  Lesson.make({ ...row, tutor: Participant.make({ id: tutorId, displayName: tutorName }) })

const iso = (t: DateTime.Utc) => DateTime.formatIso(t)

/** The lesson read model over one `SqlClient`. */
export const makeLessonQueries = (sql: SqlClient.SqlClient) => {
  const select = sql`
    SELECT l.id, l.tutor_id, t.display_name AS tutor_name, l.title, l.description, l.starts_at, l.ends_at,
           l.status, l.created_at, l.updated_at, ${exactTimestamp(sql, "l.starts_at")} AS cursor_at,
           (SELECT coalesce(json_agg(json_build_object('id', s.id, 'displayName', s.display_name)
                                     ORDER BY s.display_name, s.id), '[]')::text
            FROM lesson_students ls JOIN users s ON s.id = ls.student_id WHERE ls.lesson_id = l.id) AS students
    FROM lessons l JOIN users t ON t.id = l.tutor_id`

  /** One lesson by id, whoever asks (callers check access first). */
  const find = (id: LessonId) =>
    sql`${select} WHERE l.id = ${id}`.pipe(
      Effect.flatMap(decodeRows),
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toLesson))
    )

  /**
   * Lessons the actor may see, narrowed by `params`, ordered by (start, id).
   * `from`/`to` select lessons overlapping the window; since no lesson lasts
   * longer than `maxLessonDuration`, "ends after from" is also bounded on
   * starts_at so the index range stays tight.
   */
  const list = (actor: Actor, params: LessonListParams) =>
    Effect.gen(function*() {
      const limit = params.limit ?? 50
      const order = params.order ?? "asc"
      const after = params.cursor === undefined
        ? Option.none()
        : Option.some(yield* decodeCursor(LessonCursor, params.cursor).pipe(
          Effect.filterOrFail(
            (c) => c.order === order,
            () => new InvalidCursor({ detail: "This cursor belongs to the other sort order" })
          )
        ))
      const startAfter = params.from === undefined ? undefined : DateTime.subtractDuration(params.from, maxLessonDuration)
      const startWindow = (column: string) => [
        ...(startAfter === undefined ? [] : [sql`${sql.literal(column)} > ${iso(startAfter)}::timestamptz`]),
        ...(params.to === undefined ? [] : [sql`${sql.literal(column)} < ${iso(params.to)}::timestamptz`])
      ]
      const withStudent = (studentId: UserId) =>
        sql`l.id IN (SELECT ls.lesson_id FROM lesson_students ls WHERE ${
          sql.and([sql`ls.student_id = ${studentId}`, ...startWindow("ls.starts_at")])
        })`
      const visible = actor.role === "admin"
        ? []
        : [actor.role === "tutor" ? sql`l.tutor_id = ${actor.id}` : withStudent(actor.id)]
      const direction = sql.literal(order === "asc" ? "ASC" : "DESC")
      const rows = yield* sql`${select}
        WHERE ${
        sql.and([
          ...visible,
          ...(params.tutor === undefined ? [] : [sql`l.tutor_id = ${params.tutor}`]),
          ...(params.student === undefined ? [] : [withStudent(params.student)]),
          ...(params.from === undefined ? [] : [sql`l.ends_at > ${iso(params.from)}::timestamptz`]),
          ...startWindow("l.starts_at"),
          ...(params.status === undefined || params.status.length === 0
            ? []
            : [sql`l.status IN ${sql.in(params.status)}`]),
          ...Option.match(after, {
            onNone: () => [],
            onSome: (c) => [
              order === "asc"
                ? sql`(l.starts_at, l.id) > (${c.startsAt}::timestamptz, ${c.id}::uuid)`
                : sql`(l.starts_at, l.id) < (${c.startsAt}::timestamptz, ${c.id}::uuid)`
            ]
          })
        ])
      }
        ORDER BY l.starts_at ${direction}, l.id ${direction}
        LIMIT ${limit + 1}`.pipe(Effect.flatMap(decodeRows))
      const page = rows.slice(0, limit)
      const last = page.at(-1)
      return {
        items: page.map(toLesson),
        nextCursor: rows.length > limit && last !== undefined
          ? encodeCursor(LessonCursor, { startsAt: last.cursorAt, id: last.id, order })
          : null
      }
    })

  return { find, list } as const
}
