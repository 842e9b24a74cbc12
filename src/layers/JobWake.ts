/**
 * Wake-up signals for job workers, carrying a queue name. On Postgres they are
 * LISTEN/NOTIFY on `lectern_jobs`: inserts notify from a statement trigger, so a
 * job enqueued inside a transaction wakes workers only when it commits. Embedded
 * PGlite cannot deliver notifications through its socket, so there the signal is
 * the Bus (workers live in the same process; a worker's claim waits behind an
 * open transaction, so an early signal still finds the job once it commits).
 * Signals are hints: workers also poll, so a lost one only delays a job.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Queue, Schedule, type Scope, Stream } from "effect"
import type { ServiceUnavailable } from "../schemas/Errors.ts"
import { AppConfig } from "./AppConfig.ts"
import { Bus } from "./Bus.ts"

/** The Postgres channel (and Bus channel) of job wake-ups. */
export const wakeChannel = "lectern_jobs"

/** Wake-up signals for workers. */
export class JobWake extends Context.Tag("lectern/JobWake")<JobWake, {
  /** Jobs were inserted into `queues` (no-op on Postgres, where the insert trigger notifies). */
  readonly inserted: (queues: Iterable<string>) => Effect.Effect<void>
  /** Jobs in `queues` became ready through an update (retry, rescue, release). */
  readonly ready: (queues: Iterable<string>) => Effect.Effect<void>
  /** Queue names as signals arrive, for the lifetime of the scope. */
  readonly listen: Effect.Effect<Stream.Stream<string>, ServiceUnavailable, Scope.Scope>
}>() {}

const distinct = (queues: Iterable<string>) => [...new Set(queues)]

// A signal that cannot be sent only delays pickup until the next poll: log, never fail the enqueue.
const bestEffort = <E, R>(effect: Effect.Effect<void, E, R>) =>
  Effect.catchAllCause(effect, (cause) => Effect.logWarning("job wake-up signal not sent; workers will poll", cause))

const retrySchedule = Schedule.exponential("500 millis").pipe(Schedule.either(Schedule.spaced("15 seconds")))

/** LISTEN/NOTIFY on PostgreSQL. */
export const makePostgres = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = yield* PgClient.PgClient
  const ready = (queues: Iterable<string>) => {
    const list = distinct(queues)
    return list.length === 0
      ? Effect.void
      : bestEffort(Effect.asVoid(sql`SELECT pg_notify(${wakeChannel}, q) FROM unnest(${list}::text[]) AS q`))
  }
  const listen = Effect.gen(function*() {
    // LISTEN runs (and is re-established after failures) in the background; polling covers any gap.
    const queue = yield* Effect.acquireRelease(Queue.sliding<string>(1024), Queue.shutdown)
    yield* pg.listen(wakeChannel).pipe(
      Stream.runForEach((name) => Queue.offer(queue, name)),
      Effect.tapErrorCause((cause) => Effect.logWarning("LISTEN lectern_jobs failed; retrying (workers poll meanwhile)", cause)),
      Effect.retry({ schedule: retrySchedule }),
      Effect.forkScoped
    )
    return Stream.fromQueue(queue)
  })
  return { inserted: () => Effect.void, ready, listen } satisfies JobWake["Type"]
})

/** Signals over the Bus (embedded database; workers in this process). */
export const makeBus = Effect.gen(function*() {
  const bus = yield* Bus
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  const signal = (queues: Iterable<string>) =>
    Effect.forEach(distinct(queues), (queue) => bestEffort(bus.publish(wakeChannel, encoder.encode(queue))), {
      discard: true
    })
  const listen = Effect.gen(function*() {
    const subscription = yield* bus.subscribe(wakeChannel)
    return Stream.fromQueue(subscription).pipe(Stream.map((bytes) => decoder.decode(bytes)))
  })
  return { inserted: signal, ready: signal, listen } satisfies JobWake["Type"]
})

/** LISTEN/NOTIFY (PostgreSQL). */
export const layerPostgres: Layer.Layer<JobWake, never, SqlClient.SqlClient | PgClient.PgClient> = Layer.effect(
  JobWake,
  makePostgres
)

/** The Bus (embedded PGlite). */
export const layerBus: Layer.Layer<JobWake, never, Bus> = Layer.effect(JobWake, makeBus)

/** Chosen by the configured database. */
export const layer: Layer.Layer<JobWake, never, AppConfig | Bus | SqlClient.SqlClient | PgClient.PgClient> = Layer
  .unwrapEffect(Effect.map(AppConfig, (config): Layer.Layer<JobWake, never, Bus | SqlClient.SqlClient | PgClient.PgClient> =>
    config.database._tag === "Postgres" ? layerPostgres : layerBus))
