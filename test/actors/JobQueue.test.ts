import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Ref, Schedule, Schema } from "effect"
import * as JobQueue from "../../src/actors/JobQueue.ts"
import { JobId } from "../../src/schemas/Jobs.ts"
import { JobPermanentFailure, JobRetryLater } from "../../src/services/JobHandler.ts"
import { Jobs } from "../../src/services/Jobs.ts"
import { JobStore } from "../../src/services/JobStore.ts"
import { awaitState, countByState, jobState, poolOptions, runsOf, uniqueName } from "../support/Jobs.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

const Payload = Schema.Struct({ n: Schema.Number })

describe(`JobQueue (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.scoped("processes every enqueued job once, highest priority first, and logs each attempt", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const seen = yield* Ref.make<Array<number>>([])
        const job = yield* jobs.registerJob(uniqueName("record"), Payload, ({ n }) => Ref.update(seen, (s) => [...s, n]), {
          queue
        })
        const low = yield* job.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ payload: { n } })))
        const high = yield* job.enqueue({ n: 100 }, { priority: 10 })
        yield* JobQueue.make(poolOptions(queue, { concurrency: 1, batchSize: 1 }))
        for (const { id } of [...low, high]) yield* awaitState(id, "completed")
        const order = yield* Ref.get(seen)
        expect(order[0]).toBe(100)
        expect([...order].sort((a, b) => a - b)).toEqual([...Array.from({ length: 20 }, (_, n) => n), 100])
        const runs = yield* runsOf(high.id)
        expect(runs.map((r) => [r.attempt, r.outcome])).toEqual([[1, "completed"]])
      }))

    it.scoped("a delayed job waits for its time; the pool wakes for it without polling", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const job = yield* jobs.registerJob(uniqueName("delayed"), Payload, () => Effect.void, { queue })
        // A long poll interval: pickup must come from the wake-up signal and the due time.
        yield* JobQueue.make(poolOptions(queue, { pollInterval: Duration.seconds(30) }))
        yield* Effect.sleep("200 millis")
        const sql = yield* SqlClient.SqlClient
        const { id } = yield* job.enqueue({ n: 1 }, { delay: "600 millis" })
        const soon = yield* job.enqueue({ n: 2 })
        yield* awaitState(soon.id, "completed", "3 seconds")
        expect((yield* jobState(id)).state).toBe("pending")
        yield* awaitState(id, "completed", "3 seconds")
        const [row] = yield* sql<{ late: number }>`
          SELECT (extract(epoch FROM r.started_at - j.run_at) * 1000)::float8 AS late
          FROM jobs j JOIN job_runs r ON r.job_id = j.id WHERE j.id = ${id}::bigint`
        expect(row?.late).toBeGreaterThanOrEqual(0)
        expect(row?.late).toBeLessThan(1000)
      }))

    it.scoped("a unique key keeps one active job; replace swaps its payload and run time", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const job = yield* jobs.registerJob(uniqueName("unique"), Payload, () => Effect.void, { queue })
        const first = yield* job.enqueue({ n: 1 }, { uniqueKey: `${queue}:k`, delay: "1 hour" })
        const second = yield* job.enqueue({ n: 2 }, { uniqueKey: `${queue}:k`, delay: "1 hour" })
        expect(second).toEqual({ id: first.id, deduplicated: true })
        const replaced = yield* job.enqueue({ n: 3 }, { uniqueKey: `${queue}:k`, onDuplicate: "replace" })
        expect(replaced.id).toBe(first.id)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ payload: unknown; due: boolean }>`
          SELECT payload, run_at <= now() AS due FROM jobs WHERE unique_key = ${`${queue}:k`}`
        expect(rows).toEqual([{ payload: { n: 3 }, due: true }])
        // Once it has run, the key is free again.
        yield* JobQueue.make(poolOptions(queue))
        yield* awaitState(first.id, "completed")
        const again = yield* job.enqueue({ n: 4 }, { uniqueKey: `${queue}:k` })
        expect(again.deduplicated).toBe(false)
        expect(again.id).not.toBe(first.id)
      }))

    it.scoped("transactional enqueue: a rolled-back transaction leaves no job; a committed one runs after commit", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const sql = yield* SqlClient.SqlClient
        const queue = uniqueName("q")
        const ran = yield* Deferred.make<number>()
        const job = yield* jobs.registerJob(uniqueName("tx"), Payload, ({ n }) => Deferred.succeed(ran, n), { queue })
        yield* JobQueue.make(poolOptions(queue, { pollInterval: Duration.seconds(30) }))

        const rolledBack = yield* job.enqueue({ n: 1 }).pipe(
          Effect.zipRight(Effect.fail("abort" as const)),
          sql.withTransaction,
          Effect.flip
        )
        expect(rolledBack).toBe("abort")
        expect(yield* countByState(queue)).toEqual({})

        const committed = yield* Effect.gen(function*() {
          const enqueued = yield* job.enqueue({ n: 2 })
          // The worker is awake and polling would be slow: it must not see the job before commit.
          yield* Effect.sleep("300 millis")
          expect(yield* Deferred.isDone(ran)).toBe(false)
          return enqueued
        }).pipe(sql.withTransaction)
        expect(yield* Deferred.await(ran).pipe(Effect.timeout("3 seconds"))).toBe(2)
        yield* awaitState(committed.id, "completed")
        expect(yield* countByState(queue)).toEqual({ completed: 1 })
      }))

    it.scoped("an always-failing handler ends in dead letter after max attempts, with growing backoff", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const job = yield* jobs.registerJob(
          uniqueName("fails"),
          Payload,
          () => Effect.fail(new Error("push service said no")),
          { queue, maxAttempts: 4, backoff: { base: Duration.millis(200), factor: 2, max: Duration.seconds(10) } }
        )
        yield* JobQueue.make(poolOptions(queue))
        const { id } = yield* job.enqueue({ n: 1 })
        yield* awaitState(id, "dead", "10 seconds")
        const state = yield* jobState(id)
        expect(state.attempts).toBe(4)
        expect(state.lastError).toContain("push service said no")
        const runs = yield* runsOf(id)
        expect(runs.map((r) => [r.attempt, r.outcome])).toEqual([[1, "failed"], [2, "failed"], [3, "failed"], [4, "failed"]])
        expect(runs[0]?.error).toContain("push service said no")
        // Delay before attempt k+1 is within [c/2, c] for ceiling c = 200 * 2^(k-1) ms (plus pickup slack).
        const gaps = runs.slice(1).map((r, i) => r.startedMs - (runs[i]?.finishedMs ?? 0))
        const ceilings = [200, 400, 800]
        gaps.forEach((gap, i) => {
          const ceiling = ceilings[i] ?? 0
          expect(gap).toBeGreaterThanOrEqual(ceiling / 2 - 5)
          expect(gap).toBeLessThan(ceiling + 1000)
        })
        expect((gaps[2] ?? 0) > (gaps[0] ?? 0)).toBe(true)
      }), 20_000)

    it.scoped("unknown job names and undecodable payloads go straight to dead letter with a clear error", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const sql = yield* SqlClient.SqlClient
        const queue = uniqueName("q")
        const name = uniqueName("typed")
        yield* jobs.registerJob(name, Payload, () => Effect.void, { queue })
        const inserted = yield* sql<{ id: string }>`
          INSERT INTO jobs (queue, name, payload, max_attempts, timeout_ms) VALUES
            (${queue}, 'nobody.handles.this', '{}'::jsonb, 5, 1000),
            (${queue}, ${name}, '{"n":"not a number"}'::jsonb, 5, 1000)
          RETURNING id`
        yield* JobQueue.make(poolOptions(queue))
        const [unknown, bad] = yield* Schema.decodeUnknown(Schema.Tuple(JobId, JobId))(inserted.map((r) => r.id))
        yield* awaitState(unknown, "dead")
        yield* awaitState(bad, "dead")
        expect((yield* jobState(unknown)).lastError).toMatch(/no handler is registered for job "nobody.handles.this"/)
        expect((yield* jobState(bad)).lastError).toMatch(/payload does not match/)
        expect((yield* runsOf(unknown)).map((r) => r.outcome)).toEqual(["rejected"])
        expect((yield* runsOf(bad)).map((r) => r.outcome)).toEqual(["rejected"])
      }))

    it.scoped("timeouts, permanent failures and Retry-After steer retries", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const attempts = yield* Ref.make(0)
        const slow = yield* jobs.registerJob(uniqueName("slow"), Payload, () => Effect.never, {
          queue,
          timeout: "100 millis",
          maxAttempts: 1
        })
        const permanent = yield* jobs.registerJob(
          uniqueName("permanent"),
          Payload,
          () => Effect.fail(new JobPermanentFailure({ reason: "subscription rejected the payload" })),
          { queue }
        )
        const later = yield* jobs.registerJob(uniqueName("later"), Payload, () =>
          Effect.flatMap(Ref.getAndUpdate(attempts, (n) => n + 1), (n) =>
            n === 0 ? Effect.fail(new JobRetryLater({ after: Duration.millis(700), reason: "429" })) : Effect.void)
        , { queue, backoff: { base: Duration.millis(1) } })
        yield* JobQueue.make(poolOptions(queue))
        const a = yield* slow.enqueue({ n: 1 })
        const b = yield* permanent.enqueue({ n: 1 })
        const c = yield* later.enqueue({ n: 1 })
        yield* awaitState(a.id, "dead")
        yield* awaitState(b.id, "dead")
        yield* awaitState(c.id, "completed")
        expect((yield* runsOf(a.id)).map((r) => r.outcome)).toEqual(["timed_out"])
        expect((yield* jobState(a.id)).lastError).toMatch(/timed out/)
        expect((yield* runsOf(b.id)).map((r) => r.outcome)).toEqual(["failed"])
        expect((yield* jobState(b.id)).attempts).toBe(1)
        const runs = yield* runsOf(c.id)
        expect(runs.map((r) => r.outcome)).toEqual(["failed", "completed"])
        expect((runs[1]?.startedMs ?? 0) - (runs[0]?.finishedMs ?? 0)).toBeGreaterThanOrEqual(690)
      }))

    it.scoped("a job whose worker stopped renewing its lease is rescued and run again; the run log shows both", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const queue = uniqueName("q")
        const job = yield* jobs.registerJob(uniqueName("rescued"), Payload, () => Effect.void, { queue })
        const { id } = yield* job.enqueue({ n: 1 })
        // A "worker" claims it with a short lease and then dies.
        const claimed = yield* store.claim("dead-worker", [queue], 1, Duration.millis(300))
        expect(claimed.map((c) => c.id)).toEqual([id])
        yield* JobQueue.make(poolOptions(queue, { lease: Duration.millis(600) }))
        yield* awaitState(id, "completed", "5 seconds")
        const runs = yield* runsOf(id)
        expect(runs.map((r) => [r.attempt, r.outcome])).toEqual([[1, "lease_expired"], [2, "completed"]])
        expect(runs[0]?.error).toMatch(/worker dead-worker stopped renewing/)
      }))

    it.effect("shutdown hands back buffered jobs, lets short jobs finish and releases the ones past the deadline", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const started = yield* Ref.make(0)
        const job = yield* jobs.registerJob(uniqueName("shutdown"), Payload, ({ n }) =>
          Effect.zipRight(Ref.update(started, (k) => k + 1), Effect.sleep(Duration.millis(n))), { queue })
        const quick = yield* job.enqueue({ n: 300 }, { priority: 2 })
        const stuck = yield* job.enqueue({ n: 60_000 }, { priority: 1 })
        const buffered = yield* job.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 1 } }])
        yield* Effect.scoped(Effect.gen(function*() {
          // Two run at once; the other two wait in the pool's local buffer.
          yield* JobQueue.make(poolOptions(queue, { concurrency: 2, batchSize: 4, shutdownTimeout: Duration.millis(800) }))
          yield* Ref.get(started).pipe(Effect.repeat({ until: (k) => k === 2, schedule: Schedule.spaced("20 millis") }))
        }))
        expect((yield* jobState(quick.id)).state).toBe("completed")
        const stuckState = yield* jobState(stuck.id)
        expect([stuckState.state, stuckState.attempts]).toEqual(["pending", 1])
        expect((yield* runsOf(stuck.id)).map((r) => r.outcome)).toEqual(["released"])
        for (const { id } of buffered) {
          const state = yield* jobState(id)
          expect([state.state, state.attempts]).toEqual(["pending", 0])
          expect(yield* runsOf(id)).toEqual([])
        }
      }))

    it.scoped("two pools with the same cron schedule enqueue one job per tick", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const sql = yield* SqlClient.SqlClient
        const queue = uniqueName("q")
        const job = yield* jobs.registerJob(uniqueName("cron"), Payload, () => Effect.void, { queue })
        yield* jobs.schedule(uniqueName("every-second"), "* * * * * *", job, { n: 1 })
        yield* JobQueue.make(poolOptions(queue, { schedules: true }))
        yield* JobQueue.make(poolOptions(queue, { schedules: true }))
        yield* Effect.sleep("3500 millis")
        const ticks = yield* sql<{ key: string; n: number }>`
          SELECT unique_key AS key, count(*)::int AS n FROM jobs WHERE queue = ${queue} GROUP BY unique_key`
        expect(ticks.length).toBeGreaterThanOrEqual(3)
        expect(ticks.every((t) => t.n === 1)).toBe(true)
      }))
  })
})

