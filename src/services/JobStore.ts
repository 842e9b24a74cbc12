/**
 * The SQL a worker runs: claim due jobs in batches (`FOR UPDATE SKIP LOCKED`),
 * record batches of outcomes with their run-log rows, renew leases, rescue jobs
 * whose worker stopped renewing (logging the cut-off attempt), find when the
 * next job is due, and take a cron tick at most once across processes.
 * Time comparisons use the database clock, so workers on several hosts agree.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Duration, Effect, Option, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import { JobId, JobRunOutcome, JobState } from "../schemas/Jobs.ts"
import type { CronSchedule } from "./Jobs.ts"

const ClaimedRow = Schema.Struct({
  id: JobId,
  queue: Schema.String,
  name: Schema.String,
  payload: Schema.Unknown,
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  timeoutMs: Schema.Number,
  traceParent: Schema.NullOr(Schema.String),
  priority: Schema.Number,
  /** How long the job waited past its run time before this claim. */
  waitedMs: Schema.Number
})

/** A job claimed by this worker. */
export type ClaimedJob = typeof ClaimedRow.Type

/** The outcome of one attempt, to record. */
export interface FinishedJob {
  readonly id: JobId
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

// Built once: constructing schemas per call shows up in the worker's profile.
const decodeClaimedRows = Schema.decodeUnknown(Schema.Array(ClaimedRow))
const decodeApplieds = Schema.decodeUnknown(Schema.Array(Applied))
const decodeRescueds = Schema.decodeUnknown(Schema.Array(Rescued))
const decodeDues = Schema.decodeUnknown(Schema.Array(Due))

const ms = (d: Duration.Duration) => Math.max(1, Math.round(Duration.toMillis(d)))

/** Worker-side queue storage. */
export class JobStore extends Effect.Service<JobStore>()("lectern/JobStore", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * Claims up to `limit` due jobs of `queues`; returned highest priority first.
     * Each queue is read in index order (a plain `queue = ANY(…)` would sort every
     * pending row of those queues); rows locked by a queue's subquery but cut by
     * the outer limit are released when the statement ends.
     */
    const claim = (workerId: string, queues: ReadonlyArray<string>, limit: number, lease: Duration.Duration) =>
      sql`
        WITH next AS (
          SELECT c.id FROM unnest(${queues}::text[]) AS q(name) CROSS JOIN LATERAL (
            SELECT id, priority, run_at FROM jobs
            WHERE state = 'pending' AND queue = q.name AND run_at <= now()
            ORDER BY priority DESC, run_at, id
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED
          ) AS c
          ORDER BY c.priority DESC, c.run_at, c.id
          LIMIT ${limit}
        )
        UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, locked_by = ${workerId},
          locked_until = now() + ${ms(lease)} * interval '1 millisecond', started_at = now(), updated_at = now()
        FROM next WHERE jobs.id = next.id
        RETURNING jobs.id, jobs.queue, jobs.name, jobs.payload, jobs.attempts, jobs.max_attempts, jobs.timeout_ms,
          jobs.trace_parent, jobs.priority, (extract(epoch FROM now() - jobs.run_at) * 1000)::float8 AS waited_ms`.pipe(
        Effect.flatMap(decodeClaimedRows),
        // RETURNING has no order: restore the claim order (priority, then longest waiting, then FIFO).
        Effect.map((rows) =>
          [...rows].sort((a, b) => b.priority - a.priority || b.waitedMs - a.waitedMs || Number(a.id) - Number(b.id))
        ),
        storeCall,
        Effect.withSpan("JobStore.claim", { attributes: { "jobs.limit": limit }, captureStackTrace: false })
      )

    /**
     * Records outcomes and appends each attempt to the run log. Only jobs this
     * worker still holds are touched (a job whose lease expired was rescued and
     * belongs to someone else). Returns the ids applied.
     */
    const finish = (workerId: string, batch: ReadonlyArray<FinishedJob>) =>
      sql`
        WITH f AS (
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(batch.map(toRecord))}::jsonb)
            AS f(id bigint, state text, outcome text, delay_ms bigint, error text, summary text)
        ), j AS (
          UPDATE jobs SET state = f.state,
            run_at = CASE WHEN f.state = 'pending' THEN now() + f.delay_ms * interval '1 millisecond' ELSE jobs.run_at END,
            last_error = coalesce(f.summary, jobs.last_error),
            finished_at = CASE WHEN f.state = 'pending' THEN NULL ELSE now() END,
            locked_by = NULL, locked_until = NULL, updated_at = now()
          FROM f WHERE jobs.id = f.id AND jobs.locked_by = ${workerId} AND jobs.state = 'running'
          RETURNING jobs.id, jobs.attempts, jobs.started_at
        )
        INSERT INTO job_runs (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
        SELECT j.id, j.attempts, ${workerId}, coalesce(j.started_at, now()), now(), f.outcome, f.error
        FROM j JOIN f ON f.id = j.id
        RETURNING job_id`.pipe(
        Effect.flatMap(decodeApplieds),
        Effect.map((rows) => new Set(rows.map((r) => r.jobId))),
        storeCall,
        Effect.withSpan("JobStore.finish", { attributes: { "jobs.count": batch.length }, captureStackTrace: false })
      )

    /** Hands back claimed jobs that never started (a stopping worker's local buffer), as if never claimed. */
    const unclaim = (workerId: string, ids: ReadonlyArray<JobId>) =>
      ids.length === 0 ? Effect.succeed([]) : sql<{ readonly queue: string }>`
        UPDATE jobs SET state = 'pending', attempts = attempts - 1, locked_by = NULL, locked_until = NULL,
          started_at = NULL, updated_at = now()
        WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${workerId} AND state = 'running'
        RETURNING queue`.pipe(Effect.map((rows) => rows.map((r) => r.queue)), storeCall)

    /** Renews the leases of the jobs this worker holds. */
    const extend = (workerId: string, ids: ReadonlyArray<JobId>, lease: Duration.Duration) =>
      ids.length === 0 ? Effect.void : sql`
        UPDATE jobs SET locked_until = now() + ${ms(lease)} * interval '1 millisecond'
        WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${workerId} AND state = 'running'`.pipe(
          Effect.asVoid,
          storeCall
        )

    /**
     * Hands back jobs whose lease expired (their worker died or lost the database):
     * pending again at once, or dead when that was their last attempt. The cut-off
     * attempt goes into the run log as `lease_expired`, under the worker that had it.
     */
    const rescue = (limit: number) =>
      sql`
        WITH expired AS (
          SELECT id, locked_by, started_at FROM jobs WHERE state = 'running' AND locked_until < now()
          ORDER BY locked_until LIMIT ${limit} FOR UPDATE SKIP LOCKED
        ), j AS (
          UPDATE jobs SET
            state = CASE WHEN jobs.attempts >= jobs.max_attempts THEN 'dead' ELSE 'pending' END,
            run_at = now(),
            last_error = 'lease expired: worker ' || coalesce(jobs.locked_by, '?') || ' stopped renewing it',
            finished_at = CASE WHEN jobs.attempts >= jobs.max_attempts THEN now() END,
            locked_by = NULL, locked_until = NULL, updated_at = now()
          FROM expired WHERE jobs.id = expired.id
          RETURNING jobs.id, jobs.queue, jobs.state, jobs.attempts, jobs.last_error
        ), runs AS (
          INSERT INTO job_runs (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
          SELECT j.id, j.attempts, coalesce(e.locked_by, '?'), coalesce(e.started_at, now()), now(), 'lease_expired', j.last_error
          FROM j JOIN expired e ON e.id = j.id
        )
        SELECT id, queue, state FROM j`.pipe(
        Effect.flatMap(decodeRescueds),
        storeCall,
        Effect.withSpan("JobStore.rescue")
      )

    /** How long until the earliest pending job in `queues` is due (zero if one is due now). */
    const nextDue = (queues: ReadonlyArray<string>) =>
      sql`
        SELECT greatest(0, extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS due_in_ms
        FROM jobs WHERE state = 'pending' AND queue = ANY(${queues}::text[])`.pipe(
        Effect.flatMap(decodeDues),
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]?.dueInMs), (n) => Duration.millis(Math.ceil(n)))),
        storeCall
      )

    /** The queues that have pending jobs (a loose index scan: one probe per queue). */
    const pendingQueues = sql<{ readonly queue: string }>`
      WITH RECURSIVE q AS (
        SELECT min(queue) AS queue FROM jobs WHERE state = 'pending'
        UNION ALL
        SELECT (SELECT min(queue) FROM jobs WHERE state = 'pending' AND queue > q.queue) FROM q WHERE q.queue IS NOT NULL
      )
      SELECT queue FROM q WHERE queue IS NOT NULL`.pipe(Effect.map((rows) => rows.map((r) => r.queue)), storeCall)

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

    return { claim, finish, unclaim, extend, rescue, nextDue, pendingQueues, runTick } as const
  })
}) {}

const toRecord = (f: FinishedJob) => ({
  id: f.id,
  state: f.state,
  outcome: f.outcome,
  delay_ms: Math.max(0, Math.round(f.delayMs)),
  error: f.error,
  summary: f.summary
})
