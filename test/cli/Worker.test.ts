/**
 * `lectern worker` as a real process. Everywhere: listing handlers, refusing the
 * embedded database, bad options. With DATABASE_URL (real OS processes sharing
 * one database): SIGKILL of a worker in the middle of 1 000 jobs loses none,
 * and two workers with the same cron schedule enqueue one job per tick.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { createECDH, randomBytes } from "node:crypto"
import { createServer } from "node:http"
import webpush from "web-push"
import { AppConfig } from "../../src/layers/AppConfig.ts"
import { RegisterPushSubscriptionRequest } from "../../src/schemas/Push.ts"
import { PushSubscriptions } from "../../src/services/PushSubscriptions.ts"
import { Users } from "../../src/services/Users.ts"
import { WebPush } from "../../src/services/WebPush.ts"
import { eventually } from "../support/Jobs.ts"
import { jobsStack } from "../support/JobsStack.ts"
import { type Child, lectern, runLectern } from "../support/Process.ts"
import { liveStack, realDatabaseUrl } from "../support/TestStack.ts"


const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("{"))

describe("lectern worker", () => {
  it.live("--list-handlers prints every job type and schedule without touching the data directory", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runLectern(["worker", "--list-handlers"], { LECTERN_DATA_DIR: "memory" })
      expect(code).toBe(0)
      for (const name of ["jobs.prune", "rooms.prune", "push.send", "lesson.reminder", "sync.chat-message", "calls.prune-log"]) expect(stdout).toContain(name)
      // Schedules are listed by name; jobs.prune is one of them (calls.prune-log sorts before it).
      expect(stdout).toMatch(/Cron schedules \(UTC\):\n(?:\s+\S+\s+".*\n)*?\s+jobs\.prune\s+"\*\/15 \* \* \* \*"/)
    }), 60_000)

  it.live("on the embedded database it refuses with one line; bad options name themselves", () =>
    Effect.gen(function*() {
      const embedded = yield* runLectern(["worker"], { LECTERN_DATA_DIR: "memory" })
      expect(embedded.code).not.toBe(0)
      expect(errorLines(embedded.stderr)).toEqual([
        expect.stringMatching(/^lectern: invalid configuration: DATABASE_URL: lectern worker needs PostgreSQL/)
      ])
      const bad = yield* runLectern(["worker", "--concurrency", "0", "--interval", "-1"], { LECTERN_DATA_DIR: "memory" })
      expect(bad.code).not.toBe(0)
      expect(errorLines(bad.stderr).join("\n")).toMatch(/invalid input: --concurrency: .*--interval: /)
    }), 60_000)
})

/** A fake push service: counts POSTs per path, answers 201 after `delayMs`. */
class FakePush extends Context.Tag("test/FakePush")<FakePush, {
  readonly url: string
  readonly received: () => number
}>() {}

const fakePush = (delayMs: number) =>
  Layer.scoped(
    FakePush,
    Effect.acquireRelease(
      Effect.async<FakePush["Type"] & { readonly close: () => void }>((resume) => {
        let received = 0
        const server = createServer((req, res) => {
          req.resume()
          req.on("end", () => {
            received++
            setTimeout(() => res.writeHead(201).end(), delayMs)
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received: () => received, close: () => server.close() }))
        })
      }),
      (s) => Effect.sync(s.close)
    )
  )

const vapid = webpush.generateVAPIDKeys()

/** The environment of a worker process on the test's database. */
const workerEnv = Effect.gen(function*() {
  const config = yield* AppConfig
  if (config.database._tag !== "Postgres") return yield* Effect.dieMessage("needs DATABASE_URL")
  return {
    DATABASE_URL: Redacted.value(config.database.url),
    LECTERN_DATA_DIR: "memory",
    JWT_SECRET: "worker-test-secret-worker-test-secret-0123",
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    PUSH_ALLOW_HTTP_ENDPOINTS: "true",
    JOBS_LEASE: "2 seconds",
    JOBS_CONCURRENCY: "10",
    LOG_LEVEL: "info"
  }
})

const started = (child: Child) =>
  eventually(Effect.sync(() => child.stdout()), (out) => out.includes("job worker started"), "60 seconds")

const counts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ state: string; n: number }>`SELECT state, count(*)::int AS n FROM jobs WHERE name = 'push.send' GROUP BY state`.pipe(
    Effect.map((rows) => Object.fromEntries(rows.map((r) => [r.state, r.n])) as Record<string, number>),
    Effect.orDie
  ))

if (Option.isSome(realDatabaseUrl)) {
  describe("lectern worker processes on one PostgreSQL", () => {
    const push = { vapidKeys: Option.none(), vapidSubject: "mailto:t@example.com", maxFailures: 5, allowHttpEndpoints: true }
    it.layer(Layer.merge(jobsStack({ workers: false, config: { push } }), fakePush(40)), { ...liveStack, timeout: 180_000 })((it) => {
      it.scoped("SIGKILL of a worker in the middle of 1 000 jobs: every job completes, the killed attempts are in the run log", () =>
        Effect.gen(function*() {
          const users = yield* Users
          const subscriptions = yield* PushSubscriptions
          const push = yield* WebPush
          const fake = yield* FakePush
          const sql = yield* SqlClient.SqlClient
          const user = yield* users.create({ email: "kill@example.com", password: "correct horse battery", role: "student" })
          for (let i = 0; i < 20; i++) {
            yield* subscriptions.register(user.id, Schema.decodeUnknownSync(RegisterPushSubscriptionRequest)({
              endpoint: `${fake.url}/device/${i}`,
              keys: { p256dh: createECDH("prime256v1").generateKeys().toString("base64url"), auth: randomBytes(16).toString("base64url") }
            }))
          }
          for (let round = 0; round < 50; round++) {
            yield* push.enqueue([user.id], { type: "system", title: `Round ${round}`, body: "", data: {} }, {
              ttlSeconds: 60,
              urgency: "normal",
              collapse: false
            })
          }
          expect(yield* counts).toEqual({ pending: 1000 })

          const env = yield* workerEnv
          const victim = yield* lectern(["worker"], env)
          const survivor = yield* lectern(["worker"], env)
          yield* started(victim)
          yield* started(survivor)
          yield* eventually(Effect.sync(fake.received), (n) => n >= 300, "60 seconds")
          victim.process.kill("SIGKILL")
          const killed = yield* Effect.promise(() => victim.exit)
          expect(killed.signal).toBe("SIGKILL")

          yield* eventually(counts, (c) => c.completed === 1000, "90 seconds")
          expect(yield* counts).toEqual({ completed: 1000 })
          // The attempts cut off by the kill: rescued after the lease and completed by the survivor.
          const retried = yield* sql<{ outcomes: string }>`
            SELECT string_agg(coalesce(r.outcome, 'open'), ',' ORDER BY r.id) AS outcomes
            FROM jobs j JOIN job_runs r ON r.job_id = j.id
            WHERE j.name = 'push.send' GROUP BY j.id HAVING count(*) > 1`
          expect(retried.length).toBeGreaterThan(0)
          for (const { outcomes } of retried) expect(outcomes).toMatch(/^(lease_expired,)+completed$/)
          expect(fake.received()).toBeGreaterThanOrEqual(1000)

          survivor.process.kill("SIGTERM")
          const exit = yield* Effect.promise(() => survivor.exit).pipe(Effect.timeout("15 seconds"))
          expect(exit.code).toBe(0)
        }), 180_000)

      it.scoped("two worker processes with the same cron schedule enqueue one job per tick", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const env = { ...(yield* workerEnv), JOBS_PRUNE_CRON: "* * * * * *" }
          const a = yield* lectern(["worker"], env)
          const b = yield* lectern(["worker"], env)
          yield* started(a)
          yield* started(b)
          yield* Effect.sleep(Duration.seconds(4))
          const ticks = yield* sql<{ key: string; n: number }>`
            SELECT unique_key AS key, count(*)::int AS n FROM jobs WHERE name = 'jobs.prune' GROUP BY unique_key`
          expect(ticks.length).toBeGreaterThanOrEqual(3)
          expect(ticks.every((t) => t.n === 1)).toBe(true)
          for (const child of [a, b]) child.process.kill("SIGTERM")
          for (const child of [a, b]) expect((yield* Effect.promise(() => child.exit)).code).toBe(0)
        }), 120_000)
    })
  })
}
