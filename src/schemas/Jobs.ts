/**
 * Background jobs on the wire (the admin API): a job with its state, the log
 * of its attempts, per-queue statistics, list filters and the errors of the
 * admin routes. Job payloads are opaque JSON here; each job type decodes its own.
 */
import { Schema } from "effect"
import { Cursor, Limit, Page } from "./Pagination.ts"
import { RequestFields } from "./Request.ts"

/** A job's id (a positive 64-bit integer, as a decimal string). */
export const JobId = Schema.String.pipe(
  Schema.pattern(/^[1-9][0-9]{0,18}$/, { message: () => "expected a job id (a positive whole number)" }),
  Schema.brand("JobId")
).annotations({ identifier: "JobId" })
/** @see JobId */
export type JobId = typeof JobId.Type

/**
 * Where a job is in its life: `pending` (waiting for its run time, possibly a
 * retry), `running` (claimed by a worker), then `completed`, `dead` (attempts
 * exhausted or rejected: the dead letter) or `cancelled`.
 */
export const JobState = Schema.Literal("pending", "running", "completed", "dead", "cancelled").annotations({
  identifier: "JobState"
})
/** @see JobState */
export type JobState = typeof JobState.Type

/** How one attempt ended. */
export const JobRunOutcome = Schema.Literal(
  "completed",
  "failed",
  "timed_out",
  /** unknown job name or a payload its schema rejects: never retried */
  "rejected",
  /** the worker stopped renewing its lease (crashed or cut off); the job was rescued */
  "lease_expired",
  /** the worker shut down before the attempt finished and handed the job back */
  "released"
).annotations({ identifier: "JobRunOutcome" })
/** @see JobRunOutcome */
export type JobRunOutcome = typeof JobRunOutcome.Type

/** One attempt of a job (the run log). */
export class JobRun extends Schema.Class<JobRun>("JobRun")({
  attempt: Schema.Number,
  workerId: Schema.String,
  startedAt: Schema.DateTimeUtc,
  finishedAt: Schema.NullOr(Schema.DateTimeUtc),
  /** null while the attempt is running */
  outcome: Schema.NullOr(JobRunOutcome),
  error: Schema.NullOr(Schema.String)
}) {}

/** A job as operators see it. */
export class Job extends Schema.Class<Job>("Job")({
  id: JobId,
  queue: Schema.String,
  name: Schema.String,
  payload: Schema.Unknown,
  state: JobState,
  priority: Schema.Number,
  runAt: Schema.DateTimeUtc,
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  timeoutMs: Schema.Number,
  uniqueKey: Schema.NullOr(Schema.String),
  lockedBy: Schema.NullOr(Schema.String),
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.DateTimeUtc,
  updatedAt: Schema.DateTimeUtc,
  finishedAt: Schema.NullOr(Schema.DateTimeUtc)
}) {}

/** A job with its run log, oldest attempt first. */
export class JobDetail extends Schema.Class<JobDetail>("JobDetail")({
  ...Job.fields,
  runs: Schema.Array(JobRun)
}) {}

/** A page of jobs, newest first. */
export const JobPage = Page(Job).annotations({ identifier: "JobPage" })

/** Filters of `GET /jobs`. */
export const JobListParams = RequestFields({
  state: Schema.optional(JobState),
  queue: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))),
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))),
  cursor: Schema.optional(Cursor),
  limit: Schema.optional(Limit)
})

/** Counts of one queue. */
export class QueueStats extends Schema.Class<QueueStats>("QueueStats")({
  queue: Schema.String,
  /** due now (includes retries whose backoff has passed) */
  ready: Schema.Number,
  /** pending with a future run time (delayed jobs and retries in backoff) */
  scheduled: Schema.Number,
  running: Schema.Number,
  completed: Schema.Number,
  dead: Schema.Number,
  cancelled: Schema.Number,
  /** how long the oldest due job has waited, in seconds (null when none is due) */
  oldestReadyAgeSeconds: Schema.NullOr(Schema.Number)
}) {}

/** `GET /jobs/stats`. */
export class JobStats extends Schema.Class<JobStats>("JobStats")({
  queues: Schema.Array(QueueStats)
}) {}

/** No job with this id (it may have been pruned after its retention period). */
export class JobNotFound extends Schema.TaggedError<JobNotFound>()("JobNotFound", {
  jobId: Schema.optional(Schema.String)
}) {
  readonly code = "JOB_NOT_FOUND" as const
  override get message() {
    return `No job with id ${this.jobId ?? "?"}`
  }
}

/** The job's state does not allow the operation (e.g. cancelling a running job). */
export class JobStateConflict extends Schema.TaggedError<JobStateConflict>()("JobStateConflict", {
  state: Schema.optional(JobState),
  detail: Schema.optional(Schema.String)
}) {
  readonly code = "JOB_STATE_CONFLICT" as const
  get fields() {
    return { state: `the job is ${this.state ?? "in another state"}` }
  }
  override get message() {
    return this.detail ?? `The job is ${this.state ?? "in another state"}`
  }
}
