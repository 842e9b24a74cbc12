/**
 * Who is in which room, shared by every process: entries keyed by connection
 * with an expiry, refreshed by heartbeats, so the users of a process that died
 * without cleaning up expire on their own (ghost removal). Redis (a sorted set of
 * expiry times plus a hash of entries per room) when `REDIS_URL` is set, in
 * memory otherwise. Time comes from `Clock`.
 */
import { Clock, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { ServiceUnavailable } from "../schemas/Errors.ts"
import { Redis } from "./Redis.ts"

/** One connection present in a room. */
export const PresenceEntry = Schema.Struct({
  connectionId: Schema.String,
  userId: Schema.String,
  /**
   * The user's display name when they joined (renames show on their next subscribe). Optional: entries written
   * to Redis by an older process during a rolling upgrade have none.
   */
  displayName: Schema.optional(Schema.String),
  role: Schema.String,
  status: Schema.Literal("online", "away"),
  /** Epoch ms of joining. */
  since: Schema.Number
})
/** @see PresenceEntry */
export type PresenceEntry = typeof PresenceEntry.Type

const decodeEntry = Schema.decodeUnknownOption(Schema.parseJson(PresenceEntry))

/** Shared presence. */
export class PresenceStore extends Context.Tag("lectern/PresenceStore")<PresenceStore, {
  /** Adds or replaces an entry, live for `ttl`. */
  readonly put: (room: string, entry: PresenceEntry, ttl: Duration.Duration) => Effect.Effect<void, ServiceUnavailable>
  /** Extends the life of these connections' entries by `ttl` (heartbeat). */
  readonly touch: (room: string, connectionIds: ReadonlyArray<string>, ttl: Duration.Duration) => Effect.Effect<void, ServiceUnavailable>
  /** Removes an entry; true when it was there. */
  readonly remove: (room: string, connectionId: string) => Effect.Effect<boolean, ServiceUnavailable>
  /** Live entries of a room. */
  readonly list: (room: string) => Effect.Effect<ReadonlyArray<PresenceEntry>, ServiceUnavailable>
  /** Removes expired entries and returns them; each is returned to exactly one caller, across processes. */
  readonly reap: (room: string) => Effect.Effect<ReadonlyArray<PresenceEntry>, ServiceUnavailable>
}>() {}

/** In-process presence (one process; embedded defaults and tests). */
export const makeMemory = Effect.sync((): PresenceStore["Type"] => {
  const rooms = new Map<string, Map<string, { entry: PresenceEntry; expiresAt: number }>>()
  const room = (name: string) => {
    const existing = rooms.get(name)
    if (existing !== undefined) return existing
    const created = new Map<string, { entry: PresenceEntry; expiresAt: number }>()
    rooms.set(name, created)
    return created
  }
  return {
    put: (name, entry, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => void room(name).set(entry.connectionId, { entry, expiresAt: now + Duration.toMillis(ttl) })),
    touch: (name, ids, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entries = room(name)
        for (const id of ids) {
          const found = entries.get(id)
          if (found !== undefined) found.expiresAt = now + Duration.toMillis(ttl)
        }
      }),
    remove: (name, id) => Effect.sync(() => rooms.get(name)?.delete(id) ?? false),
    list: (name) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        [...(rooms.get(name)?.values() ?? [])].filter((e) => e.expiresAt > now).map((e) => e.entry)),
    reap: (name) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entries = rooms.get(name)
        if (entries === undefined) return []
        const expired = [...entries.values()].filter((e) => e.expiresAt <= now)
        for (const e of expired) entries.delete(e.entry.connectionId)
        if (entries.size === 0) rooms.delete(name)
        return expired.map((e) => e.entry)
      })
  }
})

// Atomically takes the expired members of a room (so one process reports each ghost).
const reapScript = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local v = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  if v then table.insert(out, v) end
end
return out`

/** Redis presence, shared by every process of a deployment. */
export const makeRedis = Effect.gen(function*() {
  const redis = yield* Redis
  const keys = (room: string) => [`${redis.keyPrefix}presence:${room}:exp`, `${redis.keyPrefix}presence:${room}:data`] as const
  // Room keys outlive their last entry a while, then vanish on their own.
  const keyTtl = (ttl: Duration.Duration) => Math.ceil(Duration.toMillis(ttl) * 4)
  const decodeAll = (values: ReadonlyArray<string | null>) =>
    values.flatMap((v) => (v === null ? [] : Option.toArray(decodeEntry(v))))

  return {
    put: (room, entry, ttl) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const [exp, data] = keys(room)
        return redis.use((c) =>
          c.multi()
            .hset(data, entry.connectionId, JSON.stringify(entry))
            .zadd(exp, now + Duration.toMillis(ttl), entry.connectionId)
            .pexpire(exp, keyTtl(ttl)).pexpire(data, keyTtl(ttl))
            .exec()
        )
      }).pipe(Effect.asVoid),
    touch: (room, ids, ttl) =>
      ids.length === 0 ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const [exp, data] = keys(room)
        const expiresAt = now + Duration.toMillis(ttl)
        return redis.use((c) =>
          c.multi()
            .zadd(exp, "XX", ...ids.flatMap((id) => [expiresAt, id]))
            .pexpire(exp, keyTtl(ttl)).pexpire(data, keyTtl(ttl))
            .exec()
        )
      }).pipe(Effect.asVoid),
    remove: (room, id) => {
      const [exp, data] = keys(room)
      return redis.use((c) => c.multi().zrem(exp, id).hdel(data, id).exec()).pipe(
        Effect.map((results) => results?.[0]?.[1] === 1)
      )
    },
    list: (room) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const [exp, data] = keys(room)
        return redis.use(async (c) => {
          const ids = await c.zrangebyscore(exp, now + 1, "+inf")
          return ids.length === 0 ? [] : await c.hmget(data, ...ids)
        })
      }).pipe(Effect.map(decodeAll)),
    reap: (room) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const [exp, data] = keys(room)
        return redis.use((c) => c.eval(reapScript, 2, exp, data, now))
      }).pipe(Effect.map((out) => decodeAll(Array.isArray(out) ? out.filter((v): v is string => typeof v === "string") : [])))
  } satisfies PresenceStore["Type"]
})

/** In-memory presence (single process). */
export const layerMemory: Layer.Layer<PresenceStore> = Layer.effect(PresenceStore, makeMemory)

/** Redis presence (several processes). */
export const layerRedis: Layer.Layer<PresenceStore, never, Redis> = Layer.effect(PresenceStore, makeRedis)
