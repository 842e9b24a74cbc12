/**
 * Announces which backends the suite runs on, and with LECTERN_REQUIRE_SERVICES=1
 * (set by CI) refuses to run unless both real services are configured and reachable,
 * so a run that silently fell back to the embedded defaults cannot pass as a real one.
 * Then makes the pre-migrated database templates the test stacks copy (Templates.ts).
 */
import { Effect } from "effect"
import { createConnection } from "node:net"
import type { TestProject } from "vitest/node"
import {
  dropPostgresTemplate,
  makePgliteTemplate,
  makePostgresTemplate,
  removePgliteTemplate
} from "./Templates.ts"

const reachable = (url: string, fallbackPort: number) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = createConnection({ host: hostname, port: Number(port || fallbackPort) })
    socket.setTimeout(2000)
    socket.once("connect", () => {
      socket.end()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
    socket.once("timeout", () => {
      socket.destroy()
      resolve(false)
    })
  })

export default async function setup(project: TestProject) {
  const db = process.env.DATABASE_URL ?? ""
  const redis = process.env.REDIS_URL ?? ""
  const required = process.env.LECTERN_REQUIRE_SERVICES === "1"
  const lines = [
    `database: ${db === "" ? "embedded PGlite (in memory)" : `PostgreSQL at ${new URL(db).host}`}`,
    `bus/presence: ${redis === "" ? "in-memory" : `Redis at ${new URL(redis).host}`}`
  ]
  console.log(`\n[lectern tests] ${lines.join("; ")}\n`)
  if (required) {
    if (db === "" || redis === "") {
      throw new Error("LECTERN_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set")
    }
    if (!(await reachable(db, 5432))) throw new Error(`PostgreSQL at ${new URL(db).host} is not reachable`)
    if (!(await reachable(redis, 6379))) throw new Error(`Redis at ${new URL(redis).host} is not reachable`)
  }
  // Only the template the run uses: the other backend's stacks never start.
  const pgliteTemplate = db === "" ? await Effect.runPromise(makePgliteTemplate) : ""
  const postgresTemplate = db === "" ? "" : await Effect.runPromise(makePostgresTemplate(db))
  project.provide("pgliteTemplate", pgliteTemplate)
  project.provide("postgresTemplate", postgresTemplate)
  return async () => {
    if (pgliteTemplate !== "") removePgliteTemplate(pgliteTemplate)
    if (postgresTemplate !== "") await Effect.runPromise(dropPostgresTemplate(db, postgresTemplate))
  }
}
