/** Background job variables (docs/jobs.md): the worker pool, leases, retention and its schedule. */
import { Config, Cron, type Duration, Either } from "effect"
import { bool, duration, integerIn, invalid } from "./Variables.ts"

/** Background job settings. */
export interface JobsConfig {
  /** Run a worker pool inside `lectern serve`. */
  readonly inProcess: boolean
  readonly concurrency: number
  readonly batchSize: number
  readonly pollInterval: Duration.Duration
  readonly lease: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  /** Completed and cancelled jobs (and their runs) are deleted after this long. */
  readonly retention: Duration.Duration
  /** Dead jobs are kept longer, for inspection and retry. */
  readonly deadRetention: Duration.Duration
  /** Cron (UTC) of the retention jobs (`jobs.prune`, `rooms.prune`). */
  readonly pruneCron: string
}

export const jobsConfig: Config.Config<JobsConfig> = Config.all({
  inProcess: bool("WORKERS_IN_PROCESS", true),
  concurrency: integerIn("JOBS_CONCURRENCY", 1, 1000, 10),
  batchSize: integerIn("JOBS_BATCH_SIZE", 1, 1000, 50),
  pollInterval: duration("JOBS_POLL_INTERVAL", "2 seconds"),
  lease: duration("JOBS_LEASE", "30 seconds"),
  shutdownTimeout: duration("JOBS_SHUTDOWN_TIMEOUT", "5 seconds"),
  retention: duration("JOBS_RETENTION", "7 days"),
  deadRetention: duration("JOBS_DEAD_RETENTION", "30 days"),
  pruneCron: Config.string("JOBS_PRUNE_CRON").pipe(
    Config.mapOrFail((raw) =>
      Either.match(Cron.parse(raw.trim(), "UTC"), {
        onLeft: (e) => Either.left(invalid(`expected a cron expression such as "*/15 * * * *": ${e.message}`)),
        onRight: () => Either.right(raw.trim())
      })
    ),
    Config.withDefault("*/15 * * * *")
  )
})
