import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

describe(`Database (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.effect("column names map to camelCase, but keys inside json values round-trip unchanged", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const value = { stroke_width: 2, nested: { some_key: ["a_b"] }, camelKey: true }
        const rows = yield* sql<{ readonly someColumn: unknown }>`
          SELECT ${JSON.stringify(value)}::jsonb AS some_column`
        expect(rows[0]?.someColumn).toEqual(value)
      }))

    it.effect("a busy writer does not starve another fiber's statement", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        let busyDone = false
        // Back-to-back statements (each releases the connection and asks again at once) for ~200 round trips.
        const busy = Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => sql`SELECT ${i}::int`, {
          discard: true
        }).pipe(Effect.ensuring(Effect.sync(() => busyDone = true)), Effect.fork)
        const fiber = yield* busy
        yield* Effect.yieldNow()
        yield* sql`SELECT 1`
        // The lone statement got its turn while the busy loop was still running.
        expect(busyDone).toBe(false)
        yield* fiber.await
      }))

    it.effect("statements and transactions interrupted at any point leave the database serving others", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        // Many more interruptions than the pool has connections, landing before, while and after a
        // fiber waits for its turn and its connection, and inside its transaction.
        for (let i = 0; i < 60; i++) {
          const work = i % 2 === 0 ? sql`SELECT ${i}::int` : sql.withTransaction(sql`SELECT ${i}::int`)
          const fiber = yield* Effect.fork(work)
          for (let k = 0; k < i % 7; k++) yield* Effect.yieldNow()
          yield* Fiber.interrupt(fiber)
        }
        expect(yield* sql<{ readonly one: number }>`SELECT 1::int AS one`).toEqual([{ one: 1 }])
        expect(yield* sql.withTransaction(sql<{ readonly two: number }>`SELECT 2::int AS two`)).toEqual([{ two: 2 }])
      }))
  })
})
