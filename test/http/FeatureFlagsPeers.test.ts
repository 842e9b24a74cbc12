/**
 * Flag changes cross processes: a change made through one server is answered by
 * `check` on another within a second (Bus invalidation), each server answers
 * from its own cache, and a lost announcement is repaired by the periodic
 * reload. With DATABASE_URL and REDIS_URL set, also against a real second
 * `lectern serve` process.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Option, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { call } from "../support/Http.ts"
import { type Peer, peerServers } from "../support/PeerStacks.ts"
import { freePort, lectern, waitUntilReady } from "../support/Process.ts"
import { signedIn } from "../support/Seed.ts"
import { backendLabel, realDatabaseUrl, realRedisUrl, testJwtSecret } from "../support/TestStack.ts"

interface Evaluation {
  readonly name: string
  readonly enabled: boolean
  readonly reason: string
}

/** Polls `probe` every 10 ms until it yields `expected`; returns how long that took (ms), or fails after `within`. */
const timeUntil = <E, R>(probe: Effect.Effect<unknown, E, R>, expected: unknown, within = Duration.seconds(1)) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    let last: unknown = undefined
    while ((yield* Clock.currentTimeMillis) - start <= Duration.toMillis(within)) {
      last = yield* probe
      if (JSON.stringify(last) === JSON.stringify(expected)) return (yield* Clock.currentTimeMillis) - start
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.dieMessage(
      `not seen within ${Duration.format(within)}: expected ${JSON.stringify(expected)}, last ${JSON.stringify(last)}`
    )
  })

const checkOn = (peer: Peer, token: string, name: string) =>
  peer.run(Effect.map(call("GET", `/api/v1/feature-flags/check/${name}`, { token }), (r) => r.json))

const setup = (peers: readonly [Peer, Peer]) =>
  Effect.gen(function*() {
    const [a] = peers
    const admin = yield* a.run(signedIn("admin"))
    const student = yield* a.run(signedIn("student"))
    const name = `cross-${randomUUID().slice(0, 8)}`
    const change = (body: Record<string, unknown>) =>
      a.run(call("PATCH", `/api/v1/feature-flags/${name}`, { token: admin.token, body }))
    return { admin, student, name, change }
  })

const expectation = (name: string, enabled: boolean, reason: string): Evaluation => ({ name, enabled, reason })

describe(`feature flags across server processes (${backendLabel})`, () => {
  it.scopedLive("create, change and delete on server A are answered by check on server B within 1 s", () =>
    Effect.gen(function*() {
      const peers = yield* peerServers()
      const [a, b] = peers
      const { admin, student, name, change } = yield* setup(peers)
      expect(yield* checkOn(b, student.token, name)).toEqual(expectation(name, false, "NOT_FOUND"))

      const timings: Array<number> = []
      const created = yield* a.run(call("POST", "/api/v1/feature-flags", { token: admin.token, body: { name } }))
      expect(created.status).toBe(201)
      timings.push(yield* timeUntil(checkOn(b, student.token, name), expectation(name, false, "DISABLED")))
      expect((yield* change({ enabled: true, rolloutPercent: 100 })).status).toBe(200)
      timings.push(yield* timeUntil(checkOn(b, student.token, name), expectation(name, true, "ROLLOUT_IN")))
      expect((yield* change({ rules: { roles: ["student"] }, rolloutPercent: 0 })).status).toBe(200)
      timings.push(yield* timeUntil(checkOn(b, student.token, name), expectation(name, true, "ROLE_MATCH")))
      expect((yield* change({ enabled: false })).status).toBe(200)
      timings.push(yield* timeUntil(checkOn(b, student.token, name), expectation(name, false, "DISABLED")))
      const removed = yield* a.run(call("DELETE", `/api/v1/feature-flags/${name}`, { token: admin.token }))
      expect(removed.status).toBe(204)
      timings.push(yield* timeUntil(checkOn(b, student.token, name), expectation(name, false, "NOT_FOUND")))
      // Each change was seen well within the second (timeUntil fails past it).
      for (const ms of timings) expect(ms).toBeLessThan(1000)
      // And the evaluated set on B agrees.
      const set = yield* b.run(call("GET", "/api/v1/feature-flags?forUser=true", { token: student.token }))
      expect((set.json as { flags: ReadonlyArray<Evaluation> }).flags.map((f) => f.name)).not.toContain(name)
    }), 60_000)

  it.scopedLive("B answers from its cache: a change that bypasses the service is only seen once announced", () =>
    Effect.gen(function*() {
      const peers = yield* peerServers({ flagRefreshInterval: Duration.minutes(10) })
      const [a, b] = peers
      const { admin, student, name, change } = yield* setup(peers)
      yield* a.run(call("POST", "/api/v1/feature-flags", { token: admin.token, body: { name } }))
      yield* timeUntil(checkOn(b, student.token, name), expectation(name, false, "DISABLED"))
      yield* a.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`UPDATE feature_flags SET enabled = true, rollout_percent = 100 WHERE name = ${name}`))
      yield* Effect.sleep("300 millis")
      expect(yield* checkOn(b, student.token, name)).toEqual(expectation(name, false, "DISABLED"))
      // Any announced change of the flag makes B reload it, the silent edit included.
      yield* change({ description: "touched" })
      yield* timeUntil(checkOn(b, student.token, name), expectation(name, true, "ROLLOUT_IN"))
    }), 60_000)

  it.scopedLive("a lost announcement is repaired by the periodic reload", () =>
    Effect.gen(function*() {
      const peers = yield* peerServers({ flagRefreshInterval: Duration.millis(300) })
      const [a, b] = peers
      const { admin, student, name } = yield* setup(peers)
      yield* a.run(call("POST", "/api/v1/feature-flags", { token: admin.token, body: { name } }))
      yield* timeUntil(checkOn(b, student.token, name), expectation(name, false, "DISABLED"))
      yield* a.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`UPDATE feature_flags SET enabled = true, rollout_percent = 100 WHERE name = ${name}`))
      yield* timeUntil(checkOn(b, student.token, name), expectation(name, true, "ROLLOUT_IN"), Duration.seconds(3))
    }), 60_000)
})

// With real Postgres and Redis: a second OS process (`lectern serve`) on the same database and prefix.
Option.map(Option.all([realDatabaseUrl, realRedisUrl]), ([, redisUrl]) =>
  describe("feature flags across OS processes (postgres+redis)", () => {
    it.scopedLive("a change through this process is answered by a separate `lectern serve` within 1 s", () =>
      Effect.gen(function*() {
        const peers = yield* peerServers()
        const [a] = peers
        const database = a.config.database
        if (database._tag !== "Postgres") return yield* Effect.dieMessage("expected a Postgres target")
        const { admin, student, name, change } = yield* setup(peers)
        const port = yield* freePort
        const child = yield* lectern(["serve"], {
          DATABASE_URL: Redacted.value(database.url),
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: a.config.redisKeyPrefix,
          JWT_SECRET: testJwtSecret,
          HOST: "127.0.0.1",
          PORT: String(port),
          LOG_LEVEL: "warning"
        })
        const base = `http://127.0.0.1:${port}`
        yield* waitUntilReady(`${base}/health/ready`, child)
        const checkThere = Effect.promise(() =>
          fetch(`${base}/api/v1/feature-flags/check/${name}`, { headers: { authorization: `Bearer ${student.token}` } })
            .then((r) => r.json())
        )
        yield* a.run(call("POST", "/api/v1/feature-flags", { token: admin.token, body: { name } }))
        yield* timeUntil(checkThere, expectation(name, false, "DISABLED"))
        yield* change({ enabled: true, rolloutPercent: 100 })
        const ms = yield* timeUntil(checkThere, expectation(name, true, "ROLLOUT_IN"))
        expect(ms).toBeLessThan(1000)
      }), 90_000)
  }))
