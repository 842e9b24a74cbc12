/**
 * The Redis presence store across versions: entries written by an older process
 * (before presence carried `displayName`) are still listed and reaped, so a
 * rolling upgrade never hides who is in a room. Runs with `REDIS_URL` only.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { layerRedis, PresenceStore } from "../../src/layers/PresenceStore.ts"
import { Redis } from "../../src/layers/Redis.ts"
import { realRedisUrl } from "../support/TestStack.ts"

describe("PresenceStore (redis)", () => {
  it.scopedLive.skipIf(Option.isNone(realRedisUrl))("lists entries of older processes, which have no displayName, next to new ones", () =>
    Effect.gen(function*() {
      const url = Option.getOrThrow(realRedisUrl)
      const keyPrefix = `lectern_t_presence_${randomBytes(4).toString("hex")}:`
      const context = yield* Layer.build(Layer.provideMerge(layerRedis, Redis.layer({ url: Redacted.make(url), keyPrefix })))
      const store = Context.get(context, PresenceStore)
      const redis = Context.get(context, Redis)
      const room = "lesson:old-and-new"
      const ttl = Duration.seconds(30)
      yield* store.put(room, { connectionId: "new:1", userId: "u1", displayName: "Ann", role: "student", status: "online", since: 1 }, ttl)
      // What a process of the previous release wrote: the same keys, an entry without displayName.
      const old = { connectionId: "old:1", userId: "u2", role: "tutor", status: "away", since: 2 }
      yield* redis.use((c) =>
        c.multi()
          .hset(`${keyPrefix}presence:${room}:data`, old.connectionId, JSON.stringify(old))
          .zadd(`${keyPrefix}presence:${room}:exp`, Date.now() + 30_000, old.connectionId)
          .exec()
      )
      const listed = yield* store.list(room)
      expect([...listed].sort((a, b) => a.since - b.since)).toEqual([
        { connectionId: "new:1", userId: "u1", displayName: "Ann", role: "student", status: "online", since: 1 },
        old
      ])
      yield* redis.use((c) => c.del(`${keyPrefix}presence:${room}:data`, `${keyPrefix}presence:${room}:exp`))
    }))
})
