import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, lectern, runLectern, waitUntilReady } from "../support/Process.ts"

const password = "lifecycle-password-1"

/** The one line a failed start-up prints (JSON log lines aside). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("{"))

describe("the lectern command", () => {
  it.live("--help lists every command", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runLectern(["--help"])
      expect(code).toBe(0)
      for (const command of ["serve", "migrate", "users"]) expect(stdout).toContain(command)
    }), 60_000)

  it.live("PORT=abc exits non-zero with one line naming PORT", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runLectern(["serve"], { PORT: "abc", LECTERN_DATA_DIR: "memory" })
      expect(code).not.toBe(0)
      expect(errorLines(stderr)).toEqual([expect.stringMatching(/^lectern: invalid configuration: PORT: /)])
    }), 60_000)

  it.live("an unreachable DATABASE_URL exits non-zero with one line naming DATABASE_URL", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runLectern(["serve"], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/x" })
      expect(code).not.toBe(0)
      const lines = errorLines(stderr)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^lectern: cannot start: database unavailable \(DATABASE_URL: /)
    }), 60_000)

  it.live("users create rejects bad input with the fields named, and changes nothing", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runLectern(
        ["users", "create", "--email", "nope", "--password", "short", "--role", "admin"],
        { LECTERN_DATA_DIR: "memory" }
      )
      expect(code).not.toBe(0)
      expect(errorLines(stderr).join("\n")).toMatch(/invalid input: .*email.*password/)
    }), 60_000)

  it.scopedLive("serve on the embedded default: ready, data survives a restart, SIGTERM under load exits 0 in time", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "lectern-life-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const env = { LECTERN_DATA_DIR: dataDir, PASSWORD_HASH_COST: "14" }

      const created = yield* runLectern(
        ["users", "create", "--email", "life@example.com", "--password", password, "--role", "admin", "--name", "Life"],
        env
      )
      expect(created.code, created.stderr).toBe(0)
      expect(created.stdout).toContain("Created admin life@example.com")

      const login = (base: string) =>
        Effect.promise(() =>
          fetch(`${base}/api/v1/auth/login`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ email: "life@example.com", password })
          }).then(async (r) => ({ status: r.status, body: await r.text() }))
        )

      for (const round of [1, 2]) {
        const port = yield* freePort
        const base = `http://127.0.0.1:${port}`
        const server = yield* lectern(["serve"], { ...env, PORT: String(port), HOST: "127.0.0.1" })
        const readyAfter = yield* waitUntilReady(`${base}/health/ready`, server, 20_000)
        expect(readyAfter).toBeLessThan(20_000)
        // Round 2 proves the user (and the generated JWT secret) survived the restart.
        const first = yield* login(base)
        expect(first.status, `round ${round}: ${first.body}`).toBe(200)

        // Load: keep ~16 logins in flight, then SIGTERM in the middle of it.
        const outcomes: Array<string> = []
        let stop = false
        const worker = Effect.promise(async () => {
          while (!stop) {
            try {
              const r = await fetch(`${base}/api/v1/auth/login`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ email: "life@example.com", password })
              })
              await r.text()
              outcomes.push(String(r.status))
            } catch (error) {
              const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
              const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : String(cause)
              outcomes.push(code)
              if (code === "ECONNREFUSED") return
            }
          }
        })
        const load = yield* Effect.forkScoped(Effect.all(Array.from({ length: 16 }, () => worker), { concurrency: "unbounded" }))
        yield* Effect.sleep("700 millis")
        const signalledAt = Date.now()
        server.process.kill("SIGTERM")
        const exit = yield* Effect.promise(() => server.exit)
        const took = Date.now() - signalledAt
        stop = true
        yield* load.await
        expect(exit.code, server.stderr()).toBe(0)
        expect(took).toBeLessThan(10_000)
        // Every request either completed (200, or 503 while draining) or never reached the
        // server: refused, or reset while still in the closing listener's accept queue (the
        // kernel resets those). No response was cut: every request the server answered
        // (its access log) was received whole by the client.
        const failed = outcomes.filter((o) => !["200", "503", "ECONNREFUSED", "ECONNRESET"].includes(o))
        expect(failed, `outcomes: ${[...new Set(outcomes)].join(",")}`).toEqual([])
        const received = outcomes.filter((o) => o === "200").length + 1 // + the first login
        expect(received).toBeGreaterThan(1)
        const answered = server.stdout().split("\n").filter((l) =>
          l.includes("\"route\":\"/api/v1/auth/login\"") && l.includes("\"status\":200")
        ).length
        expect(answered, `outcomes: ${outcomes.join(",")}`).toBe(received)
        expect(server.stdout()).not.toContain("shutdown deadline reached")
        // JSON logs carry the documented fields.
        const requestLog = server.stdout().split("\n").find((l) => l.includes("\"route\":\"/api/v1/auth/login\""))
        expect(requestLog).toBeDefined()
        expect(JSON.parse(requestLog ?? "{}")).toMatchObject({
          level: "info",
          method: "POST",
          status: 200,
          request_id: expect.any(String),
          trace_id: expect.any(String),
          duration_ms: expect.any(Number),
          time: expect.any(String)
        })
      }
    }), 120_000)
})
