/**
 * The moving parts of a worker pool, shared by the long-running `JobQueue`
 * actor and `runOnce`: claiming into a bounded local buffer, dispatching to at
 * most `concurrency` job fibers, the timeout watchdog, batched recording of
 * outcomes, lease renewal and rescue, and handing back unstarted jobs.
 */
import { Cause, Chunk, Clock, Duration, Effect, Fiber, FiberSet, Metric, Option, Queue, Random, Schedule } from "effect"
import { hostname } from "node:os"
import { JobWake } from "../layers/JobWake.ts"
import type { JobId } from "../schemas/Jobs.ts"
import { type ClaimedJob, type FinishedJob, JobStore } from "../services/JobStore.ts"
import { Jobs } from "../services/Jobs.ts"
import { JobRunner } from "./JobRunner.ts"

/** How a pool runs. */
export interface WorkerOptions {
  readonly concurrency: number
  /** Most jobs claimed by one query, and the most held claimed-but-not-started (the local buffer). */
  readonly batchSize: number
  /** Longest sleep between claims when no signal arrives. */
  readonly pollInterval: Duration.Duration
  /** Queues served; empty means all (those of registered job types, and any with pending jobs). */
  readonly queues: ReadonlyArray<string>
  /** How long a claim holds a job without renewal before others may rescue it. */
  readonly lease: Duration.Duration
  /** How long shutdown waits for running jobs before releasing them. */
  readonly shutdownTimeout: Duration.Duration
  /** Run the cron schedules in this pool. */
  readonly schedules: boolean
}

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

/** A running attempt, as the watchdog sees it. */
interface Attempt {
  readonly deadline: number
  timedOut: boolean
  fiber: Fiber.RuntimeFiber<void> | undefined
}

const restartSchedule = Schedule.exponential("200 millis").pipe(Schedule.either(Schedule.spaced("10 seconds")))
const flushRetry = Schedule.exponential("100 millis").pipe(Schedule.either(Schedule.spaced("5 seconds")))
const tokens = (n: number) => Array.from({ length: Math.max(0, n) }, () => undefined)

const makeWorkerId = Effect.map(
  Random.nextIntBetween(0, 0xffffff),
  (n) => `${hostname()}:${process.pid}:${n.toString(16).padStart(6, "0")}`
)

/** A pool's parts; the caller decides which loops to run (see `JobQueue.make` and `runOnce`). */
export const makePool = (options: WorkerOptions) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const wake = yield* JobWake
    const jobs = yield* Jobs
    const workerId = yield* makeWorkerId
    const runner = yield* JobRunner.make(workerId)
    // Tokens: one per free run slot, and one per free place in the local buffer of claimed jobs.
    const slots = yield* Queue.bounded<void>(options.concurrency)
    yield* Queue.offerAll(slots, tokens(options.concurrency))
    const room = yield* Queue.bounded<void>(options.batchSize)
    yield* Queue.offerAll(room, tokens(options.batchSize))
    // Claimed, not started yet: claims run ahead of execution so a claim's round trip overlaps with work.
    const ready = yield* Queue.bounded<ClaimedJob>(options.batchSize)
    // At most one outcome per held job is ever waiting, so offers never block.
    const completions = yield* Queue.bounded<FinishedJob>(options.concurrency + options.batchSize)
    // Every job this worker holds a lease on (buffered or running), for lease renewal.
    const held = new Map<JobId, ClaimedJob>()
    // Running attempts with their deadlines, for the watchdog.
    const running = new Map<JobId, Attempt>()
    const fibers = yield* FiberSet.make<void>()
    const counts = { claimed: 0, recorded: 0, restarts: 0, flushing: false }

    // "All queues": those of registered job types, plus any seen with pending jobs or in a wake-up.
    const discovered = new Set<string>()
    const served = options.queues.length > 0
      ? Effect.succeed(options.queues)
      : Effect.map(jobs.registered, (registered) => [...new Set([...registered.map((j) => j.options.queue), ...discovered])])
    const discover = (queues: Iterable<string>) => {
      for (const queue of queues) discovered.add(queue)
    }
    const refreshQueues = options.queues.length > 0
      ? Effect.void
      : Effect.flatMap(store.pendingQueues, (queues) => Effect.sync(() => discover(queues)))

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

    const runJob = (job: ClaimedJob, attempt: Attempt) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(restore(runner.execute(job)))
          running.delete(job.id)
          yield* Queue.offer(completions, yield* runner.outcome(job, exit, attempt.timedOut))
          held.delete(job.id)
          yield* Queue.offer(slots, undefined)
        })
      )

    /** Interrupts attempts past their job's timeout (checked every 50 ms, so at most that late). */
    const watchdog = supervise(
      "watchdog",
      Effect.repeat(
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          for (const attempt of running.values()) {
            if (attempt.timedOut || now < attempt.deadline || attempt.fiber === undefined) continue
            attempt.timedOut = true
            yield* Fiber.interruptFork(attempt.fiber)
          }
        }),
        Schedule.spaced("50 millis")
      )
    )

    /**
     * Claims as many jobs as the local buffer has room for, once at least half of
     * it is free: under load a claim brings many jobs for one round trip.
     */
    const claimRound = Effect.gen(function*() {
      const asked = (yield* Queue.takeBetween(room, Math.ceil(options.batchSize / 2), options.batchSize)).length
      const queues = yield* served
      const claimed = yield* (queues.length === 0 ? Effect.succeed([]) : store.claim(workerId, queues, asked, options.lease)).pipe(
        Effect.onError(() => Queue.offerAll(room, tokens(asked)))
      )
      yield* Queue.offerAll(room, tokens(asked - claimed.length))
      counts.claimed += claimed.length
      for (const job of claimed) held.set(job.id, job)
      yield* Queue.offerAll(ready, claimed)
      return { asked, claimed: claimed.length }
    })

    /** Starts buffered jobs as run slots free up. A job taken from the buffer is always started. */
    const dispatcher = Effect.forever(Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        yield* restore(Queue.take(slots))
        const job = yield* restore(Queue.take(ready)).pipe(Effect.onInterrupt(() => Queue.offer(slots, undefined)))
        yield* Queue.offer(room, undefined)
        const attempt: Attempt = { deadline: (yield* Clock.currentTimeMillis) + job.timeoutMs, timedOut: false, fiber: undefined }
        running.set(job.id, attempt)
        // A fiber forked here would inherit this uninterruptible region: handlers must stay interruptible.
        attempt.fiber = yield* FiberSet.run(fibers, Effect.interruptible(runJob(job, attempt)))
      })
    ))

    /** Hands back the buffered jobs that never started (shutdown). */
    const unclaimBuffered = Effect.gen(function*() {
      const buffered = Chunk.toReadonlyArray(yield* Queue.takeAll(ready))
      if (buffered.length === 0) return
      for (const job of buffered) held.delete(job.id)
      const queues = yield* store.unclaim(workerId, buffered.map((j) => j.id)).pipe(
        Effect.tapError((e) => Effect.logWarning("could not hand back buffered jobs; their leases will expire", e)),
        Effect.orElseSucceed(() => [])
      )
      yield* wake.ready(queues)
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

    /** Completes once nothing is buffered or running. */
    const idle = Effect.repeat(
      Effect.sync(() => held.size > 0),
      { schedule: Schedule.spaced("5 millis"), while: (busy) => busy }
    )

    const heartbeat = supervise(
      "heartbeat",
      Effect.repeat(
        Effect.suspend(() => store.extend(workerId, [...held.keys()], options.lease)),
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
      running: held.size,
      claimed: counts.claimed,
      recorded: counts.recorded,
      restarts: counts.restarts
    }))

    return {
      workerId,
      store,
      wake,
      served,
      discover,
      refreshQueues,
      fibers,
      held,
      claimRound,
      dispatcher,
      unclaimBuffered,
      flusher,
      watchdog,
      flushed,
      idle,
      heartbeat,
      rescue,
      supervise,
      stats
    }
  })

