/**
 * What operators do with jobs: counts per queue and state, listing and reading
 * jobs with their run log, retrying dead or cancelled jobs, cancelling pending
 * ones (by id, or by unique key for services that reschedule). Never runs jobs.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { JobWake } from "../layers/JobWake.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import {
  Job,
  JobDetail,
  JobId,
  JobNotFound,
  JobRun,
  JobRunOutcome,
  JobState,
  JobStateConflict,
  JobStats,
  QueueStats
} from "../schemas/Jobs.ts"
import { decodeCursor, encodeCursor } from "./Cursor.ts"

const JobRow = Schema.Struct({
  id: JobId,
  queue: Schema.String,
  name: Schema.String,
  payload: Schema.Unknown,
  state: JobState,
  priority: Schema.Number,
  runAt: Schema.DateTimeUtcFromDate,
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  timeoutMs: Schema.Number,
  uniqueKey: Schema.NullOr(Schema.String),
  lockedBy: Schema.NullOr(Schema.String),
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.DateTimeUtcFromDate,
  updatedAt: Schema.DateTimeUtcFromDate,
  finishedAt: Schema.NullOr(Schema.DateTimeUtcFromDate)
})

const RunRow = Schema.Struct({
  attempt: Schema.Number,
  workerId: Schema.String,
  startedAt: Schema.DateTimeUtcFromDate,
  finishedAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  outcome: Schema.NullOr(JobRunOutcome),
  error: Schema.NullOr(Schema.String)
})

const StatsRow = Schema.Struct({
  queue: Schema.String,
  ready: Schema.NumberFromString,
  scheduled: Schema.NumberFromString,
  running: Schema.NumberFromString,
  completed: Schema.NumberFromString,
  dead: Schema.NumberFromString,
  cancelled: Schema.NumberFromString,
  oldestReadyAgeSeconds: Schema.NullOr(Schema.Number)
})

const JobCursor = Schema.Struct({ id: JobId })

const jobColumns = (sql: SqlClient.SqlClient) =>
  sql.literal(`id, queue, name, payload, state, priority, run_at, attempts, max_attempts, timeout_ms, unique_key,
    locked_by, last_error, created_at, updated_at, finished_at`)

/** Job administration. */
export class JobAdmin extends Effect.Service<JobAdmin>()("lectern/JobAdmin", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const wake = yield* JobWake
    const decodeJobs = Schema.decodeUnknown(Schema.Array(JobRow))

    /** Counts per queue and state, and how long the oldest due job has waited. */
    const stats = sql`
      SELECT queue,
        count(*) FILTER (WHERE state = 'pending' AND run_at <= now())::text AS ready,
        count(*) FILTER (WHERE state = 'pending' AND run_at > now())::text AS scheduled,
        count(*) FILTER (WHERE state = 'running')::text AS running,
        count(*) FILTER (WHERE state = 'completed')::text AS completed,
        count(*) FILTER (WHERE state = 'dead')::text AS dead,
        count(*) FILTER (WHERE state = 'cancelled')::text AS cancelled,
        extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'pending' AND run_at <= now()))::float8
          AS oldest_ready_age_seconds
      FROM jobs GROUP BY queue ORDER BY queue`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(StatsRow))),
      Effect.map((rows) => JobStats.make({ queues: rows.map((r) => QueueStats.make(r)) })),
      storeCall,
      Effect.withSpan("JobAdmin.stats")
    )

    /** Jobs, newest first, filtered by state, queue and name. */
    const list = (options: {
      readonly state?: JobState | undefined
      readonly queue?: string | undefined
      readonly name?: string | undefined
      readonly cursor?: string | undefined
      readonly limit: number
    }) =>
      Effect.gen(function*() {
        const after = options.cursor === undefined
          ? Option.none()
          : Option.some(yield* decodeCursor(JobCursor, options.cursor))
        const rows = yield* sql`
          SELECT ${jobColumns(sql)} FROM jobs
          WHERE ${
          sql.and([
            ...(options.state === undefined ? [] : [sql`state = ${options.state}`]),
            ...(options.queue === undefined ? [] : [sql`queue = ${options.queue}`]),
            ...(options.name === undefined ? [] : [sql`name = ${options.name}`]),
            ...Option.match(after, { onNone: () => [], onSome: (c) => [sql`id < ${c.id}::bigint`] })
          ])
        }
          ORDER BY id DESC LIMIT ${options.limit + 1}`.pipe(Effect.flatMap(decodeJobs))
        const page = rows.slice(0, options.limit)
        const last = page.at(-1)
        return {
          items: page.map((r) => Job.make(r)),
          nextCursor: rows.length > options.limit && last !== undefined ? encodeCursor(JobCursor, { id: last.id }) : null
        }
      }).pipe(storeCall, Effect.withSpan("JobAdmin.list"))

    const find = (id: JobId) =>
      sql`SELECT ${jobColumns(sql)} FROM jobs WHERE id = ${id}::bigint`.pipe(
        Effect.flatMap(decodeJobs),
        Effect.flatMap((rows) => rows[0] === undefined ? Effect.fail(new JobNotFound({ jobId: id })) : Effect.succeed(rows[0]))
      )

    /** A job with its run log; a running job's current attempt is the last entry, without an outcome. */
    const get = (id: JobId) =>
      Effect.gen(function*() {
        const job = yield* find(id)
        const runs = yield* sql`
          SELECT attempt, worker_id, started_at, finished_at, outcome, error FROM job_runs WHERE job_id = ${id}::bigint
          UNION ALL
          SELECT attempts, locked_by, started_at, NULL, NULL, NULL FROM jobs
          WHERE id = ${id}::bigint AND state = 'running' AND locked_by IS NOT NULL AND started_at IS NOT NULL
          ORDER BY started_at, attempt`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(RunRow))))
        return JobDetail.make({ ...job, runs: runs.map((r) => JobRun.make(r)) })
      }).pipe(storeCall, Effect.withSpan("JobAdmin.get", { attributes: { "job.id": id } }))

    /** Runs a dead or cancelled job again now, with a fresh set of attempts. */
    const retry = (id: JobId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          UPDATE jobs SET state = 'pending', run_at = now(), attempts = 0, finished_at = NULL, updated_at = now()
          WHERE id = ${id}::bigint AND state IN ('dead', 'cancelled')
          RETURNING ${jobColumns(sql)}`.pipe(Effect.flatMap(decodeJobs))
        const row = rows[0]
        if (row === undefined) {
          const current = yield* find(id)
          return yield* new JobStateConflict({ state: current.state, detail: `Only dead or cancelled jobs can be retried; this one is ${current.state}` })
        }
        yield* wake.ready([row.queue])
        yield* Effect.logInfo("job retried by an operator").pipe(Effect.annotateLogs({ job_id: id }))
        return Job.make(row)
      }).pipe(storeCall, Effect.withSpan("JobAdmin.retry", { attributes: { "job.id": id } }))

    /** Cancels a pending job (a running one cannot be stopped from here). */
    const cancel = (id: JobId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          UPDATE jobs SET state = 'cancelled', finished_at = now(), updated_at = now()
          WHERE id = ${id}::bigint AND state = 'pending'
          RETURNING ${jobColumns(sql)}`.pipe(Effect.flatMap(decodeJobs))
        const row = rows[0]
        if (row === undefined) {
          const current = yield* find(id)
          return yield* new JobStateConflict({ state: current.state, detail: `Only pending jobs can be cancelled; this one is ${current.state}` })
        }
        return Job.make(row)
      }).pipe(storeCall, Effect.withSpan("JobAdmin.cancel", { attributes: { "job.id": id } }))

    /** Cancels the pending job holding `uniqueKey`, if any; true when one was cancelled. */
    const cancelByKey = (uniqueKey: string) =>
      sql`UPDATE jobs SET state = 'cancelled', finished_at = now(), updated_at = now()
          WHERE unique_key = ${uniqueKey} AND state = 'pending' RETURNING id`.pipe(
        Effect.map((rows) => rows.length > 0),
        storeCall
      )

    return { stats, list, get, retry, cancel, cancelByKey } as const
  })
}) {}
