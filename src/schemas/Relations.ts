/**
 * Tutor–student relations on the wire: the relation record (with both people's
 * names, since tutors and students cannot read `/users`), requests, list
 * filters and errors. A tutor schedules lessons only for their active students.
 */
import { Schema } from "effect"
import { RelationId, UserId } from "./Ids.ts"
import { Cursor, Limit, Page } from "./Pagination.ts"
import { RequestFields } from "./Request.ts"

/** A person taking part, as other participants see them: id and display name. */
export class Participant extends Schema.Class<Participant>("Participant")({
  id: UserId,
  displayName: Schema.String
}) {}

/** Whether a tutor–student relation is current. */
export const RelationStatus = Schema.Literal("active", "ended").annotations({
  identifier: "RelationStatus",
  message: () => ({ message: "expected active or ended", override: true })
})
/** @see RelationStatus */
export type RelationStatus = typeof RelationStatus.Type

/** A tutor teaching a student. */
export class Relation extends Schema.Class<Relation>("Relation")({
  id: RelationId,
  tutor: Participant,
  student: Participant,
  status: RelationStatus,
  createdAt: Schema.DateTimeUtc,
  endedAt: Schema.NullOr(Schema.DateTimeUtc)
}) {}

/** Link a student to a tutor (tutors link to themselves; admins name the tutor). */
export class CreateRelationRequest extends Schema.Class<CreateRelationRequest>("CreateRelationRequest")(RequestFields({
  studentId: UserId,
  tutorId: Schema.optional(UserId).annotations({ description: "Admins only (and required for them): the tutor" })
})) {}

/** Filters of `GET /relations`; each narrows the relations the caller may see. */
export const RelationListParams = RequestFields({
  status: Schema.optional(RelationStatus),
  tutor: Schema.optional(UserId).annotations({ description: "Only relations of this tutor" }),
  student: Schema.optional(UserId).annotations({ description: "Only relations of this student" }),
  cursor: Schema.optional(Cursor),
  limit: Schema.optional(Limit)
})
/** @see RelationListParams */
export type RelationListParams = typeof RelationListParams.Type

/** A page of relations, oldest first. */
export const RelationPage = Page(Relation).annotations({ identifier: "RelationPage" })

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
