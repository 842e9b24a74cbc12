/**
 * Running one claimed job and judging its outcome: the handler runs in a span
 * that continues the enqueuer's trace, bounded by the job's timeout; its exit
 * becomes completed, a retry after backoff (or after the handler's Retry-After),
 * dead letter, or a release on shutdown. Also records batches of outcomes and
 * the job metrics. Used by the `JobQueue` pool; holds no state of its own.
 */
import { Cause, Duration, Effect, Exit, Metric, MetricBoundaries, MetricLabel, Option } from "effect"
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
export const jobsFinished = Metric.counter("lectern_job_attempts_total", {
  description: "Job attempts finished, by outcome",
  incremental: true
})

/** Handler run time. */
export const jobRunDuration = Metric.histogram(
  "lectern_job_run_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 18 }),
  "Job attempt duration in milliseconds"
)

/** Time from a job's run time to its claim. */
export const jobPickupDelay = Metric.histogram(
  "lectern_job_pickup_delay_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 18 }),
  "Delay between a job becoming due and a worker claiming it, in milliseconds"
)

const maxErrorLength = 8_000

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

    /** Runs the handler of `job`: unknown names are rejected, attempts are bounded by the timeout. */
    const execute = (job: ClaimedJob) => {
      const info: JobInfo = {
        id: job.id,
        name: job.name,
        queue: job.queue,
        attempt: job.attempts,
        maxAttempts: job.maxAttempts
      }
      const timeout = Duration.millis(job.timeoutMs)
      const run = Option.match(jobs.lookup(job.name), {
        onNone: () =>
          Effect.fail(
            new JobRejected({ reason: `no handler is registered for job "${job.name}" on worker ${workerId}` })
          ),
        onSome: (registered) =>
          registered.run(job.payload, info).pipe(
            Effect.timeoutFail({ duration: timeout, onTimeout: () => new JobTimedOut({ timeout }) })
          )
      })
      const tags = { queue: job.queue, job: job.name }
      return Effect.gen(function*() {
        yield* Metric.update(Metric.tagged(jobPickupDelay, "queue", job.queue), job.waitedMs)
        return yield* run
      }).pipe(
        Metric.trackDurationWith(
          Metric.tagged(Metric.tagged(jobRunDuration, "queue", tags.queue), "job", tags.job),
          Duration.toMillis
        ),
        Effect.withSpan(`job ${job.name}`, {
          kind: "consumer",
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

    /** What to record for an attempt that ended with `exit`. */
    const outcome = (job: ClaimedJob, exit: Exit.Exit<void, unknown>): Effect.Effect<FinishedJob> =>
      Effect.gen(function*() {
        const base = { id: job.id, runId: job.runId, queue: job.queue, name: job.name }
        if (Exit.isSuccess(exit)) {
          return { ...base, state: "completed", outcome: "completed", delayMs: 0, error: null, summary: null } as const
        }
        const cause = exit.cause
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
        for (const f of batch) {
          if (!applied.has(f.id)) continue
          if (f.state === "pending" && f.delayMs === 0) immediate.push(f.queue)
          yield* Metric.increment(
            Metric.taggedWithLabels(jobsFinished, [
              MetricLabel.make("queue", f.queue),
              MetricLabel.make("job", f.name),
              MetricLabel.make("outcome", f.outcome)
            ])
          )
        }
        yield* wake.ready(immediate)
      })

    return { execute, outcome, record } as const
  })

/** `JobRunner.make(workerId)`. */
export const JobRunner = { make } as const
