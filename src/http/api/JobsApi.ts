/** The contract of job administration (`/api/v1/jobs/*`, admins only). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { InvalidCursor } from "../../schemas/Errors.ts"
import { Job, JobDetail, JobId, JobListParams, JobNotFound, JobPage, JobStateConflict, JobStats } from "../../schemas/Jobs.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"

const JobIdPath = HttpApiSchema.param("id", JobId)

/** Job administration (admins only). */
export class JobsApi extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.get("stats", "/stats")
      .addSuccess(JobStats)
      .annotate(OpenApi.Summary, "Jobs per queue and state, and how long the oldest due job has waited")
  )
  .add(
    HttpApiEndpoint.get("list", "/")
      .setUrlParams(JobListParams)
      .addSuccess(JobPage)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "List jobs, newest first, by state, queue or job name (state=dead: the dead letter)")
  )
  .add(
    HttpApiEndpoint.get("get")`/${JobIdPath}`
      .addSuccess(JobDetail)
      .addError(httpError(JobNotFound, "JOB_NOT_FOUND"))
      .annotate(OpenApi.Summary, "A job with its run log (every attempt: start, end, outcome, error)")
  )
  .add(
    HttpApiEndpoint.post("retry")`/${JobIdPath}/retry`
      .addSuccess(Job)
      .addError(httpError(JobNotFound, "JOB_NOT_FOUND"))
      .addError(httpError(JobStateConflict, "JOB_STATE_CONFLICT"))
      .annotate(OpenApi.Summary, "Run a dead or cancelled job again now, with a fresh set of attempts")
  )
  .add(
    HttpApiEndpoint.del("cancel")`/${JobIdPath}`
      .addSuccess(Job)
      .addError(httpError(JobNotFound, "JOB_NOT_FOUND"))
      .addError(httpError(JobStateConflict, "JOB_STATE_CONFLICT"))
      .annotate(OpenApi.Summary, "Cancel a pending job (running jobs cannot be cancelled)")
  )
  .middleware(Authentication)
  .prefix("/api/v1/jobs")
  .annotate(OpenApi.Title, "Jobs")
{}
