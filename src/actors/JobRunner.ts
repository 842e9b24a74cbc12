/**
 * Running one claimed job and judging its outcome: the handler runs in a span
 * that continues the enqueuer's trace, bounded by the job's timeout; its exit
 * becomes completed, a retry after backoff (or after the handler's Retry-After),
 * dead letter, or a release on shutdown. Also records batches of outcomes and
 * the job metrics. Used by the `JobQueue` pool; holds no state of its own.
 */
import { Cause, Duration, Effect, Exit, Metric, MetricBoundaries, MetricKey, MetricLabel, Option } from "effect"
import { JobWake } from "../layers/JobWake.ts"
import {
  backoffDelay,
  defaultJobOptions,
  type JobInfo,
  JobPermanentFailure,
  JobRejected,
  JobRetryLater,
  JobTimedOut
} from "../services/JobHandler.ts"
import { type ClaimedJob, type FinishedJob, JobStore } from "../services/JobStore.ts"
import { Jobs } from "../services/Jobs.ts"
import { parentFromTraceParent } from "../services/TraceContext.ts"

/** Attempts finished, by queue, job and outcome. */
export const jobAttemptsKey = MetricKey.counter("lectern_job_attempts_total", {
  description: "Job attempts finished, by queue, job and outcome",
  incremental: true
})

/** Handler run time, by queue and job. */
export const jobRunDurationKey = MetricKey.histogram(
  "lectern_job_run_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 18 }),
  "Job attempt duration in milliseconds"
)

/** Time from a job's run time to its claim, by queue. */
export const jobPickupDelayKey = MetricKey.histogram(
  "lectern_job_pickup_delay_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 18 }),
  "Delay between a job becoming due and a worker claiming it, in milliseconds"
)

const labels = (pairs: Record<string, string>) => Object.entries(pairs).map(([k, v]) => MetricLabel.make(k, v))

const maxErrorLength = 8_000

/**
 * Labelled metrics, built once per label set with the labels in the key:
 * `Metric.tagged` makes a new label array on every update, which defeats Effect's
 * hook cache and costs a registry lookup per job.
 */
const memo = <A>(build: (key: string) => A) => {
  const cache = new Map<string, A>()
  return (key: string) => {
    let value = cache.get(key)
    if (value === undefined) {
      value = build(key)
      cache.set(key, value)
    }
    return value
  }
}

const firstLine = (text: string) => (text.split("\n")[0] ?? text).slice(0, 500)

const describe = (cause: Cause.Cause<unknown>) => {
  const full = Cause.pretty(cause, { renderErrorCause: true }).slice(0, maxErrorLength)
  const failure = Cause.failureOption(cause)
  const summary = Option.match(failure, {
    onNone: () => firstLine(full),
    onSome: (e) =>
      typeof e === "object" && e !== null && "message" in e
        ? firstLine(`${"_tag" in e && typeof e._tag === "string" ? e._tag : e instanceof Error ? e.name : "Error"}: ${String(e.message)}`)
        : firstLine(String(e))
  })
  return { full, summary }
}

/** A runner for the jobs claimed by `workerId`. */
export const make = (workerId: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const store = yield* JobStore
    const wake = yield* JobWake

    const pickupFor = memo((queue) =>
      Metric.fromMetricKey(MetricKey.taggedWithLabels(jobPickupDelayKey, labels({ queue }))))
    const durationFor = memo((key) => {
      const [queue = "", job = ""] = key.split("\u0000")
      return Metric.fromMetricKey(MetricKey.taggedWithLabels(jobRunDurationKey, labels({ queue, job })))
    })
    const finishedFor = memo((key) => {
      const [queue = "", job = "", outcome = ""] = key.split("\u0000")
      return Metric.fromMetricKey(MetricKey.taggedWithLabels(jobAttemptsKey, labels({ queue, job, outcome })))
    })

    /**
     * Runs the handler of `job` (unknown names are rejected). The job's timeout is
     * enforced by the pool's watchdog, which interrupts overdue attempts: a timer
     * race per job would cost more than a no-op job itself.
     */
    const execute = (job: ClaimedJob) => {
      const info: JobInfo = {
        id: job.id,
        name: job.name,
        queue: job.queue,
        attempt: job.attempts,
        maxAttempts: job.maxAttempts
      }
      const run = Option.match(jobs.lookup(job.name), {
        onNone: () =>
          Effect.fail(
            new JobRejected({ reason: `no handler is registered for job "${job.name}" on worker ${workerId}` })
          ),
        onSome: (registered) => registered.run(job.payload, info)
      })
      return Effect.zipRight(Metric.update(pickupFor(job.queue), job.waitedMs), run).pipe(
        Metric.trackDurationWith(durationFor(`${job.queue}\u0000${job.name}`), Duration.toMillis),
        Effect.withSpan(`job ${job.name}`, {
          kind: "consumer",
          captureStackTrace: false,
          parent: Option.getOrUndefined(parentFromTraceParent(job.traceParent)),
          attributes: {
            "job.id": job.id,
            "job.name": job.name,
            "job.queue": job.queue,
            "job.attempt": job.attempts,
            "worker.id": workerId
          }
        }),
        Effect.annotateLogs({ job_id: job.id, job_name: job.name, job_attempt: job.attempts })
      )
    }

    /** What to record for an attempt that ended with `exit` (`timedOut`: the watchdog interrupted it). */
    const outcome = (job: ClaimedJob, exit: Exit.Exit<void, unknown>, timedOut: boolean): Effect.Effect<FinishedJob> =>
      Effect.gen(function*() {
        const base = { id: job.id, queue: job.queue, name: job.name }
        if (Exit.isSuccess(exit)) {
          return { ...base, state: "completed", outcome: "completed", delayMs: 0, error: null, summary: null } as const
        }
        const cause = timedOut && Cause.isInterruptedOnly(exit.cause)
          ? Cause.fail(new JobTimedOut({ timeout: Duration.millis(job.timeoutMs) }))
          : exit.cause
        if (Cause.isInterruptedOnly(cause)) {
          return {
            ...base,
            state: "pending",
            outcome: "released",
            delayMs: 0,
            error: `worker ${workerId} shut down before the attempt finished`,
            summary: "released by a shutting-down worker"
          } as const
        }
        const { full, summary } = describe(cause)
        const failure = Option.getOrUndefined(Cause.failureOption(cause))
        if (failure instanceof JobRejected || failure instanceof JobPermanentFailure) {
          const outcome = failure instanceof JobRejected ? "rejected" : "failed"
          yield* Effect.logWarning("job moved to dead letter").pipe(Effect.annotateLogs({ job_id: job.id, reason: summary }))
          return { ...base, state: "dead", outcome, delayMs: 0, error: full, summary } as const
        }
        const outcome = failure instanceof JobTimedOut ? "timed_out" : "failed"
        if (job.attempts >= job.maxAttempts) {
          yield* Effect.logWarning("job exhausted its attempts; moved to dead letter").pipe(
            Effect.annotateLogs({ job_id: job.id, job_name: job.name, attempts: job.attempts, reason: summary })
          )
          return { ...base, state: "dead", outcome, delayMs: 0, error: full, summary } as const
        }
        const backoff = Option.match(jobs.lookup(job.name), {
          onNone: () => defaultJobOptions.backoff,
          onSome: (registered) => registered.options.backoff
        })
        const delay = failure instanceof JobRetryLater ? failure.after : yield* backoffDelay(backoff, job.attempts)
        return { ...base, state: "pending", outcome, delayMs: Duration.toMillis(delay), error: full, summary } as const
      })

    /** Records a batch of outcomes; wakes workers for immediate retries; warns about lost leases. */
    const record = (batch: ReadonlyArray<FinishedJob>) =>
      Effect.gen(function*() {
        const applied = yield* store.finish(workerId, batch)
        const lost = batch.length - applied.size
        if (lost > 0) {
          yield* Effect.logWarning("outcomes not recorded: lease expired and the jobs were rescued").pipe(
            Effect.annotateLogs({ worker_id: workerId, lost })
          )
        }
        const immediate: Array<string> = []
        const finished = new Map<string, number>()
        for (const f of batch) {
          if (!applied.has(f.id)) continue
          if (f.state === "pending" && f.delayMs === 0) immediate.push(f.queue)
          const key = `${f.queue}\u0000${f.name}\u0000${f.outcome}`
          finished.set(key, (finished.get(key) ?? 0) + 1)
        }
        // Counted per batch: a metric update costs a registry lookup.
        for (const [key, n] of finished) yield* Metric.incrementBy(finishedFor(key), n)
        yield* wake.ready(immediate)
      })

    return { execute, outcome, record } as const
  })

/** `JobRunner.make(workerId)`. */
export const JobRunner = { make } as const
