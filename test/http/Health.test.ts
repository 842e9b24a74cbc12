import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Drain } from "../../src/http/Drain.ts"
import { call } from "../support/Http.ts"
import { backendLabel, realRedisUrl, serverStack, liveStack } from "../support/TestStack.ts"

describe(`health (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("live answers ok; ready lists each component with status and latency", () =>
      Effect.gen(function*() {
        const live = yield* call("GET", "/health/live")
        expect([live.status, live.json]).toEqual([200, { status: "ok" }])
        const ready = yield* call("GET", "/health/ready")
        expect(ready.status).toBe(200)
        const report = ready.json as { status: string; components: Record<string, { status: string; latencyMs: number }> }
        expect(report.status).toBe("ready")
        const expected = Option.isSome(realRedisUrl) ? ["database", "migrations", "redis"] : ["database", "migrations"]
        expect(Object.keys(report.components).sort()).toEqual(expected)
        for (const component of Object.values(report.components)) {
          expect(component.status).toBe("up")
          expect(component.latencyMs).toBeGreaterThanOrEqual(0)
        }
      }))

    it.effect("while draining for shutdown, ready answers 503 with the report and responses close the connection", () =>
      Effect.gen(function*() {
        const drain = yield* Drain
        yield* drain.drain("10 millis")
        const ready = yield* call("GET", "/health/ready")
        expect(ready.status).toBe(503)
        expect(ready.json).toMatchObject({ status: "unavailable", components: { database: { status: "up" } } })
        expect(ready.headers.get("connection")).toBe("close")
      }))
  })
})
