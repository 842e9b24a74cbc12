/**
 * The job registry and the enqueue side of the queue. Services register job
 * types (`registerJob(name, schema, handler)`) and cron schedules when their
 * layers build, and get a typed `JobType<A>` to enqueue with. Enqueueing is plain
 * SQL on the caller's connection, so inside `sql.withTransaction` a job exists
 * only if the transaction commits. Running jobs is the `JobQueue` actor's work.
 */
import { SqlClient } from "@effect/sql"
import { Cron, DateTime, Duration, Effect, Either, Metric, MetricKey, MetricLabel, Option, Schema } from "effect"
import { JobWake } from "../layers/JobWake.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import type { ServiceUnavailable } from "../schemas/Errors.ts"
import { JobId } from "../schemas/Jobs.ts"
import {
  type JobHandlerFn,
  type JobInfo,
  type JobOptions,
  JobRejected,
  resolveJobOptions,
  type ResolvedJobOptions
} from "./JobHandler.ts"
import { currentTraceParent } from "./TraceContext.ts"

/** Per-enqueue choices; unset ones come from the job type. */
export interface EnqueueOptions {
  /** Run no earlier than this instant (default: now). */
  readonly runAt?: DateTime.Utc | undefined
  /** Run no earlier than this long from now (by the database clock). */
  readonly delay?: Duration.DurationInput | undefined
  readonly queue?: string | undefined
  readonly priority?: number | undefined
  readonly maxAttempts?: number | undefined
  readonly timeout?: Duration.DurationInput | undefined
  /** At most one pending or running job per key. */
  readonly uniqueKey?: string | undefined
  /** With `uniqueKey`: keep the existing job (default) or replace its payload, run time and attempts. */
  readonly onDuplicate?: "keep" | "replace" | undefined
}

/** The result of an enqueue: the job's id, and whether an existing job with the same key was kept. */
export interface Enqueued {
  readonly id: JobId
  readonly deduplicated: boolean
}

/** A registered job type: enqueue payloads of type `A`. */
export interface JobType<A> {
  readonly name: string
  readonly options: ResolvedJobOptions
  readonly enqueue: (payload: A, options?: EnqueueOptions) => Effect.Effect<Enqueued, ServiceUnavailable>
  /** One statement for many jobs (`onDuplicate: "replace"` is not available here). */
  readonly enqueueMany: (
    items: ReadonlyArray<{ readonly payload: A; readonly options?: EnqueueOptions | undefined }>
  ) => Effect.Effect<ReadonlyArray<Enqueued>, ServiceUnavailable>
}

/** A handler as the queue sees it: payload decoding included, types erased. */
export interface RegisteredJob {
  readonly name: string
  readonly options: ResolvedJobOptions
  readonly run: (payload: unknown, job: JobInfo) => Effect.Effect<void, unknown>
}

/** A cron schedule: one job per tick, across every process running schedules. */
export interface CronSchedule {
  readonly name: string
  readonly expression: string
  readonly cron: Cron.Cron
  readonly jobName: string
  /** Enqueues this schedule's job for `tick`. */
  readonly enqueue: (tick: DateTime.Utc) => Effect.Effect<Enqueued, ServiceUnavailable>
}

const namePattern = /^[a-z0-9][a-z0-9_.:-]{0,99}$/i

/** Jobs enqueued, by job type. */
export const jobsEnqueuedKey = MetricKey.counter("lectern_jobs_enqueued_total", {
  description: "Jobs enqueued, by job type",
  incremental: true
})

const InsertedRow = Schema.Struct({ id: JobId, uniqueKey: Schema.NullOr(Schema.String) })
const decodeInserted = Schema.decodeUnknown(Schema.Array(InsertedRow))

/** Job registry and enqueueing. */
export class Jobs extends Effect.Service<Jobs>()("lectern/Jobs", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const wake = yield* JobWake
    const registry = new Map<string, RegisteredJob>()
    const schedules = new Map<string, CronSchedule>()

    const toRow = (name: string, defaults: ResolvedJobOptions, payload: unknown, ord: number, options: EnqueueOptions, traceParent: string | null) => {
      const queue = options.queue ?? defaults.queue
      if (!namePattern.test(queue)) throw new Error(`invalid queue name "${queue}"`)
      return {
        ord,
        queue,
        name,
        payload,
        priority: options.priority ?? defaults.priority,
        run_at: options.runAt === undefined ? null : DateTime.formatIso(options.runAt),
        delay_ms: options.delay === undefined ? null : Math.max(0, Math.round(Duration.toMillis(options.delay))),
        max_attempts: Math.max(1, options.maxAttempts ?? defaults.maxAttempts),
        timeout_ms: Math.max(1, Math.round(Duration.toMillis(options.timeout ?? defaults.timeout))),
        unique_key: options.uniqueKey ?? null,
        trace_parent: traceParent
      }
    }
    type Row = ReturnType<typeof toRow>

    const recordset = (rows: ReadonlyArray<Row>) =>
      sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(
            ord int, queue text, name text, payload jsonb, priority int, run_at timestamptz, delay_ms bigint,
            max_attempts int, timeout_ms int, unique_key text, trace_parent text)`
    const columns = sql`(queue, name, payload, priority, run_at, max_attempts, timeout_ms, unique_key, trace_parent)`
    const values = sql`r.queue, r.name, r.payload, r.priority,
      coalesce(r.run_at, now() + coalesce(r.delay_ms, 0) * interval '1 millisecond'),
      r.max_attempts, r.timeout_ms, r.unique_key, r.trace_parent`
    const activeKey = sql`(unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running')`

    const insertKeep = (rows: ReadonlyArray<Row>) =>
      sql`INSERT INTO jobs ${columns} SELECT ${values} FROM ${recordset(rows)} ORDER BY r.ord
          ON CONFLICT ${activeKey} DO NOTHING
          RETURNING id, unique_key`.pipe(Effect.flatMap(decodeInserted))

    const activeByKey = (keys: ReadonlyArray<string>) =>
      sql`SELECT id, unique_key FROM jobs
          WHERE unique_key = ANY(${keys}::text[]) AND state IN ('pending', 'running')`.pipe(
        Effect.flatMap(decodeInserted)
      )

    /** Inserts, keeping existing jobs on key conflicts; results in input order. */
    const insertMany = (rows: ReadonlyArray<Row>) =>
      Effect.gen(function*() {
        const inserted = yield* insertKeep(rows)
        const fresh = new Map(inserted.flatMap((r) => (r.uniqueKey === null ? [] : [[r.uniqueKey, r.id] as const])))
        const unkeyed = inserted.filter((r) => r.uniqueKey === null).map((r) => r.id)
        const missing = rows.flatMap((r) => r.unique_key !== null && !fresh.has(r.unique_key) ? [r.unique_key] : [])
        const existing = missing.length === 0 ? new Map<string, JobId>() : new Map(
          (yield* activeByKey(missing)).flatMap((r) => (r.uniqueKey === null ? [] : [[r.uniqueKey, r.id] as const]))
        )
        // The conflicting job may have finished in between: insert those once more.
        const retry = rows.filter((r) => r.unique_key !== null && !fresh.has(r.unique_key) && !existing.has(r.unique_key))
        const second = retry.length === 0 ? [] : yield* insertKeep(retry)
        for (const r of second) if (r.uniqueKey !== null) fresh.set(r.uniqueKey, r.id)
        let next = 0
        const results: Array<Enqueued> = []
        for (const row of rows) {
          const id = row.unique_key === null ? unkeyed[next++] : fresh.get(row.unique_key)
          const kept = row.unique_key === null ? undefined : existing.get(row.unique_key)
          if (id !== undefined) results.push({ id, deduplicated: false })
          else if (kept !== undefined) results.push({ id: kept, deduplicated: true })
          else return yield* Effect.dieMessage(`jobs insert lost a row (unique key ${row.unique_key ?? "none"})`)
        }
        return results
      })

    /** Replaces the active job with the same key (a running one is detached and left to finish). */
    const upsert = (row: Row) =>
      Effect.gen(function*() {
        yield* sql`UPDATE jobs SET unique_key = NULL, updated_at = now()
                   WHERE unique_key = ${row.unique_key} AND state = 'running'`
        const rows = yield* sql`
          INSERT INTO jobs ${columns} SELECT ${values} FROM ${recordset([row])}
          ON CONFLICT ${activeKey} DO UPDATE SET
            payload = excluded.payload, priority = excluded.priority, run_at = excluded.run_at,
            max_attempts = excluded.max_attempts, timeout_ms = excluded.timeout_ms, attempts = 0,
            last_error = NULL, trace_parent = excluded.trace_parent, queue = excluded.queue,
            name = excluded.name, updated_at = now()
          RETURNING id, unique_key`.pipe(Effect.flatMap(decodeInserted))
        const first = rows[0]
        if (first === undefined) return yield* Effect.dieMessage("jobs upsert returned no row")
        yield* wake.ready([row.queue])
        return [{ id: first.id, deduplicated: false }]
      }).pipe(sql.withTransaction)

    const makeType = <A, I>(name: string, schema: Schema.Schema<A, I>, options: ResolvedJobOptions): JobType<A> => {
      const encode = Schema.encode(schema)
      // Labels in the key (not Metric.tagged per call, which misses Effect's hook cache).
      const enqueued = Metric.fromMetricKey(MetricKey.taggedWithLabels(jobsEnqueuedKey, [MetricLabel.make("job", name)]))
      const enqueueMany: JobType<A>["enqueueMany"] = (items) =>
        Effect.gen(function*() {
          if (items.length === 0) return []
          const traceParent = yield* currentTraceParent
          const rows: Array<Row> = []
          for (const [ord, item] of items.entries()) {
            const payload = yield* Effect.orDie(encode(item.payload))
            rows.push(yield* Effect.try(() => toRow(name, options, payload, ord, item.options ?? {}, traceParent)).pipe(Effect.orDie))
          }
          const replace = items.length === 1 && items[0]?.options?.onDuplicate === "replace" &&
            rows[0]?.unique_key !== null
          const result = replace && rows[0] !== undefined ? yield* upsert(rows[0]) : yield* insertMany(rows)
          yield* wake.inserted(rows.map((r) => r.queue))
          yield* Metric.incrementBy(enqueued, result.filter((r) => !r.deduplicated).length)
          return result
        }).pipe(
          storeCall,
          Effect.withSpan("Jobs.enqueue", {
            kind: "producer",
            captureStackTrace: false,
            attributes: { "job.name": name, "job.count": items.length }
          })
        )
      const enqueue: JobType<A>["enqueue"] = (payload, enqueueOptions) =>
        Effect.flatMap(enqueueMany([{ payload, options: enqueueOptions }]), (results) =>
          results[0] === undefined ? Effect.dieMessage("enqueue returned no result") : Effect.succeed(results[0]))
      return { name, options, enqueue, enqueueMany }
    }

    /**
     * Registers the handler of job type `name` (once per process) and returns the
     * typed enqueuer. Payloads that fail `schema` go to dead letter unretried.
     */
    const registerJob = <A, I>(
      name: string,
      schema: Schema.Schema<A, I>,
      handler: JobHandlerFn<A>,
      jobOptions?: JobOptions
    ): Effect.Effect<JobType<A>> =>
      Effect.suspend(() => {
        if (!namePattern.test(name)) return Effect.dieMessage(`invalid job name "${name}"`)
        if (registry.has(name)) return Effect.dieMessage(`job "${name}" is registered twice`)
        const options = resolveJobOptions(jobOptions)
        if (!namePattern.test(options.queue)) return Effect.dieMessage(`invalid queue name "${options.queue}"`)
        const decode = Schema.decodeUnknown(schema)
        registry.set(name, {
          name,
          options,
          run: (payload, job) =>
            Effect.flatMap(
              Effect.mapError(decode(payload), (e) =>
                new JobRejected({ reason: `payload does not match the "${name}" schema: ${e.message}` })),
              (decoded) => handler(decoded, job)
            )
        })
        return Effect.succeed(makeType(name, schema, options))
      })

    /**
     * Enqueues `payload` as a `job` at every tick of the cron `expression`, once per
     * tick however many processes run schedules (cron fields are read in UTC). Ticks missed while no worker ran
     * are skipped, not caught up.
     */
    const schedule = <A>(name: string, expression: string, job: JobType<A>, payload: A) =>
      Effect.suspend(() => {
        if (schedules.has(name)) return Effect.dieMessage(`schedule "${name}" is registered twice`)
        return Either.match(Cron.parse(expression, "UTC"), {
          onLeft: (e) => Effect.dieMessage(`schedule "${name}": invalid cron "${expression}": ${e.message}`),
          onRight: (cron) =>
            Effect.sync(() => {
              schedules.set(name, {
                name,
                expression,
                cron,
                jobName: job.name,
                enqueue: (tick) => job.enqueue(payload, { uniqueKey: `cron:${name}:${DateTime.formatIso(tick)}` })
              })
            })
        })
      })

    return {
      registerJob,
      schedule,
      /** The handler of `name`, if this process registered one. */
      lookup: (name: string): Option.Option<RegisteredJob> => Option.fromNullable(registry.get(name)),
      /** Every registered job type, by name. */
      registered: Effect.sync(() => [...registry.values()].sort((a, b) => a.name.localeCompare(b.name))),
      /** Every cron schedule, by name. */
      schedules: Effect.sync(() => [...schedules.values()].sort((a, b) => a.name.localeCompare(b.name)))
    } as const
  })
}) {}
