/**
 * `npm run bench:jobs`: Lectern's job queue against graphile-worker 0.17 (default
 * configuration, and with its batched local queue) and pg-boss 10, side by side
 * on the same PostgreSQL (DATABASE_URL; each system gets its own throwaway
 * database, dropped at the end). Measures enqueue (single, batch), processing
 * throughput of no-op jobs at concurrency 10 and 50, and pickup latency p50/p99
 * (enqueue call → handler start, workers idle). Prints a Markdown table.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:jobs [-- --jobs 5000]
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Redacted, Schema, Scope } from "effect"
import { Logger as GraphileLogger, makeWorkerUtils, run as runGraphile } from "graphile-worker"
import pg from "pg"
import PgBoss from "pg-boss"
import { randomBytes } from "node:crypto"
import { performance } from "node:perf_hooks"
import * as JobQueue from "../src/actors/JobQueue.ts"
import * as Database from "../src/layers/Database.ts"
import * as JobWake from "../src/layers/JobWake.ts"
import * as Migrations from "../src/layers/Migrations.ts"
import { Jobs } from "../src/services/Jobs.ts"
import { JobStore } from "../src/services/JobStore.ts"

/** What the harness needs from a queue. */
interface System {
  readonly name: string
  readonly enqueueOne: (payload: Payload) => Promise<void>
  readonly enqueueBatch: (payloads: ReadonlyArray<Payload>) => Promise<void>
  /** Starts workers that call `onJob` for each job; resolves to a stop function. */
  readonly startWorkers: (concurrency: number, onJob: (payload: Payload) => void) => Promise<() => Promise<void>>
  readonly close: () => Promise<void>
}

interface Payload {
  readonly t: number
}

const options = (args: ReadonlyArray<string>) => {
  const get = (flag: string, fallback: number) => {
    const i = args.indexOf(flag)
    const value = i >= 0 ? Number(args[i + 1]) : fallback
    return Number.isFinite(value) && value > 0 ? value : fallback
  }
  return { jobs: get("--jobs", 5000), singles: get("--singles", 1000), samples: get("--samples", 200) }
}

// --- databases ---------------------------------------------------------------

const adminRuntime = (url: string) =>
  ManagedRuntime.make(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))

const withDatabase = async <A>(adminUrl: string, label: string, use: (url: string) => Promise<A>): Promise<A> => {
  const name = `bench_${label}_${randomBytes(3).toString("hex")}`
  const admin = adminRuntime(adminUrl)
  await admin.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE ${name}`)))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  try {
    return await use(url.toString())
  } finally {
    await admin.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
    await admin.dispose()
  }
}

// --- Lectern -------------------------------------------------------------------

const Bench = Schema.Struct({ t: Schema.Number })

const lectern = async (url: string): Promise<System> => {
  const layer = Layer.mergeAll(Jobs.Default, JobStore.Default).pipe(
    Layer.provideMerge(JobWake.layerPostgres),
    Layer.provideMerge(Database.layerPostgres(Redacted.make(url))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(Migrations.run)
  let onJob: (payload: Payload) => void = () => {}
  const job = await runtime.runPromise(
    Effect.flatMap(Jobs, (jobs) => jobs.registerJob("bench.noop", Bench, (p) => Effect.sync(() => onJob(p)), { queue: "bench" }))
  )
  return {
    name: "Lectern",
    enqueueOne: (payload) => runtime.runPromise(Effect.asVoid(job.enqueue(payload))),
    enqueueBatch: (payloads) => runtime.runPromise(Effect.asVoid(job.enqueueMany(payloads.map((payload) => ({ payload }))))),
    startWorkers: async (concurrency, handler) => {
      onJob = handler
      const scope = await runtime.runPromise(Scope.make())
      await runtime.runPromise(Scope.extend(
        JobQueue.make({
          concurrency,
          batchSize: 50,
          pollInterval: Duration.seconds(2),
          queues: ["bench"],
          lease: Duration.seconds(30),
          shutdownTimeout: Duration.seconds(5),
          schedules: false
        }),
        scope
      ))
      return () => runtime.runPromise(Scope.close(scope, Exit.void))
    },
    close: () => runtime.dispose()
  }
}

// --- graphile-worker -------------------------------------------------------------

const graphile = async (url: string, localQueue: boolean): Promise<System> => {
  const logger = new GraphileLogger(() => () => {})
  // One pool we own and end, so dropping the database never meets a stray connection.
  const pool = new pg.Pool({ connectionString: url, max: 52 })
  pool.on("error", () => {})
  pool.on("connect", (client) => client.on("error", () => {}))
  const utils = await makeWorkerUtils({ pgPool: pool, logger })
  await utils.migrate()
  let onJob: (payload: Payload) => void = () => {}
  return {
    name: localQueue ? "graphile-worker (local queue)" : "graphile-worker",
    enqueueOne: async (payload) => {
      await utils.addJob("bench", payload)
    },
    enqueueBatch: async (payloads) => {
      await utils.addJobs(payloads.map((payload) => ({ identifier: "bench", payload })))
    },
    startWorkers: async (concurrency, handler) => {
      onJob = handler
      const runner = await runGraphile({
        pgPool: pool,
        concurrency,
        noHandleSignals: true,
        logger,
        taskList: { bench: async (payload) => onJob(payload as Payload) },
        ...(localQueue
          ? { preset: { worker: { localQueue: { size: concurrency * 5 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }
          : {})
      })
      return () => runner.stop()
    },
    close: async () => {
      await utils.release()
      await pool.end()
    }
  }
}

// --- pg-boss -------------------------------------------------------------------------

const pgBoss = async (url: string): Promise<System> => {
  const boss = new PgBoss({ connectionString: url, max: 12, supervise: false, schedule: false })
  // Errors (e.g. the connection dropped with the database at the end) are not the measurement.
  boss.on("error", () => {})
  await boss.start()
  await boss.createQueue("bench")
  let onJob: (payload: Payload) => void = () => {}
  return {
    name: "pg-boss",
    enqueueOne: async (payload) => {
      await boss.send("bench", payload)
    },
    enqueueBatch: (payloads) => boss.insert(payloads.map((data) => ({ name: "bench", data }))),
    startWorkers: async (concurrency, handler) => {
      onJob = handler
      // Concurrency C: one worker fetching up to C jobs per poll (the 0.5 s minimum), run together.
      const id = await boss.work<Payload>("bench", { batchSize: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        await Promise.all(jobs.map(async (j) => onJob(j.data)))
      })
      return () => boss.offWork({ id })
    },
    close: () => boss.stop({ graceful: false, wait: true })
  }
}

// --- measurements ----------------------------------------------------------------------

interface Figures {
  enqueueOne: number
  enqueueBatch: number
  c10: number
  c50: number
  p50: number
  p99: number
}

const rate = (n: number, ms: number) => (n * 1000) / ms

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

const warmup = 200

const measure = async (system: System, opts: ReturnType<typeof options>): Promise<Figures> => {
  // Untimed: JIT, connection pools and plan caches warm up for every system alike.
  for (let i = 0; i < warmup; i++) await system.enqueueOne({ t: 0 })
  await system.enqueueBatch(Array.from({ length: 1000 }, () => ({ t: 0 })))
  let t = performance.now()
  for (let i = 0; i < opts.singles; i++) await system.enqueueOne({ t: 0 })
  const enqueueOne = rate(opts.singles, performance.now() - t)

  const batches = 10
  t = performance.now()
  for (let b = 0; b < batches; b++) await system.enqueueBatch(Array.from({ length: 1000 }, () => ({ t: 0 })))
  const enqueueBatch = rate(batches * 1000, performance.now() - t)

  // Drain what the enqueue phases left, untimed.
  let drained = 0
  const total = warmup + 1000 + opts.singles + batches * 1000
  let stop = await system.startWorkers(50, () => drained++)
  while (drained < total) await new Promise((r) => setTimeout(r, 50))
  await stop()

  const throughput = async (concurrency: number) => {
    await system.enqueueBatch(Array.from({ length: opts.jobs }, () => ({ t: 0 })))
    let done = 0
    const limitMs = 30_000
    const started = performance.now()
    stop = await system.startWorkers(concurrency, () => done++)
    while (done < opts.jobs && performance.now() - started < limitMs) await new Promise((r) => setTimeout(r, 5))
    const elapsed = performance.now() - started
    const completed = done
    await stop()
    // Whatever is left (a slow system hit the time limit) is drained untimed.
    if (completed < opts.jobs) {
      stop = await system.startWorkers(50, () => done++)
      while (done < opts.jobs) await new Promise((r) => setTimeout(r, 50))
      await stop()
    }
    return rate(completed, elapsed)
  }
  const c10 = await throughput(10)
  const c50 = await throughput(50)

  const latencies: Array<number> = []
  stop = await system.startWorkers(10, (payload) => latencies.push(performance.now() - payload.t))
  await new Promise((r) => setTimeout(r, 1000))
  for (let i = 0; i < opts.samples; i++) {
    await system.enqueueOne({ t: performance.now() })
    await new Promise((r) => setTimeout(r, 20))
  }
  const deadline = performance.now() + 5000
  while (latencies.length < opts.samples && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  await stop()
  const sorted = [...latencies].sort((a, b) => a - b)
  return { enqueueOne, enqueueBatch, c10, c50, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

export default async function bench(args: ReadonlyArray<string>) {
  const adminUrl = process.env.DATABASE_URL
  if (adminUrl === undefined || adminUrl === "") {
    console.error("bench:jobs needs DATABASE_URL (a PostgreSQL it may create and drop databases on)")
    process.exit(2)
  }
  const opts = options(args)
  console.log(`jobs benchmark: ${opts.singles} single enqueues, 10×1000 batch, ${opts.jobs} no-op jobs per throughput run, ${opts.samples} latency samples`)
  const results: Array<readonly [string, Figures]> = []
  const systems: ReadonlyArray<readonly [string, (url: string) => Promise<System>]> = [
    ["lectern", lectern],
    ["graphile", (url) => graphile(url, false)],
    ["graphile_lq", (url) => graphile(url, true)],
    ["pgboss", pgBoss]
  ]
  for (const [label, make] of systems) {
    await withDatabase(adminUrl, label, async (url) => {
      const system = await make(url)
      try {
        const f = await measure(system, opts)
        results.push([system.name, f])
        console.log(`  ${system.name}: done`)
      } finally {
        await system.close()
      }
    })
  }
  const baseline = results.find(([name]) => name === "graphile-worker")?.[1]
  const ratio = (n: number, b: number | undefined) => (b === undefined ? "" : ` (${fmt(n / b, 2)}×)`)
  console.log("\n| system | enqueue single (jobs/s) | enqueue batch (jobs/s) | throughput c=10 (jobs/s) | throughput c=50 (jobs/s) | pickup p50 (ms) | pickup p99 (ms) |")
  console.log("|---|---|---|---|---|---|---|")
  for (const [name, f] of results) {
    console.log(
      `| ${name} | ${fmt(f.enqueueOne)}${ratio(f.enqueueOne, baseline?.enqueueOne)} | ${fmt(f.enqueueBatch)}${ratio(f.enqueueBatch, baseline?.enqueueBatch)} | ` +
        `${fmt(f.c10)}${ratio(f.c10, baseline?.c10)} | ${fmt(f.c50)}${ratio(f.c50, baseline?.c50)} | ${fmt(f.p50, 1)} | ${fmt(f.p99, 1)} |`
    )
  }
  console.log("\nRatios are against graphile-worker in its default configuration (same concurrency).")
}
