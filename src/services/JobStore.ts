/**
 * The SQL a worker runs: claim due jobs in batches (`FOR UPDATE SKIP LOCKED`,
 * logging each attempt's start in the same statement), record batches of
 * outcomes, renew leases, rescue jobs whose worker stopped renewing, find when
 * the next job is due, and take a cron tick at most once across processes.
 * Time comparisons use the database clock, so workers on several hosts agree.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Duration, Effect, Option, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import { JobId, JobRunOutcome, JobState } from "../schemas/Jobs.ts"
import type { CronSchedule } from "./Jobs.ts"

/** A job claimed by this worker, with the id of its run-log row. */
export const ClaimedJob = Schema.Struct({
  id: JobId,
  runId: Schema.String,
  queue: Schema.String,
  name: Schema.String,
  payload: Schema.Unknown,
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  timeoutMs: Schema.Number,
  traceParent: Schema.NullOr(Schema.String),
  /** How long the job waited past its run time before this claim. */
  waitedMs: Schema.Number
})
/** @see ClaimedJob */
export type ClaimedJob = typeof ClaimedJob.Type

/** The outcome of one attempt, to record. */
export interface FinishedJob {
  readonly id: JobId
  readonly runId: string
  readonly queue: string
  readonly name: string
  /** `pending` means "retry after `delayMs`". */
  readonly state: Extract<JobState, "completed" | "pending" | "dead">
  readonly outcome: JobRunOutcome
  readonly delayMs: number
  /** The full cause, for the run log. */
  readonly error: string | null
  /** One line, for the job's `last_error`. */
  readonly summary: string | null
}

const Rescued = Schema.Struct({ id: JobId, queue: Schema.String, state: JobState })
const Applied = Schema.Struct({ jobId: JobId })
const Due = Schema.Struct({ dueInMs: Schema.NullOr(Schema.Number) })

const ms = (d: Duration.Duration) => Math.max(1, Math.round(Duration.toMillis(d)))

/** Worker-side queue storage. */
export class JobStore extends Effect.Service<JobStore>()("lectern/JobStore", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const inQueues = (queues: ReadonlyArray<string>) =>
      queues.length === 0 ? sql.literal("") : sql`AND queue = ANY(${queues}::text[])`

    /** Claims up to `limit` due jobs, highest priority first, and opens their run-log rows. */
    const claim = (workerId: string, queues: ReadonlyArray<string>, limit: number, lease: Duration.Duration) =>
      sql`
        WITH next AS (
          SELECT id FROM jobs
          WHERE state = 'pending' AND run_at <= now() ${inQueues(queues)}
          ORDER BY priority DESC, run_at, id
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        ), claimed AS (
          UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, locked_by = ${workerId},
            locked_until = now() + ${ms(lease)} * interval '1 millisecond', updated_at = now()
          FROM next WHERE jobs.id = next.id
          RETURNING jobs.id, jobs.queue, jobs.name, jobs.payload, jobs.attempts, jobs.max_attempts, jobs.timeout_ms,
            jobs.trace_parent, jobs.priority, jobs.run_at,
            (extract(epoch FROM now() - jobs.run_at) * 1000)::float8 AS waited_ms
        ), runs AS (
          INSERT INTO job_runs (job_id, attempt, worker_id)
          SELECT id, attempts, ${workerId} FROM claimed
          RETURNING id, job_id
        )
        SELECT c.id, r.id::text AS run_id, c.queue, c.name, c.payload, c.attempts, c.max_attempts, c.timeout_ms,
               c.trace_parent, c.waited_ms
        FROM claimed c JOIN runs r ON r.job_id = c.id
        ORDER BY c.priority DESC, c.run_at, c.id`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(ClaimedJob))),
        storeCall,
        Effect.withSpan("JobStore.claim", { attributes: { "jobs.limit": limit } })
      )

    /**
     * Records outcomes; only jobs this worker still holds are touched (a job whose
     * lease expired was rescued and belongs to someone else). Returns the ids applied.
     */
    const finish = (workerId: string, batch: ReadonlyArray<FinishedJob>) =>
      sql`
        WITH f AS (
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(batch.map(toRecord))}::jsonb)
            AS f(id bigint, run_id bigint, state text, outcome text, delay_ms bigint, error text, summary text)
        ), j AS (
          UPDATE jobs SET state = f.state,
            run_at = CASE WHEN f.state = 'pending' THEN now() + f.delay_ms * interval '1 millisecond' ELSE jobs.run_at END,
            last_error = coalesce(f.summary, jobs.last_error),
            finished_at = CASE WHEN f.state = 'pending' THEN NULL ELSE now() END,
            locked_by = NULL, locked_until = NULL, updated_at = now()
          FROM f WHERE jobs.id = f.id AND jobs.locked_by = ${workerId} AND jobs.state = 'running'
          RETURNING jobs.id
        )
        UPDATE job_runs SET finished_at = now(), outcome = f.outcome, error = f.error
        FROM f JOIN j ON j.id = f.id
        WHERE job_runs.id = f.run_id
        RETURNING job_runs.job_id`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Applied))),
        Effect.map((rows) => new Set(rows.map((r) => r.jobId))),
        storeCall,
        Effect.withSpan("JobStore.finish", { attributes: { "jobs.count": batch.length } })
      )

    /** Renews the leases of the jobs this worker is running. */
    const extend = (workerId: string, ids: ReadonlyArray<JobId>, lease: Duration.Duration) =>
      ids.length === 0 ? Effect.void : sql`
        UPDATE jobs SET locked_until = now() + ${ms(lease)} * interval '1 millisecond'
        WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${workerId} AND state = 'running'`.pipe(
          Effect.asVoid,
          storeCall
        )

    /**
     * Hands back jobs whose lease expired (their worker died or lost the database):
     * pending again at once, or dead when that was their last attempt. Their open
     * run-log rows are closed as `lease_expired`.
     */
    const rescue = (limit: number) =>
      sql`
        WITH expired AS (
          SELECT id FROM jobs WHERE state = 'running' AND locked_until < now()
          ORDER BY locked_until LIMIT ${limit} FOR UPDATE SKIP LOCKED
        ), j AS (
          UPDATE jobs SET
            state = CASE WHEN jobs.attempts >= jobs.max_attempts THEN 'dead' ELSE 'pending' END,
            run_at = now(),
            last_error = 'lease expired: worker ' || coalesce(jobs.locked_by, '?') || ' stopped renewing it',
            finished_at = CASE WHEN jobs.attempts >= jobs.max_attempts THEN now() END,
            locked_by = NULL, locked_until = NULL, updated_at = now()
          FROM expired WHERE jobs.id = expired.id
          RETURNING jobs.id, jobs.queue, jobs.state, jobs.last_error
        ), runs AS (
          UPDATE job_runs SET finished_at = now(), outcome = 'lease_expired', error = j.last_error
          FROM j WHERE job_runs.job_id = j.id AND job_runs.finished_at IS NULL
        )
        SELECT id, queue, state FROM j`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Rescued))),
        storeCall,
        Effect.withSpan("JobStore.rescue")
      )

    /** How long until the earliest pending job in `queues` is due (zero if one is due now). */
    const nextDue = (queues: ReadonlyArray<string>) =>
      sql`
        SELECT greatest(0, extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS due_in_ms
        FROM jobs WHERE state = 'pending' ${inQueues(queues)}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Due))),
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]?.dueInMs), (n) => Duration.millis(Math.ceil(n)))),
        storeCall
      )

    /**
     * Takes `tick` of `schedule` if no process has (compare-and-set on the last
     * tick) and enqueues its job in the same transaction. True when this call won.
     */
    const runTick = (schedule: CronSchedule, tick: DateTime.Utc) =>
      Effect.gen(function*() {
        const won = yield* sql`
          INSERT INTO job_schedules (name, last_tick) VALUES (${schedule.name}, ${DateTime.formatIso(tick)}::timestamptz)
          ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick, updated_at = now()
          WHERE job_schedules.last_tick < excluded.last_tick
          RETURNING name`
        if (won.length === 0) return false
        yield* schedule.enqueue(tick)
        return true
      }).pipe(
        sql.withTransaction,
        storeCall,
        Effect.withSpan("JobStore.runTick", { attributes: { "schedule.name": schedule.name } })
      )

    return { claim, finish, extend, rescue, nextDue, runTick } as const
  })
}) {}

const toRecord = (f: FinishedJob) => ({
  id: f.id,
  run_id: f.runId,
  state: f.state,
  outcome: f.outcome,
  delay_ms: Math.max(0, Math.round(f.delayMs)),
  error: f.error,
  summary: f.summary
})
