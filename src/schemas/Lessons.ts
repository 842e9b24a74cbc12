/**
 * Lessons and tutor–student relations on the wire: records, requests, list
 * filters, the status machine's states, and their errors. A lesson has one
 * tutor and 1–9 students (1:1 or a small group; tutor + students fit a call).
 */
import { Schema } from "effect"
import { RequestFields } from "./Request.ts"
import { LessonId, RelationId, UserId } from "./Ids.ts"
import { Cursor, Limit, Page } from "./Pagination.ts"

/** The most students one lesson can have. */
export const maxLessonStudents = 9

/** Where a lesson is in its life. */
export const LessonStatus = Schema.Literal("scheduled", "live", "completed", "cancelled", "no_show").annotations({
  identifier: "LessonStatus"
})
/** @see LessonStatus */
export type LessonStatus = typeof LessonStatus.Type

/** Allowed status changes; terminal states allow none. */
export const lessonTransitions: Readonly<Record<LessonStatus, ReadonlyArray<LessonStatus>>> = {
  scheduled: ["live", "completed", "cancelled", "no_show"],
  live: ["completed", "cancelled"],
  completed: [],
  cancelled: [],
  no_show: []
}

const Title = Schema.Trim.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(200, { message: () => "at most 200 characters" })
)
const Description = Schema.String.pipe(Schema.maxLength(5000, { message: () => "at most 5000 characters" }))
const StudentIds = Schema.Array(UserId).pipe(
  Schema.minItems(1, { message: () => "at least one student" }),
  Schema.maxItems(maxLessonStudents, { message: () => `at most ${maxLessonStudents} students` })
)

/** A lesson as its participants and admins see it. */
export class Lesson extends Schema.Class<Lesson>("Lesson")({
  id: LessonId,
  tutorId: UserId,
  studentIds: Schema.Array(UserId),
  title: Schema.String,
  description: Schema.String,
  startsAt: Schema.DateTimeUtc,
  endsAt: Schema.DateTimeUtc,
  status: LessonStatus,
  createdAt: Schema.DateTimeUtc,
  updatedAt: Schema.DateTimeUtc
}) {}

/** Create a lesson. Tutors create for their own active students; admins name the tutor. */
export class CreateLessonRequest extends Schema.Class<CreateLessonRequest>("CreateLessonRequest")(RequestFields({
  title: Title,
  description: Schema.optional(Description),
  studentIds: StudentIds,
  startsAt: Schema.DateTimeUtc,
  endsAt: Schema.DateTimeUtc,
  tutorId: Schema.optional(UserId).annotations({ description: "Admins only: the lesson's tutor" })
})) {}

/** Change a lesson; every field optional. */
export class UpdateLessonRequest extends Schema.Class<UpdateLessonRequest>("UpdateLessonRequest")(RequestFields({
  title: Schema.optional(Title),
  description: Schema.optional(Description),
  studentIds: Schema.optional(StudentIds),
  startsAt: Schema.optional(Schema.DateTimeUtc),
  endsAt: Schema.optional(Schema.DateTimeUtc),
  status: Schema.optional(LessonStatus)
})) {}

/** Filters of `GET /lessons`. */
export const LessonListParams = RequestFields({
  from: Schema.optional(Schema.DateTimeUtc).annotations({ description: "Lessons ending after this instant" }),
  to: Schema.optional(Schema.DateTimeUtc).annotations({ description: "Lessons starting before this instant" }),
  status: Schema.optional(LessonStatus),
  tutor: Schema.optional(UserId),
  student: Schema.optional(UserId),
  cursor: Schema.optional(Cursor),
  limit: Schema.optional(Limit)
})

/** A page of lessons, ordered by start. */
export const LessonPage = Page(Lesson).annotations({ identifier: "LessonPage" })

/** Whether a tutor–student relation is current. */
export const RelationStatus = Schema.Literal("active", "ended")

/** A tutor teaching a student. */
export class Relation extends Schema.Class<Relation>("Relation")({
  id: RelationId,
  tutorId: UserId,
  studentId: UserId,
  status: RelationStatus,
  createdAt: Schema.DateTimeUtc,
  endedAt: Schema.NullOr(Schema.DateTimeUtc)
}) {}

/** Link a student (by the tutor; admins also name the tutor). */
export class CreateRelationRequest extends Schema.Class<CreateRelationRequest>("CreateRelationRequest")(RequestFields({
  studentId: UserId,
  tutorId: Schema.optional(UserId).annotations({ description: "Admins only: the tutor" })
})) {}

/** Filters of `GET /relations`. */
export const RelationListParams = RequestFields({
  status: Schema.optional(RelationStatus),
  cursor: Schema.optional(Cursor),
  limit: Schema.optional(Limit)
})

/** A page of relations. */
export const RelationPage = Page(Relation).annotations({ identifier: "RelationPage" })

/** No lesson with this id is visible to the caller (deliberately the same as "not yours"). */
export class LessonNotFound extends Schema.TaggedError<LessonNotFound>()("LessonNotFound", {
  lessonId: Schema.optional(Schema.String)
}) {
  readonly code = "LESSON_NOT_FOUND" as const
  override get message() {
    return "No lesson with this id is visible to you"
  }
}

/** The lesson's status does not allow this change. */
export class InvalidLessonTransition extends Schema.TaggedError<InvalidLessonTransition>()(
  "InvalidLessonTransition",
  { from: Schema.optional(LessonStatus), to: Schema.optional(LessonStatus) }
) {
  readonly code = "INVALID_LESSON_TRANSITION" as const
  get fields() {
    return { status: `cannot change from ${this.from ?? "?"} to ${this.to ?? "?"}` }
  }
  override get message() {
    return `A ${this.from ?? "?"} lesson cannot become ${this.to ?? "?"}`
  }
}

/** No relation with this id is visible to the caller. */
export class RelationNotFound extends Schema.TaggedError<RelationNotFound>()("RelationNotFound", {}) {
  readonly code = "RELATION_NOT_FOUND" as const
  override get message() {
    return "No tutor–student relation with this id is visible to you"
  }
}

/** The tutor and student are already linked. */
export class RelationExists extends Schema.TaggedError<RelationExists>()("RelationExists", {}) {
  readonly code = "RELATION_EXISTS" as const
  readonly fields = { studentId: "already an active student of this tutor" }
  override get message() {
    return "This tutor and student already have an active relation"
  }
}
