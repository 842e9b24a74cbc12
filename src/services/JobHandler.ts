/**
 * The contract between a job type and the queue: what a handler receives, the
 * two failures it can use to steer retries (`JobRetryLater`, `JobPermanentFailure`),
 * per-type options with their defaults, and the retry backoff (exponential,
 * capped, with jitter). Any other failure or defect is retried with backoff.
 */
import { Data, Duration, Effect, Random } from "effect"
import type { JobId } from "../schemas/Jobs.ts"

/** What a handler knows about the job it runs. */
export interface JobInfo {
  readonly id: JobId
  readonly name: string
  readonly queue: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly maxAttempts: number
}

/** A handler: decoded payload in, success or failure out. It may be interrupted (timeout, shutdown). */
export type JobHandlerFn<A> = (payload: A, job: JobInfo) => Effect.Effect<void, unknown>

/** Retry this attempt no earlier than `after` (e.g. a push service's Retry-After); still counts as an attempt. */
export class JobRetryLater extends Data.TaggedError("JobRetryLater")<{
  readonly after: Duration.Duration
  readonly reason: string
}> {
  override get message() {
    return `${this.reason} (retry after ${Duration.format(this.after)})`
  }
}

/** Retrying cannot help: the job goes to dead letter at once. */
export class JobPermanentFailure extends Data.TaggedError("JobPermanentFailure")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** Exponential backoff: `base * factor^(attempt-1)`, capped at `max`, with jitter. */
export interface Backoff {
  readonly base: Duration.Duration
  readonly factor: number
  readonly max: Duration.Duration
}

/** Options of a job type; every enqueue may override queue, priority, attempts and timeout. */
export interface JobOptions {
  readonly queue?: string | undefined
  /** Higher runs first; default 0. */
  readonly priority?: number | undefined
  /** Attempts before dead letter, including the first; default 5. */
  readonly maxAttempts?: number | undefined
  /** Per-attempt time limit; default 1 minute. */
  readonly timeout?: Duration.DurationInput | undefined
  readonly backoff?: Partial<Backoff> | undefined
}

/** {@link JobOptions} with every default filled in. */
export interface ResolvedJobOptions {
  readonly queue: string
  readonly priority: number
  readonly maxAttempts: number
  readonly timeout: Duration.Duration
  readonly backoff: Backoff
}

/** The defaults of {@link JobOptions}. */
export const defaultJobOptions: ResolvedJobOptions = {
  queue: "default",
  priority: 0,
  maxAttempts: 5,
  timeout: Duration.minutes(1),
  backoff: { base: Duration.seconds(1), factor: 2, max: Duration.minutes(10) }
}

/** Fills in defaults. */
export const resolveJobOptions = (options: JobOptions = {}): ResolvedJobOptions => ({
  queue: options.queue ?? defaultJobOptions.queue,
  priority: options.priority ?? defaultJobOptions.priority,
  maxAttempts: options.maxAttempts ?? defaultJobOptions.maxAttempts,
  timeout: options.timeout === undefined ? defaultJobOptions.timeout : Duration.decode(options.timeout),
  backoff: { ...defaultJobOptions.backoff, ...options.backoff }
})

/** The un-jittered delay before the retry that follows failed attempt `attempt` (1-based). */
export const backoffCeiling = (backoff: Backoff, attempt: number): Duration.Duration => {
  const raw = Duration.toMillis(backoff.base) * Math.pow(backoff.factor, Math.max(0, attempt - 1))
  return Duration.millis(Math.min(Duration.toMillis(backoff.max), raw))
}

/**
 * The delay before the next attempt: "equal jitter", uniformly within
 * [ceiling/2, ceiling], so retries of many jobs failing together spread out
 * while successive delays of one job still grow with the factor.
 */
export const backoffDelay = (backoff: Backoff, attempt: number): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (r) => {
    const ceiling = Duration.toMillis(backoffCeiling(backoff, attempt))
    return Duration.millis(Math.round(ceiling / 2 + (r * ceiling) / 2))
  })

/** The job cannot run here at all (no handler, or a payload its schema rejects): dead letter, unretried. */
export class JobRejected extends Data.TaggedError("JobRejected")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** An attempt ran past the job's timeout and was interrupted. */
export class JobTimedOut extends Data.TaggedError("JobTimedOut")<{ readonly timeout: Duration.Duration }> {
  override get message() {
    return `timed out after ${Duration.format(this.timeout)}`
  }
}
