/**
 * Liveness and readiness. Readiness checks each component concurrently, each
 * bounded by a timeout, and answers 503 with the same report when a required
 * one is down or the server is draining for shutdown.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option } from "effect"
import * as Database from "../layers/Database.ts"
import { Migrations } from "../layers/Migrations.ts"
import { Redis } from "../layers/Redis.ts"
import { ReadinessReport } from "../schemas/Health.ts"
import { Api } from "./Api.ts"
import { Drain } from "./Drain.ts"

const checkTimeout = "2 seconds"

const timed = <E>(required: boolean, check: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const outcome = yield* check.pipe(
      Effect.timeoutFail({ duration: checkTimeout, onTimeout: () => `timed out after ${checkTimeout}` }),
      Effect.either
    )
    const latencyMs = (yield* Clock.currentTimeMillis) - start
    return outcome._tag === "Right"
      ? { status: "up" as const, required, latencyMs }
      : {
        status: "down" as const,
        required,
        latencyMs,
        detail: typeof outcome.left === "string" ? outcome.left : "unreachable"
      }
  })

/** `/health/*`. */
export const HealthHttpLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function*() {
    const migrations = yield* Migrations
    const redis = yield* Effect.serviceOption(Redis)
    const sql = yield* SqlClient.SqlClient
    const drain = yield* Drain

    const migrationCheck = Effect.flatMap(migrations.status, ({ applied, expected }) =>
      applied >= expected ? Effect.void : Effect.fail(`schema at ${applied}, expected ${expected}`))

    return handlers
      .handle("live", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () =>
        Effect.gen(function*() {
          const checks = {
            database: timed(true, Effect.provideService(Database.ping(checkTimeout), SqlClient.SqlClient, sql)),
            migrations: timed(true, migrationCheck),
            ...Option.match(redis, {
              onNone: () => ({}),
              onSome: (client) => ({ redis: timed(true, client.ping) })
            })
          }
          const components = yield* Effect.all(checks, { concurrency: "unbounded" })
          const healthy = Object.values(components).every((c) => c.status === "up" || !c.required)
          const ready = healthy && !drain.draining()
          const report = ReadinessReport.make({ status: ready ? "ready" : "unavailable", components })
          return ready ? report : HttpServerResponse.unsafeJson(report, { status: 503 })
        }))
  }))
