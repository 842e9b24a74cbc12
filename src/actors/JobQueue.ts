/**
 * The worker pool actor. One claimer fiber keeps up to `concurrency` job fibers
 * busy, claiming in batches when woken by a `JobWake` signal, when the next job
 * falls due, or on the poll interval; a flusher fiber records outcomes in
 * batches; leases are renewed while jobs run and rescued when a worker dies;
 * cron schedules tick. Each loop is supervised (restarted with backoff, logged
 * and counted). Closing the scope stops claiming, lets running jobs finish up
 * to a deadline, interrupts and releases the rest, and records every outcome.
 */
import { Cause, Chunk, Context, Duration, Effect, Fiber, FiberSet, Layer, Metric, Option, Queue, Random, Schedule, type Scope, Stream } from "effect"
import { hostname } from "node:os"
import type { JobsConfig } from "../layers/AppConfig.ts"
import { JobWake } from "../layers/JobWake.ts"
import type { JobId } from "../schemas/Jobs.ts"
import { type ClaimedJob, type FinishedJob, JobStore } from "../services/JobStore.ts"
import { Jobs } from "../services/Jobs.ts"
import { JobRunner } from "./JobRunner.ts"
import { runSchedules } from "./JobSchedules.ts"

/** How a pool runs. */
export interface WorkerOptions {
  readonly concurrency: number
  /** Most jobs claimed by one query. */
  readonly batchSize: number
  /** Longest sleep between claims when no signal arrives. */
  readonly pollInterval: Duration.Duration
  /** Queues served; empty means all. */
  readonly queues: ReadonlyArray<string>
  /** How long a claim holds a job without renewal before others may rescue it. */
  readonly lease: Duration.Duration
  /** How long shutdown waits for running jobs before releasing them. */
  readonly shutdownTimeout: Duration.Duration
  /** Run the cron schedules in this pool. */
  readonly schedules: boolean
}

/** Pool options from configuration, with command-line overrides. */
export const optionsFrom = (config: JobsConfig, overrides: Partial<WorkerOptions> = {}): WorkerOptions => ({
  concurrency: config.concurrency,
  batchSize: config.batchSize,
  pollInterval: config.pollInterval,
  queues: [],
  lease: config.lease,
  shutdownTimeout: config.shutdownTimeout,
  schedules: true,
  ...overrides
})

/** What a pool has done so far. */
export interface WorkerStats {
  readonly workerId: string
  readonly running: number
  readonly claimed: number
  readonly recorded: number
  readonly restarts: number
}

/** Restarts of the pool's loops after a failure or defect. */
export const poolRestarts = Metric.counter("lectern_job_pool_restarts_total", {
  description: "Job pool loops restarted after a failure or defect",
  incremental: true
})

/** The running pool of this process. */
export class JobQueue extends Context.Tag("lectern/JobQueue")<JobQueue, {
  readonly workerId: string
  readonly stats: Effect.Effect<WorkerStats>
}>() {}

const restartSchedule = Schedule.exponential("200 millis").pipe(Schedule.either(Schedule.spaced("10 seconds")))
const flushRetry = Schedule.exponential("100 millis").pipe(Schedule.either(Schedule.spaced("5 seconds")))
const tokens = (n: number) => Array.from({ length: Math.max(0, n) }, () => undefined)

const makeWorkerId = Effect.map(
  Random.nextIntBetween(0, 0xffffff),
  (n) => `${hostname()}:${process.pid}:${n.toString(16).padStart(6, "0")}`
)

/** The parts shared by the long-running pool and `runOnce`. */
const makePool = (options: WorkerOptions) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const wake = yield* JobWake
    const workerId = yield* makeWorkerId
    const runner = yield* JobRunner.make(workerId)
    // A token per free slot: the claimer takes tokens, finished jobs return them.
    const slots = yield* Queue.bounded<void>(options.concurrency)
    yield* Queue.offerAll(slots, tokens(options.concurrency))
    // At most one outcome per running job is ever waiting, so offers never block.
    const completions = yield* Queue.bounded<FinishedJob>(options.concurrency * 2)
    const running = new Map<JobId, ClaimedJob>()
    const fibers = yield* FiberSet.make<void>()
    const counts = { claimed: 0, recorded: 0, restarts: 0, flushing: false }

    const supervise = <R>(loop: string, effect: Effect.Effect<unknown, unknown, R>) =>
      effect.pipe(
        Effect.sandbox,
        Effect.tapError((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.all([
            Effect.sync(() => counts.restarts++),
            Metric.increment(Metric.tagged(poolRestarts, "loop", loop)),
            Effect.logError(`job pool ${loop} loop failed; restarting`, cause)
          ])
        ),
        Effect.retry({ schedule: restartSchedule, while: (cause) => !Cause.isInterruptedOnly(cause) }),
        Effect.annotateLogs({ worker_id: workerId, loop })
      )

    const runJob = (job: ClaimedJob) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(restore(runner.execute(job)))
          yield* Queue.offer(completions, yield* runner.outcome(job, exit))
          running.delete(job.id)
          yield* Queue.offer(slots, undefined)
        })
      )

    /** Claims as many jobs as there are free slots (waiting for one), up to the batch size. */
    const claimRound = Effect.gen(function*() {
      yield* Queue.take(slots)
      const extra = yield* Queue.takeUpTo(slots, options.batchSize - 1)
      const asked = 1 + extra.length
      const claimed = yield* store.claim(workerId, options.queues, asked, options.lease).pipe(
        Effect.onError(() => Queue.offerAll(slots, tokens(asked)))
      )
      yield* Queue.offerAll(slots, tokens(asked - claimed.length))
      counts.claimed += claimed.length
      for (const job of claimed) {
        running.set(job.id, job)
        yield* FiberSet.run(fibers, runJob(job))
      }
      return { asked, claimed: claimed.length }
    })

    const flushOnce = Effect.gen(function*() {
      const batch = Chunk.toReadonlyArray(yield* Queue.takeBetween(completions, 1, 500))
      counts.flushing = true
      yield* runner.record(batch).pipe(
        Effect.tapError((e) => Effect.logWarning("recording job outcomes failed; retrying", e)),
        Effect.retry(flushRetry),
        Effect.ensuring(Effect.sync(() => {
          counts.flushing = false
        }))
      )
      counts.recorded += batch.length
    })
    const flusher = supervise("flusher", Effect.forever(flushOnce))

    /** Completes once every outcome produced so far is recorded. */
    const flushed = Effect.repeat(
      Effect.sync(() => counts.flushing || Option.getOrElse(completions.unsafeSize(), () => 0) > 0),
      { schedule: Schedule.spaced("5 millis"), while: (busy) => busy }
    )

    const heartbeat = supervise(
      "heartbeat",
      Effect.repeat(
        Effect.suspend(() => store.extend(workerId, [...running.keys()], options.lease)),
        Schedule.spaced(Duration.millis(Math.max(100, Duration.toMillis(options.lease) / 3)))
      )
    )

    const rescue = Effect.gen(function*() {
      const rescued = yield* store.rescue(500)
      if (rescued.length === 0) return
      yield* Effect.logWarning("rescued jobs whose worker stopped renewing its lease").pipe(
        Effect.annotateLogs({ rescued: rescued.length, dead: rescued.filter((r) => r.state === "dead").length })
      )
      yield* wake.ready(rescued.filter((r) => r.state === "pending").map((r) => r.queue))
    })

    const stats = Effect.sync((): WorkerStats => ({
      workerId,
      running: running.size,
      claimed: counts.claimed,
      recorded: counts.recorded,
      restarts: counts.restarts
    }))

    return { workerId, store, wake, fibers, running, claimRound, flusher, flushed, heartbeat, rescue, supervise, stats }
  })

/**
 * Starts a pool in the current scope. Closing the scope shuts it down
 * gracefully: stop claiming, let running jobs finish until `shutdownTimeout`,
 * interrupt and release the rest, record every outcome.
 */
export const make = (options: WorkerOptions): Effect.Effect<JobQueue["Type"], never, Scope.Scope | JobStore | Jobs | JobWake> =>
  Effect.gen(function*() {
    const pool = yield* makePool(options)
    const wakeups = yield* Queue.sliding<void>(1)
    const serves = (queue: string) => options.queues.length === 0 || options.queues.includes(queue)

    const idleWait = Effect.gen(function*() {
      const due = yield* pool.store.nextDue(options.queues)
      const wait = Option.match(due, {
        onNone: () => options.pollInterval,
        // A due job this claim skipped is locked by another claim for a moment: do not spin on it.
        onSome: (d) => Duration.max(Duration.min(d, options.pollInterval), Duration.millis(20))
      })
      yield* Effect.timeoutOption(Queue.take(wakeups), wait)
    })
    const claimer = Effect.forever(
      Effect.flatMap(pool.claimRound, (round) => (round.claimed < round.asked ? idleWait : Effect.void))
    )
    const listener = Effect.scoped(
      Effect.flatMap(pool.wake.listen, (signals) =>
        Stream.runForEach(signals, (queue) => (serves(queue) ? Queue.offer(wakeups, undefined) : Effect.void)))
    ).pipe(Effect.zipRight(Effect.never))
    const rescuer = Effect.repeat(
      pool.rescue,
      Schedule.spaced(Duration.millis(Math.max(200, Duration.toMillis(options.lease) / 2)))
    )

    // Recording and lease renewal outlive claiming: they stop last, after the drain.
    const recording = yield* Effect.forkScoped(Effect.all([pool.flusher, pool.heartbeat], { concurrency: 2 }))
    const claiming = yield* Effect.forkScoped(Effect.all([
      pool.supervise("claimer", claimer),
      pool.supervise("listener", listener),
      pool.supervise("rescue", rescuer),
      options.schedules ? pool.supervise("schedules", runSchedules) : Effect.void
    ], { concurrency: "unbounded" }))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(claiming)
        const runningAtStop = pool.running.size
        // Finalizers are uninterruptible: the waits must be made interruptible for their deadlines to bite.
        const drained = yield* Effect.timeoutOption(Effect.interruptible(FiberSet.awaitEmpty(pool.fibers)), options.shutdownTimeout)
        const released = pool.running.size
        yield* FiberSet.clear(pool.fibers)
        yield* Effect.timeoutOption(Effect.interruptible(pool.flushed), Duration.seconds(5))
        yield* Fiber.interrupt(recording)
        yield* Effect.logInfo("job worker stopped").pipe(
          Effect.annotateLogs({
            worker_id: pool.workerId,
            running_at_stop: runningAtStop,
            released: Option.isSome(drained) ? 0 : released
          })
        )
      })
    )
    yield* Effect.logInfo("job worker started").pipe(
      Effect.annotateLogs({
        worker_id: pool.workerId,
        concurrency: options.concurrency,
        queues: options.queues.length === 0 ? "*" : options.queues.join(",")
      })
    )
    return { workerId: pool.workerId, stats: pool.stats }
  })

/** The pool as a layer: runs while the layer lives. */
export const layer = (options: WorkerOptions): Layer.Layer<JobQueue, never, JobStore | Jobs | JobWake> =>
  Layer.scoped(JobQueue, make(options))

/**
 * Processes every job due now (after rescuing expired leases), then returns once
 * none is due and none is running: `lectern worker --once`.
 */
export const runOnce = (options: WorkerOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const pool = yield* makePool(options)
    const recording = yield* Effect.forkScoped(Effect.all([pool.flusher, pool.heartbeat], { concurrency: 2 }))
    yield* pool.rescue
    while (true) {
      const round = yield* pool.claimRound
      if (round.claimed < round.asked) {
        // Drained for now: let running jobs finish (immediate retries become due), then look once more.
        yield* FiberSet.awaitEmpty(pool.fibers)
        yield* pool.flushed
        if (round.claimed === 0) break
      }
    }
    yield* Fiber.interrupt(recording)
    return yield* pool.stats
  }))
