/**
 * The worker pool actor. One pool per process keeps up to `concurrency` job
 * fibers busy: two claimers fill a local buffer in batches, woken by a `JobWake`
 * signal, when the next job falls due, or on the poll interval; outcomes are
 * recorded in batches; leases are renewed while jobs run and rescued when a
 * worker dies; cron schedules tick. Each loop is supervised (restarted with
 * backoff, logged and counted). Closing the scope stops claiming, hands back the
 * buffer, lets running jobs finish up to a deadline, interrupts and releases the
 * rest, and records every outcome.
 */
import { Context, Duration, Effect, Fiber, FiberSet, Layer, Option, Queue, Schedule, type Scope, Stream } from "effect"
import type { JobsConfig } from "../layers/AppConfig.ts"
import { JobWake } from "../layers/JobWake.ts"
import { JobStore } from "../services/JobStore.ts"
import { Jobs } from "../services/Jobs.ts"
import { makePool, type WorkerOptions, type WorkerStats } from "./JobPool.ts"
import { runSchedules } from "./JobSchedules.ts"

export type { WorkerOptions, WorkerStats } from "./JobPool.ts"
export { poolRestarts } from "./JobPool.ts"

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

/** The running pool of this process. */
export class JobQueue extends Context.Tag("lectern/JobQueue")<JobQueue, {
  readonly workerId: string
  readonly stats: Effect.Effect<WorkerStats>
}>() {}

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
      yield* pool.refreshQueues
      const queues = yield* pool.served
      const due = queues.length === 0 ? Option.none() : yield* pool.store.nextDue(queues)
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
        Stream.runForEach(signals, (queue) => {
          if (!serves(queue)) return Effect.void
          pool.discover([queue])
          return Queue.offer(wakeups, undefined)
        }))
    ).pipe(Effect.zipRight(Effect.never))
    const rescuer = Effect.repeat(
      pool.rescue,
      Schedule.spaced(Duration.millis(Math.max(200, Duration.toMillis(options.lease) / 2)))
    )

    // Recording and lease renewal outlive claiming: they stop last, after the drain.
    const recording = yield* Effect.forkScoped(
      Effect.all([pool.flusher, pool.heartbeat, pool.watchdog], { concurrency: "unbounded" })
    )
    const claiming = yield* Effect.forkScoped(Effect.all([
      // Two claimers share the buffer's room: under load one claim's round trip overlaps the other's.
      pool.supervise("claimer", claimer),
      pool.supervise("claimer", claimer),
      pool.supervise("dispatcher", pool.dispatcher),
      pool.supervise("listener", listener),
      pool.supervise("rescue", rescuer),
      options.schedules ? pool.supervise("schedules", runSchedules) : Effect.void
    ], { concurrency: "unbounded" }))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(claiming)
        yield* pool.unclaimBuffered
        const runningAtStop = pool.held.size
        // Finalizers are uninterruptible: the waits must be made interruptible for their deadlines to bite.
        const drained = yield* Effect.timeoutOption(Effect.interruptible(FiberSet.awaitEmpty(pool.fibers)), options.shutdownTimeout)
        const released = pool.held.size
        yield* FiberSet.clear(pool.fibers)
        yield* Effect.timeoutOption(Effect.interruptible(pool.flushed), Duration.seconds(2))
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
    const recording = yield* Effect.forkScoped(
      Effect.all([pool.flusher, pool.heartbeat, pool.watchdog], { concurrency: "unbounded" })
    )
    const dispatching = yield* Effect.forkScoped(pool.supervise("dispatcher", pool.dispatcher))
    yield* pool.rescue
    yield* pool.refreshQueues
    while (true) {
      const round = yield* pool.claimRound
      if (round.claimed < round.asked) {
        // Drained for now: let held jobs finish (immediate retries become due), then look once more.
        yield* pool.idle
        yield* pool.flushed
        if (round.claimed === 0) break
      }
    }
    yield* Fiber.interrupt(dispatching)
    yield* Fiber.interrupt(recording)
    return yield* pool.stats
  }))

