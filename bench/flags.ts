/**
 * Feature flags: (1) how long a change made through one server stack takes to be
 * answered by `check` on a second stack (Bus invalidation), and (2) the cost of a
 * check from the per-process cache against a baseline that reads the flag from
 * the database on every check. Runs on the embedded defaults, or on real
 * Postgres/Redis when DATABASE_URL/REDIS_URL are set.
 *
 *   npm run bench -- flags [changes=50] [checks=20000]
 */
import { Clock, DateTime, Effect, Schema } from "effect"
import { CreateFlagRequest, UpdateFlagRequest } from "../src/schemas/FeatureFlags.ts"
import { FeatureFlags } from "../src/services/FeatureFlags.ts"
import { evaluateFlag } from "../src/services/FlagEvaluation.ts"
import { peerServers } from "../test/support/PeerStacks.ts"
import { createUser } from "../test/support/Seed.ts"
import { backendLabel } from "../test/support/TestStack.ts"

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

const nowMs = Effect.map(Clock.currentTimeNanos, (ns) => Number(ns) / 1e6)

const bench = (changes: number, checks: number) =>
  Effect.scoped(Effect.gen(function*() {
    const [a, b] = yield* peerServers()
    const admin = yield* a.run(createUser("admin"))
    const user = yield* a.run(createUser("student"))
    const name = "bench.flag"
    yield* a.run(Effect.flatMap(FeatureFlags, (flags) =>
      Effect.flatMap(Schema.decode(CreateFlagRequest)({ name }), (req) => flags.create(admin.id, req))))
    const context = yield* b.run(Effect.flatMap(FeatureFlags, (flags) => Effect.flatten(flags.contextOf(user.id))))

    // (1) propagation: toggle on A, spin on B's check until it flips.
    const latencies: Array<number> = []
    for (let i = 0; i < changes; i++) {
      const enabled = i % 2 === 0
      const patch = yield* Schema.decode(UpdateFlagRequest)({ enabled, rolloutPercent: 100 })
      const start = yield* nowMs
      yield* a.run(Effect.flatMap(FeatureFlags, (flags) => flags.update(name, patch)))
      while ((yield* b.run(Effect.flatMap(FeatureFlags, (flags) => flags.check(context, name)))).enabled !== enabled) {
        yield* Effect.sleep("1 millis")
      }
      latencies.push((yield* nowMs) - start)
    }
    latencies.sort((x, y) => x - y)

    // (2) check cost: cache vs reading the row every time.
    const cached = yield* b.run(Effect.flatMap(FeatureFlags, (flags) =>
      Effect.gen(function*() {
        const start = yield* nowMs
        for (let i = 0; i < checks; i++) yield* flags.check(context, name)
        return ((yield* nowMs) - start) / checks
      })))
    const fromDb = yield* b.run(Effect.gen(function*() {
      const flags = yield* FeatureFlags
      const n = Math.max(1, Math.floor(checks / 20))
      const start = yield* nowMs
      for (let i = 0; i < n; i++) {
        const flag = yield* flags.get(name)
        evaluateFlag(flag, context, yield* DateTime.now)
      }
      return ((yield* nowMs) - start) / n
    }))

    console.log(`feature flags (${backendLabel})`)
    console.log(
      `  propagation A→B over ${changes} changes: p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${(latencies.at(-1) ?? Number.NaN).toFixed(1)} ms`
    )
    console.log(
      `  check: cache ${(cached * 1000).toFixed(1)} µs, database baseline ${(fromDb * 1000).toFixed(1)} µs ` +
        `(×${(fromDb / cached).toFixed(0)})`
    )
  }))

export default async (args: ReadonlyArray<string>) => {
  const changes = Number(args[0] ?? 50)
  const checks = Number(args[1] ?? 20_000)
  await Effect.runPromise(bench(changes, checks).pipe(Effect.orDie))
}
