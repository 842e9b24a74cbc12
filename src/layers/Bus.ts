/**
 * Publish/subscribe of binary payloads between the parts of Lectern, and between
 * processes: Redis pub/sub when `REDIS_URL` is set, in-process otherwise. A
 * subscription is scoped and is live when `subscribe` returns, so a caller can
 * subscribe first and then catch up from storage without a gap. Delivery is
 * at-most-once; consumers that need every message number them (room `seq`).
 */
import { Context, Effect, Layer, Option, Queue, type Scope } from "effect"
import { ServiceUnavailable } from "../schemas/Errors.ts"
import { Redis } from "./Redis.ts"

/** How many messages a slow subscriber may lag before the oldest are dropped. */
export const subscriberCapacity = 4_096

/** The message bus. */
export class Bus extends Context.Tag("lectern/Bus")<Bus, {
  /** Sends `payload` to every current subscriber of `channel`, in every process. */
  readonly publish: (channel: string, payload: Uint8Array) => Effect.Effect<void, ServiceUnavailable>
  /**
   * Subscribes to `channel` for the lifetime of the scope. Messages published
   * after this returns are delivered, in publish order per publisher, into a
   * sliding queue of this subscriber alone (the oldest are dropped when it lags
   * `subscriberCapacity` behind). The queue is the subscriber's own: it may offer
   * into it too, e.g. a wake-up of its own reader, instead of racing a timer
   * against every take.
   */
  readonly subscribe: (
    channel: string
  ) => Effect.Effect<Queue.Queue<Uint8Array>, ServiceUnavailable, Scope.Scope>
}>() {}

/**
 * Local fan-out: the queues of a channel's local subscribers, dropped with its last
 * subscriber. Offered to directly (no hub in between: one hand-off per message).
 */
const makeChannels = Effect.gen(function*() {
  const channels = new Map<string, Set<Queue.Queue<Uint8Array>>>()
  const lock = yield* Effect.makeSemaphore(1)

  /** Delivers to local subscribers only. */
  const deliver = (channel: string, payload: Uint8Array): Effect.Effect<void> =>
    Effect.suspend(() => {
      const subscribers = channels.get(channel)
      if (subscribers === undefined) return Effect.void
      // A full queue refuses the synchronous offer; the effectful one applies its sliding strategy. A queue shut
      // down by its closing subscription (no size) is skipped: offering to it would interrupt the publisher.
      let full: Array<Queue.Queue<Uint8Array>> | undefined
      for (const queue of subscribers) {
        if (!Queue.unsafeOffer(queue, payload) && Option.isSome(queue.unsafeSize())) (full ??= []).push(queue)
      }
      return full === undefined ? Effect.void : Effect.forEach(full, (queue) => Queue.offer(queue, payload), { discard: true })
    })

  /**
   * Joins `channel` locally; `onFirst` runs (under the lock) when the process gains
   * its first subscriber and `onLast` when it loses its last one.
   */
  const join = (
    channel: string,
    onFirst: Effect.Effect<void, ServiceUnavailable>,
    onLast: Effect.Effect<void>
  ) =>
    Effect.gen(function*() {
      const queue = yield* Effect.acquireRelease(Queue.sliding<Uint8Array>(subscriberCapacity), Queue.shutdown)
      yield* Effect.acquireRelease(
        lock.withPermits(1)(Effect.gen(function*() {
          const existing = channels.get(channel)
          if (existing !== undefined) {
            existing.add(queue)
            return
          }
          yield* onFirst
          channels.set(channel, new Set([queue]))
        })),
        () =>
          lock.withPermits(1)(Effect.gen(function*() {
            const subscribers = channels.get(channel)
            if (subscribers === undefined || !subscribers.delete(queue) || subscribers.size > 0) return
            channels.delete(channel)
            yield* onLast
          }))
      )
      return queue
    })

  return { deliver, join } as const
})

/** In-process bus: for a single process (the embedded defaults) and tests. */
export const makeMemory = Effect.map(makeChannels, ({ deliver, join }): Bus["Type"] => ({
  publish: (channel, payload) => deliver(channel, payload),
  subscribe: (channel) => join(channel, Effect.void, Effect.void)
}))

/** Redis pub/sub: one subscriber connection per process, shared by all local subscribers. */
export const makeRedis = Effect.gen(function*() {
  const redis = yield* Redis
  const { deliver, join } = yield* makeChannels
  const subscriber = yield* redis.connection
  const prefix = `${redis.keyPrefix}bus:`

  // ioredis calls back outside Effect: hand messages to a fiber through a sliding queue.
  const incoming = yield* Effect.acquireRelease(
    Queue.sliding<readonly [string, Uint8Array]>(subscriberCapacity * 4),
    Queue.shutdown
  )
  subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => {
    const name = channel.toString("utf8")
    if (name.startsWith(prefix)) incoming.unsafeOffer([name.slice(prefix.length), new Uint8Array(message)])
  })
  yield* Queue.take(incoming).pipe(
    Effect.flatMap(([channel, payload]) => deliver(channel, payload)),
    Effect.forever,
    Effect.forkScoped
  )

  return {
    publish: (channel, payload) =>
      Effect.asVoid(redis.use((client) => client.publish(prefix + channel, Buffer.from(payload)))),
    subscribe: (channel) =>
      join(
        channel,
        Effect.tryPromise({
          try: () => subscriber.subscribe(prefix + channel),
          catch: (cause) => new ServiceUnavailable({ service: "redis", reason: String(cause) })
        }),
        // Best effort: a failed unsubscribe only costs ignored messages until reconnect.
        Effect.tryPromise(() => subscriber.unsubscribe(prefix + channel)).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("redis unsubscribe failed", cause))
        )
      )
  } satisfies Bus["Type"]
})

/** The in-process bus (single process; embedded defaults and tests). */
export const layerMemory: Layer.Layer<Bus> = Layer.scoped(Bus, makeMemory)

/** The Redis bus (several processes). */
export const layerRedis: Layer.Layer<Bus, ServiceUnavailable, Redis> = Layer.scoped(Bus, makeRedis)
