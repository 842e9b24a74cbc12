/**
 * `lectern jobs …`: operator tools over the job queue (the same operations as
 * the admin REST routes): `stats`, `list`, `show`, `retry`, `cancel`. With the
 * embedded database, use them only while the server is stopped (or use REST).
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, DateTime, Effect, Layer, Option, ParseResult, Schema } from "effect"
import { CoreLive, ObservabilityLive } from "../App.ts"
import { fieldsFromIssues } from "../http/HttpErrors.ts"
import { AppConfig } from "../layers/AppConfig.ts"
import { ValidationError } from "../schemas/Errors.ts"
import { type Job, JobId, JobState } from "../schemas/Jobs.ts"
import { JobAdmin } from "../services/JobAdmin.ts"

const withCore = <A, E>(effect: Effect.Effect<A, E, JobAdmin>) =>
  effect.pipe(Effect.provide(CoreLive.pipe(Layer.provide(ObservabilityLive), Layer.provide(AppConfig.layer))))

const decodeArg = <A>(schema: Schema.Schema<A, string>, field: string, raw: string) =>
  Schema.decodeUnknown(schema)(raw).pipe(
    Effect.mapError((e) => {
      const fields = fieldsFromIssues(ParseResult.ArrayFormatter.formatErrorSync(e))
      return new ValidationError({ fields: { [field]: Object.values(fields).join("; ") } })
    })
  )

const line = (job: Job) =>
  `${job.id.padStart(8)}  ${job.state.padEnd(9)} ${job.queue}/${job.name}  attempts ${job.attempts}/${job.maxAttempts}` +
  `  run at ${DateTime.formatIso(job.runAt)}${job.lastError === null ? "" : `  last error: ${job.lastError}`}`

const stats = Command.make("stats", {}, () =>
  withCore(Effect.gen(function*() {
    const admin = yield* JobAdmin
    const { queues } = yield* admin.stats
    yield* Console.log("queue                ready scheduled running completed   dead cancelled  oldest ready")
    for (const q of queues) {
      const age = q.oldestReadyAgeSeconds === null ? "-" : `${q.oldestReadyAgeSeconds.toFixed(1)} s`
      yield* Console.log(
        `${q.queue.padEnd(20)} ${String(q.ready).padStart(5)} ${String(q.scheduled).padStart(9)} ` +
          `${String(q.running).padStart(7)} ${String(q.completed).padStart(9)} ${String(q.dead).padStart(6)} ` +
          `${String(q.cancelled).padStart(9)}  ${age}`
      )
    }
  }))).pipe(Command.withDescription("Jobs per queue and state"))

const list = Command.make("list", {
  state: Options.optional(Options.choice("state", JobState.literals)).pipe(Options.withDescription("Only this state")),
  queue: Options.optional(Options.text("queue")).pipe(Options.withDescription("Only this queue")),
  limit: Options.integer("limit").pipe(Options.withDefault(20), Options.withDescription("How many (1–200)"))
}, (args) =>
  withCore(Effect.gen(function*() {
    if (args.limit < 1 || args.limit > 200) {
      return yield* new ValidationError({ fields: { limit: "expected a whole number from 1 to 200" } })
    }
    const admin = yield* JobAdmin
    const page = yield* admin.list({
      state: Option.getOrUndefined(args.state),
      queue: Option.getOrUndefined(args.queue),
      limit: args.limit
    })
    for (const job of page.items) yield* Console.log(line(job))
  }))).pipe(Command.withDescription("List jobs, newest first"))

const idArg = Args.text({ name: "id" }).pipe(Args.withDescription("Job id"))

const show = Command.make("show", { id: idArg }, ({ id }) =>
  withCore(Effect.gen(function*() {
    const admin = yield* JobAdmin
    const job = yield* admin.get(yield* decodeArg(JobId, "id", id))
    yield* Console.log(line(job))
    yield* Console.log(`payload: ${JSON.stringify(job.payload)}`)
    for (const run of job.runs) {
      yield* Console.log(
        `  attempt ${run.attempt} on ${run.workerId}: ${run.outcome ?? "running"} ` +
          `(${DateTime.formatIso(run.startedAt)} → ${run.finishedAt === null ? "…" : DateTime.formatIso(run.finishedAt)})`
      )
      if (run.error !== null) yield* Console.log(`    ${run.error.split("\n").join("\n    ")}`)
    }
  }))).pipe(Command.withDescription("A job with its run log"))

const retry = Command.make("retry", { id: idArg }, ({ id }) =>
  withCore(Effect.gen(function*() {
    const admin = yield* JobAdmin
    const job = yield* admin.retry(yield* decodeArg(JobId, "id", id))
    yield* Console.log(`Job ${job.id} is pending again`)
  }))).pipe(Command.withDescription("Run a dead or cancelled job again"))

const cancel = Command.make("cancel", { id: idArg }, ({ id }) =>
  withCore(Effect.gen(function*() {
    const admin = yield* JobAdmin
    const job = yield* admin.cancel(yield* decodeArg(JobId, "id", id))
    yield* Console.log(`Job ${job.id} is cancelled`)
  }))).pipe(Command.withDescription("Cancel a pending job"))

/** `lectern jobs`. */
export const jobsCommand = Command.make("jobs").pipe(
  Command.withDescription("Inspect and steer background jobs"),
  Command.withSubcommands([stats, list, show, retry, cancel])
)
