/** The contract of lessons (`/api/v1/lessons/*`). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { InvalidCursor } from "../../schemas/Errors.ts"
import { LessonId } from "../../schemas/Ids.ts"
import {
  CreateLessonRequest,
  InvalidLessonTransition,
  Lesson,
  LessonListParams,
  LessonNotEditable,
  LessonNotFound,
  LessonPage,
  UpdateLessonRequest
} from "../../schemas/Lessons.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"
import { ids, lessonExample, withExamples } from "./Examples.ts"

const LessonIdPath = HttpApiSchema.param("id", LessonId)

const notFound = httpError(LessonNotFound, "LESSON_NOT_FOUND")
const badTransition = httpError(InvalidLessonTransition, "INVALID_LESSON_TRANSITION")

const visibility = "A lesson is visible to its tutor, its students and admins; to anyone else its id answers " +
  "404 LESSON_NOT_FOUND (never 403), so ids cannot be probed."

/** Lessons: 1:1 or small-group sessions between a tutor and their students. */
export class LessonsApi extends HttpApiGroup.make("lessons")
  .add(
    HttpApiEndpoint.post("create", "/")
      .setPayload(CreateLessonRequest)
      .addSuccess(Lesson, { status: 201 })
      .annotate(OpenApi.Summary, "Schedule a lesson")
      .annotate(
        OpenApi.Description,
        "A tutor schedules a lesson for themselves; an admin schedules one for the tutor named in `tutorId`. " +
          "Students cannot (403 FORBIDDEN). A lesson has 1 student (1:1) or up to 9 (a small group), each an " +
          "active student of the tutor (see /relations). It lasts at most 8 hours, ends after it starts, and " +
          "starts no more than 5 minutes in the past. Every invalid field is reported at once " +
          "(400 VALIDATION_ERROR; students by position, e.g. `studentIds.1`) and nothing is stored. " +
          "New lessons are `scheduled`."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: {
            title: "Algebra: quadratic equations",
            description: "Bring last week's homework.",
            studentIds: [ids.student, ids.student2],
            startsAt: "2026-06-01T15:00:00Z",
            endsAt: "2026-06-01T16:00:00Z"
          },
          responses: { 201: lessonExample }
        })
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/")
      .setUrlParams(LessonListParams)
      .addSuccess(LessonPage)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "List my lessons (admins: all), by start time, with cursor pagination")
      .annotate(
        OpenApi.Description,
        "Tutors see the lessons they teach, students the lessons they attend, admins every lesson. Filters " +
          "narrow that set (naming someone else's lessons gives an empty page): `from`/`to` select lessons " +
          "overlapping the window (ending after `from`, starting before `to`), `status` may repeat, `tutor` and " +
          "`student` select by participant. Ordered by start then id, `order=asc` (default) or `desc`; pass the " +
          "previous page's `nextCursor` as `cursor` with the same filters (null on the last page). `limit` is " +
          "1–200, default 50."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({ responses: { 200: { items: [lessonExample], nextCursor: null } } })
      )
  )
  .add(
    HttpApiEndpoint.get("get")`/${LessonIdPath}`
      .addSuccess(Lesson)
      .addError(notFound)
      .annotate(OpenApi.Summary, "Read a lesson")
      .annotate(OpenApi.Description, visibility)
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: lessonExample } }))
  )
  .add(
    HttpApiEndpoint.patch("update")`/${LessonIdPath}`
      .setPayload(UpdateLessonRequest)
      .addSuccess(Lesson)
      .addError(notFound)
      .addError(badTransition)
      .addError(httpError(LessonNotEditable, "LESSON_NOT_EDITABLE"))
      .annotate(OpenApi.Summary, "Change, reschedule or move a lesson through its statuses")
      .annotate(
        OpenApi.Description,
        `Only the lesson's tutor or an admin (its students get 403 FORBIDDEN). ${visibility} ` +
          "Absent fields keep their value; values equal to the current ones change nothing. `studentIds` " +
          "replaces the list; students added must be active students of the tutor. Status changes: " +
          "scheduled → live | completed | cancelled | no_show, live → completed | no_show; completed, cancelled " +
          "and no_show are final (409 INVALID_LESSON_TRANSITION). Details of a final lesson cannot change, nor " +
          "the start of a live one (409 LESSON_NOT_EDITABLE naming the fields). Time rules as on create."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: { startsAt: "2026-06-02T15:00:00Z", endsAt: "2026-06-02T16:30:00Z" },
          responses: {
            200: { ...lessonExample, startsAt: "2026-06-02T15:00:00.000Z", endsAt: "2026-06-02T16:30:00.000Z" }
          }
        })
      )
  )
  .add(
    HttpApiEndpoint.del("cancel")`/${LessonIdPath}`
      .addSuccess(Lesson)
      .addError(notFound)
      .addError(badTransition)
      .annotate(OpenApi.Summary, "Cancel a lesson (it is kept, with status cancelled)")
      .annotate(
        OpenApi.Description,
        "DELETE cancels; it does not erase. Lessons carry chat, board and call history and are referenced by " +
          "notifications, so the record stays, readable by its participants, with status `cancelled`, and is " +
          "returned. Cancelling a cancelled lesson returns it unchanged (idempotent). A lesson that is live or " +
          `final cannot be cancelled (409 INVALID_LESSON_TRANSITION). Only its tutor or an admin. ${visibility}`
      )
      .annotate(
        OpenApi.Transform,
        withExamples({ responses: { 200: { ...lessonExample, status: "cancelled" } } })
      )
  )
  .middleware(Authentication)
  .prefix("/api/v1/lessons")
  .annotate(OpenApi.Title, "Lessons")
  .annotate(OpenApi.Description, "Scheduling and reading lessons; the lesson is what rooms, calls and reminders hang on.")
{}
