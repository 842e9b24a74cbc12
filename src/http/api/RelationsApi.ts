/** The contract of tutor–student relations (`/api/v1/relations/*`). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { InvalidCursor } from "../../schemas/Errors.ts"
import { RelationId } from "../../schemas/Ids.ts"
import {
  CreateRelationRequest,
  Relation,
  RelationExists,
  RelationListParams,
  RelationNotFound,
  RelationPage
} from "../../schemas/Relations.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"
import { ids, relationExample, withExamples } from "./Examples.ts"

const RelationIdPath = HttpApiSchema.param("id", RelationId)

const ended = { ...relationExample, status: "ended", endedAt: "2026-07-01T12:00:00.000Z" }

/** Who teaches whom. */
export class RelationsApi extends HttpApiGroup.make("relations")
  .add(
    HttpApiEndpoint.post("create", "/")
      .setPayload(CreateRelationRequest)
      .addSuccess(Relation, { status: 201 })
      .addError(httpError(RelationExists, "RELATION_EXISTS"))
      .annotate(OpenApi.Summary, "Link a student to a tutor")
      .annotate(
        OpenApi.Description,
        "A tutor links a student to themselves (`tutorId` may be omitted); an admin links any student to any " +
          "tutor and must give `tutorId`. Students cannot link (403 FORBIDDEN). `studentId` must be an enabled " +
          "student account and `tutorId` an enabled tutor (400 VALIDATION_ERROR naming the field). A pair has " +
          "at most one active relation (409 RELATION_EXISTS); after it ends, the pair can be linked again. " +
          "Tutors schedule lessons only with their active students."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({ request: { studentId: ids.student }, responses: { 201: relationExample } })
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/")
      .setUrlParams(RelationListParams)
      .addSuccess(RelationPage)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "List my students (tutor), my tutors (student), or every relation (admin)")
      .annotate(
        OpenApi.Description,
        "Oldest first, with cursor pagination: pass the previous page's `nextCursor` as `cursor` (null on the " +
          "last page). `status`, `tutor` and `student` narrow the relations the caller may see; a filter naming " +
          "someone else's relations just gives an empty page."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({ responses: { 200: { items: [relationExample], nextCursor: null } } })
      )
  )
  .add(
    HttpApiEndpoint.get("get")`/${RelationIdPath}`
      .addSuccess(Relation)
      .addError(httpError(RelationNotFound, "RELATION_NOT_FOUND"))
      .annotate(OpenApi.Summary, "Read a relation")
      .annotate(
        OpenApi.Description,
        "Its tutor, its student and admins can read it; anyone else gets 404 RELATION_NOT_FOUND."
      )
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: relationExample } }))
  )
  .add(
    HttpApiEndpoint.del("end")`/${RelationIdPath}`
      .addSuccess(Relation)
      .addError(httpError(RelationNotFound, "RELATION_NOT_FOUND"))
      .annotate(OpenApi.Summary, "End a relation")
      .annotate(
        OpenApi.Description,
        "The tutor, the student or an admin ends the relation; it is kept with status `ended` and returned. " +
          "Ending an ended relation returns it unchanged. Lessons already scheduled are not touched, but the " +
          "tutor can no longer add this student to lessons."
      )
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: ended } }))
  )
  .middleware(Authentication)
  .prefix("/api/v1/relations")
  .annotate(OpenApi.Title, "Relations")
  .annotate(OpenApi.Description, "Tutor–student relations: who may schedule lessons with whom.")
{}
