/**
 * Lessons on the wire: the record, create/update requests, list filters, the
 * status machine, and lesson errors. A lesson has one tutor and 1–9 students
 * (1:1 is one student; a small group is up to nine, so tutor + students fit a
 * mesh call of ten). Relations live in `Relations.ts`.
 */
import { Duration, Schema } from "effect"
import { LessonId, UserId } from "./Ids.ts"
import { Cursor, Limit, Page } from "./Pagination.ts"
import { RequestFields } from "./Request.ts"
import { Participant } from "./Relations.ts"

/** The most students one lesson can have. */
export const maxLessonStudents = 9

/** The longest a lesson may last (also a database constraint the list query relies on). */
export const maxLessonDuration = Duration.hours(8)

/** How far in the past a start may lie when scheduling (clock skew between app and server). */
export const startGrace = Duration.minutes(5)

/** Where a lesson is in its life. */
export const LessonStatus = Schema.Literal("scheduled", "live", "completed", "cancelled", "no_show").annotations({
  identifier: "LessonStatus",
  message: () => ({ message: "expected scheduled, live, completed, cancelled or no_show", override: true }),
  description: "scheduled → live → completed; scheduled → cancelled; scheduled or live → no_show / completed"
})
/** @see LessonStatus */
export type LessonStatus = typeof LessonStatus.Type

/**
 * Allowed status changes. A lesson that has started can no longer be cancelled
 * (it happened, or nobody came: no_show); terminal states allow none.
 */
export const lessonTransitions: Readonly<Record<LessonStatus, ReadonlyArray<LessonStatus>>> = {
  scheduled: ["live", "completed", "cancelled", "no_show"],
  live: ["completed", "no_show"],
  completed: [],
  cancelled: [],
  no_show: []
}

/** Statuses in which nothing but the status itself may change. */
export const isClosed = (status: LessonStatus): boolean => lessonTransitions[status].length === 0

const Title = Schema.Trim.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(200, { message: () => "at most 200 characters" })
).annotations({ examples: ["Algebra: quadratic equations"] })
const Description = Schema.String.pipe(Schema.maxLength(5000, { message: () => "at most 5000 characters" }))
const StudentIds = Schema.Array(UserId).pipe(
  Schema.minItems(1, { message: () => "at least one student" }),
  Schema.maxItems(maxLessonStudents, { message: () => `at most ${maxLessonStudents} students` })
).annotations({ description: "1 student for a 1:1 lesson, up to 9 for a group; each an active student of the tutor" })

/** A lesson as its participants and admins see it. */
export class Lesson extends Schema.Class<Lesson>("Lesson")({
  id: LessonId,
  tutor: Participant,
  students: Schema.Array(Participant),
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
  tutorId: Schema.optional(UserId).annotations({ description: "Admins only (and required for them): the lesson's tutor" })
})) {}

/** Change a lesson; every field optional, absent fields keep their value. */
export class UpdateLessonRequest extends Schema.Class<UpdateLessonRequest>("UpdateLessonRequest")(RequestFields({
  title: Schema.optional(Title),
  description: Schema.optional(Description),
  studentIds: Schema.optional(StudentIds),
  startsAt: Schema.optional(Schema.DateTimeUtc),
  endsAt: Schema.optional(Schema.DateTimeUtc),
  status: Schema.optional(LessonStatus)
})) {}

/** Sort direction of `GET /lessons` (by start, then id). */
export const LessonOrder = Schema.Literal("asc", "desc")

/** Filters of `GET /lessons`; every filter narrows the lessons the caller may see. */
export const LessonListParams = RequestFields({
  from: Schema.optional(Schema.DateTimeUtc).annotations({
    description: "Only lessons ending after this instant (ISO 8601)"
  }),
  to: Schema.optional(Schema.DateTimeUtc).annotations({
    description: "Only lessons starting before this instant (ISO 8601); must be after `from`"
  }),
  status: Schema.optional(Schema.Array(LessonStatus)).annotations({
    description: "Only lessons in these statuses (repeat the parameter for several)"
  }),
  tutor: Schema.optional(UserId).annotations({ description: "Only lessons of this tutor" }),
  student: Schema.optional(UserId).annotations({ description: "Only lessons with this student" }),
  order: Schema.optional(LessonOrder).annotations({ description: "By start time: asc (default) or desc" }),
  cursor: Schema.optional(Cursor),
  limit: Schema.optional(Limit)
})
/** @see LessonListParams */
export type LessonListParams = typeof LessonListParams.Type

/** A page of lessons, ordered by start. */
export const LessonPage = Page(Lesson).annotations({ identifier: "LessonPage" })

/** No lesson with this id is visible to the caller (deliberately the same as "not yours"). */
export class LessonNotFound extends Schema.TaggedError<LessonNotFound>()("LessonNotFound", {
  lessonId: Schema.optional(Schema.String)
}) {
  readonly code = "LESSON_NOT_FOUND" as const
  override get message() {
    return "No lesson with this id is visible to you"
  }
}

/** The lesson's status does not allow this status change. */
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

/** The lesson's status no longer allows changing this detail (e.g. rescheduling a completed lesson). */
export class LessonNotEditable extends Schema.TaggedError<LessonNotEditable>()("LessonNotEditable", {
  status: Schema.optional(LessonStatus),
  fields: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) })
}) {
  readonly code = "LESSON_NOT_EDITABLE" as const
  override get message() {
    return `A ${this.status ?? "closed"} lesson cannot change ${Object.keys(this.fields).join(", ") || "this way"}`
  }
}
