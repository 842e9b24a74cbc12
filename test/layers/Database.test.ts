import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
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
  })
})
