/**
 * `lectern worker`: a job worker process (on PostgreSQL; with the embedded
 * database, jobs run inside `lectern serve`). Runs until SIGTERM/SIGINT, then
 * stops claiming, lets running jobs finish up to `JOBS_SHUTDOWN_TIMEOUT` and
 * hands back the rest. `--once` processes what is due and exits.
 */
import { Command, Options } from "@effect/cli"
import { ConfigError, Console, Duration, Effect, Layer, Option } from "effect"
import * as JobQueue from "../actors/JobQueue.ts"
import { CoreLive, ObservabilityLive } from "../App.ts"
import { AppConfig, type AppConfigShape } from "../layers/AppConfig.ts"
import { ValidationError } from "../schemas/Errors.ts"
import { Jobs } from "../services/Jobs.ts"

const queueName = /^[a-z0-9][a-z0-9_.:-]{0,99}$/i

/** Validated command-line overrides of the pool options. */
const overrides = (args: {
  readonly batchSize: Option.Option<number>
  readonly concurrency: Option.Option<number>
  readonly interval: Option.Option<number>
  readonly queues: Option.Option<string>
}) =>
  Effect.gen(function*() {
    const fields: Record<string, string> = {}
    const result: { -readonly [K in keyof JobQueue.WorkerOptions]?: JobQueue.WorkerOptions[K] } = {}
    Option.map(args.concurrency, (n) => {
      if (n >= 1 && n <= 1000) result.concurrency = n
      else fields.concurrency = "expected a whole number from 1 to 1000"
    })
    Option.map(args.batchSize, (n) => {
      if (n >= 1 && n <= 1000) result.batchSize = n
      else fields["batch-size"] = "expected a whole number from 1 to 1000"
    })
    Option.map(args.interval, (s) => {
      if (s > 0 && s <= 3600) result.pollInterval = Duration.millis(Math.round(s * 1000))
      else fields.interval = "expected seconds, more than 0 and at most 3600"
    })
    Option.map(args.queues, (list) => {
      const queues = list.split(",").map((q) => q.trim()).filter((q) => q.length > 0)
      if (queues.length > 0 && queues.every((q) => queueName.test(q))) result.queues = queues
      else fields.queues = "expected comma-separated queue names such as default,push"
    })
    if (Object.keys(fields).length > 0) return yield* new ValidationError({ fields })
    return result
  })

const listHandlers = Effect.gen(function*() {
  const jobs = yield* Jobs
  const registered = yield* jobs.registered
  const schedules = yield* jobs.schedules
  yield* Console.log("Job handlers:")
  for (const job of registered) {
    yield* Console.log(
      `  ${job.name}  queue=${job.options.queue} priority=${job.options.priority} ` +
        `attempts=${job.options.maxAttempts} timeout=${Duration.format(job.options.timeout)}`
    )
  }
  yield* Console.log("Cron schedules (UTC):")
  for (const schedule of schedules) yield* Console.log(`  ${schedule.name}  "${schedule.expression}" → ${schedule.jobName}`)
})

// Listing handlers needs the services built, not the data: never open the data directory for it.
const throwawayDatabase = (config: AppConfigShape): AppConfigShape =>
  config.database._tag === "Postgres"
    ? config
    : { ...config, database: { _tag: "Embedded", dataDir: Option.none() }, dataDir: Option.none() }

/** `lectern worker`. */
export const workerCommand = Command.make("worker", {
  once: Options.boolean("once").pipe(Options.withDescription("Process the jobs that are due now, then exit")),
  batchSize: Options.optional(Options.integer("batch-size")).pipe(
    Options.withDescription("Most jobs claimed per query (default JOBS_BATCH_SIZE)")
  ),
  concurrency: Options.optional(Options.integer("concurrency")).pipe(
    Options.withDescription("Jobs run at once (default JOBS_CONCURRENCY)")
  ),
  interval: Options.optional(Options.float("interval")).pipe(
    Options.withDescription("Poll interval in seconds when no wake-up arrives (default JOBS_POLL_INTERVAL)")
  ),
  queues: Options.optional(Options.text("queues")).pipe(
    Options.withDescription("Comma-separated queues to serve (default: all)")
  ),
  listHandlers: Options.boolean("list-handlers").pipe(
    Options.withDescription("Print the registered job handlers and cron schedules, then exit")
  )
}, (args) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const options = JobQueue.optionsFrom(config.jobs, yield* overrides(args))
    if (args.listHandlers) {
      return yield* listHandlers.pipe(
        Effect.provide(CoreLive.pipe(Layer.provide(Layer.succeed(AppConfig, throwawayDatabase(config)))))
      )
    }
    if (config.database._tag === "Embedded") {
      return yield* Effect.fail(ConfigError.InvalidData(
        ["DATABASE_URL"],
        "lectern worker needs PostgreSQL; with the embedded database, jobs run inside `lectern serve`"
      ))
    }
    if (args.once) {
      const stats = yield* JobQueue.runOnce(options).pipe(Effect.provide(CoreLive))
      return yield* Console.log(`Processed ${stats.recorded} job attempt(s) as worker ${stats.workerId}`)
    }
    return yield* Layer.launch(JobQueue.layer(options).pipe(Layer.provide(CoreLive)))
  }).pipe(Effect.provide(ObservabilityLive), Effect.provide(AppConfig.layer))).pipe(
  Command.withDescription("Run background jobs (needs DATABASE_URL; serve runs them itself on the embedded database)")
)
