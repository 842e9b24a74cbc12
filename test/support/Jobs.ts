/**
 * Helpers for job tests: worker options for a test's own queue, a scoped pool,
 * and reading a job's state and run log straight from the database.
 */
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Schedule, Schema } from "effect"
import * as JobQueue from "../../src/actors/JobQueue.ts"
import type { JobId, JobState } from "../../src/schemas/Jobs.ts"

/** Fast pool options serving only `queue`. */
export const poolOptions = (queue: string, overrides: Partial<JobQueue.WorkerOptions> = {}): JobQueue.WorkerOptions => ({
  concurrency: 4,
  batchSize: 10,
  pollInterval: Duration.seconds(1),
  queues: [queue],
  lease: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(2),
  schedules: false,
  ...overrides
})

/** A unique queue/job name for one test. */
export const uniqueName = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`

const RunRow = Schema.Struct({
  attempt: Schema.Number,
  outcome: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  startedMs: Schema.Number,
  finishedMs: Schema.NullOr(Schema.Number)
})

/** The run log of a job, oldest first, with epoch-millisecond timestamps. */
export const runsOf = (id: JobId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`SELECT attempt, outcome, error,
          (extract(epoch FROM started_at) * 1000)::float8 AS started_ms,
          (extract(epoch FROM finished_at) * 1000)::float8 AS finished_ms
        FROM job_runs WHERE job_id = ${id}::bigint ORDER BY id`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(RunRow))),
      Effect.orDie
    ))

const StateRow = Schema.Struct({ state: Schema.String, attempts: Schema.Number, lastError: Schema.NullOr(Schema.String) })

/** A job's state, attempts and last error. */
export const jobState = (id: JobId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`SELECT state, attempts, last_error FROM jobs WHERE id = ${id}::bigint`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(StateRow))),
      Effect.flatMap((rows) => rows[0] === undefined ? Effect.dieMessage(`no job ${id}`) : Effect.succeed(rows[0])),
      Effect.orDie
    ))

/** Waits (polling, up to `timeout`) until the job reaches `state`. */
export const awaitState = (id: JobId, state: JobState, timeout: Duration.DurationInput = "15 seconds") =>
  jobState(id).pipe(
    Effect.repeat({ schedule: Schedule.spaced("25 millis"), until: (row) => row.state === state }),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`job ${id} did not become ${state}`) }),
    Effect.orDie
  )

/** Counts jobs of `queue` per state. */
export const countByState = (queue: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`SELECT state, count(*)::int AS n FROM jobs WHERE queue = ${queue} GROUP BY state`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({ state: Schema.String, n: Schema.Number })))),
      Effect.map((rows) => Object.fromEntries(rows.map((r) => [r.state, r.n])) as Record<string, number>),
      Effect.orDie
    ))

/** Re-runs `effect` until `done` holds for its value (every 25 ms, up to `timeout`), and returns that value. */
export const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeout: Duration.DurationInput = "10 seconds"
) =>
  effect.pipe(
    Effect.orDie,
    Effect.filterOrFail(done, () => "not yet" as const),
    Effect.retry(Schedule.spaced("25 millis")),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error("condition not met in time") }),
    Effect.orDie
  )
