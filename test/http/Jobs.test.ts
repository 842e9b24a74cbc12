import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import { Jobs } from "../../src/services/Jobs.ts"
import { Users } from "../../src/services/Users.ts"
import { call, errorCode } from "../support/Http.ts"
import { awaitState, uniqueName } from "../support/Jobs.ts"
import { jobsServerStack } from "../support/JobsStack.ts"
import { backendLabel, liveStack } from "../support/TestStack.ts"

const password = "correct horse battery"

const login = (email: string) =>
  Effect.map(call("POST", "/api/v1/auth/login", { body: { email, password } }), (r) => {
    const body = r.json as { accessToken: string }
    return body.accessToken
  })

const seed = Effect.gen(function*() {
  const users = yield* Users
  const suffix = Math.random().toString(36).slice(2, 8)
  const admin = yield* users.create({ email: `admin-${suffix}@example.com`, password, role: "admin" })
  const student = yield* users.create({ email: `student-${suffix}@example.com`, password, role: "student" })
  return { admin: yield* login(admin.email), student: yield* login(student.email) }
})

const Payload = Schema.Struct({ n: Schema.Number })

describe(`jobs admin REST (${backendLabel})`, () => {
  it.layer(jobsServerStack(), liveStack)((it) => {
    it.effect("stats, the dead letter list, a job's run log, retry and cancel; students are refused", () =>
      Effect.gen(function*() {
        const tokens = yield* seed
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const failing = yield* jobs.registerJob(uniqueName("fails"), Payload, () => Effect.fail(new Error("nope")), {
          queue,
          maxAttempts: 2,
          backoff: { base: Duration.millis(10) }
        })
        const dead = yield* failing.enqueue({ n: 1 })
        const later = yield* failing.enqueue({ n: 2 }, { delay: "1 hour" })
        yield* awaitState(dead.id, "dead")

        const stats = yield* call("GET", "/api/v1/jobs/stats", { token: tokens.admin })
        expect(stats.status).toBe(200)
        const mine = (stats.json as { queues: Array<{ queue: string }> }).queues.find((q) => q.queue === queue)
        expect(mine).toEqual({
          queue,
          ready: 0,
          scheduled: 1,
          running: 0,
          completed: 0,
          dead: 1,
          cancelled: 0,
          oldestReadyAgeSeconds: null
        })

        const deadLetter = yield* call("GET", `/api/v1/jobs?state=dead&queue=${queue}`, { token: tokens.admin })
        expect(deadLetter.status).toBe(200)
        expect(deadLetter.json).toMatchObject({ items: [{ id: dead.id, state: "dead", attempts: 2, lastError: "Error: nope" }] })

        const detail = yield* call("GET", `/api/v1/jobs/${dead.id}`, { token: tokens.admin })
        expect(detail.json).toMatchObject({
          id: dead.id,
          payload: { n: 1 },
          runs: [{ attempt: 1, outcome: "failed" }, { attempt: 2, outcome: "failed" }]
        })
        expect((detail.json as { runs: Array<{ error: string }> }).runs[0]?.error).toContain("nope")

        const retried = yield* call("POST", `/api/v1/jobs/${dead.id}/retry`, { token: tokens.admin })
        expect(retried.status).toBe(200)
        expect(retried.json).toMatchObject({ state: "pending", attempts: 0 })
        yield* awaitState(dead.id, "dead")

        const cancelled = yield* call("DELETE", `/api/v1/jobs/${later.id}`, { token: tokens.admin })
        expect([cancelled.status, (cancelled.json as { state: string }).state]).toEqual([200, "cancelled"])
        const again = yield* call("DELETE", `/api/v1/jobs/${later.id}`, { token: tokens.admin })
        expect([again.status, errorCode(again)]).toEqual([409, "JOB_STATE_CONFLICT"])
        const completedRetry = yield* call("POST", `/api/v1/jobs/${later.id}/retry`, { token: tokens.admin })
        expect(completedRetry.status).toBe(200)

        const missing = yield* call("GET", "/api/v1/jobs/999999999", { token: tokens.admin })
        expect([missing.status, errorCode(missing)]).toEqual([404, "JOB_NOT_FOUND"])
        const badId = yield* call("GET", "/api/v1/jobs/abc", { token: tokens.admin })
        expect([badId.status, errorCode(badId)]).toEqual([400, "VALIDATION_ERROR"])
        const badState = yield* call("GET", "/api/v1/jobs?state=sleeping", { token: tokens.admin })
        expect([badState.status, errorCode(badState)]).toEqual([400, "VALIDATION_ERROR"])
        for (const [method, path] of [["GET", "/api/v1/jobs/stats"], ["GET", "/api/v1/jobs"], ["DELETE", `/api/v1/jobs/${later.id}`]]) {
          const denied = yield* call(method ?? "GET", path ?? "/", { token: tokens.student })
          expect([denied.status, errorCode(denied)]).toEqual([403, "FORBIDDEN"])
        }
      }))

    it.effect("the job list pages with a cursor, newest first", () =>
      Effect.gen(function*() {
        const tokens = yield* seed
        const jobs = yield* Jobs
        const queue = uniqueName("q")
        const parked = yield* jobs.registerJob(uniqueName("parked"), Payload, () => Effect.void, { queue })
        const ids = (yield* parked.enqueueMany([1, 2, 3, 4, 5].map((n) => ({ payload: { n }, options: { delay: "1 hour" } }))))
          .map((r) => r.id)
        const seen: Array<string> = []
        let cursor: string | null = null
        do {
          const page: { status: number; json: unknown } = yield* call(
            "GET",
            `/api/v1/jobs?queue=${queue}&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`,
            { token: tokens.admin }
          )
          const body = page.json as { items: Array<{ id: string }>; nextCursor: string | null }
          seen.push(...body.items.map((j) => j.id))
          cursor = body.nextCursor
        } while (cursor !== null)
        expect(seen).toEqual([...ids].reverse())
        const bad = yield* call("GET", "/api/v1/jobs?cursor=garbage", { token: tokens.admin })
        expect([bad.status, errorCode(bad)]).toEqual([400, "INVALID_CURSOR"])
      }))
  })
})
