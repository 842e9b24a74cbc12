/**
 * Runs the real `lectern` command as a child process (as `npm start` would),
 * for start-up, CLI and shutdown tests. Children are killed when the test's
 * scope closes, so a failing test never leaves a server behind.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** A running (or finished) child: its output so far and its exit. */
export interface Child {
  readonly process: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Environment for a child: only what a fresh shell would have, plus `env`. */
const childEnv = (env: Record<string, string>) => {
  const base: Record<string, string> = {}
  for (const key of ["PATH", "HOME", "TMPDIR", "LANG"]) {
    const value = process.env[key]
    if (value !== undefined) base[key] = value
  }
  return { ...base, LOG_FORMAT: "json", ...env }
}

/**
 * Starts `node --import tsx src/main.ts ...args` (what `npm start` runs) with a clean
 * environment plus `env`. Not the `tsx` CLI: it SIGKILLs a child that is too busy
 * to acknowledge a relayed SIGTERM within 30 ms, which defeats graceful shutdown.
 */
export const lectern = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { cwd: root, env: childEnv(env), stdio: "pipe" })
      let out = ""
      let err = ""
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")))
      child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")))
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal }))
      )
      return { process: child, stdout: () => out, stderr: () => err, exit }
    }),
    (child) =>
      Effect.sync(() => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
      })
  )

/** Runs a command to completion, bounded by `timeoutMs`. */
export const runLectern = (args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 60_000) =>
  Effect.scoped(
    Effect.gen(function*() {
      const child = yield* lectern(args, env)
      const { code } = yield* Effect.promise(() => child.exit).pipe(
        Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new Error(`lectern ${args.join(" ")} hung`) }),
        Effect.orDie
      )
      return { code, stdout: child.stdout(), stderr: child.stderr() }
    })
  )

/** A free TCP port on loopback. */
export const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Polls `url` until it answers 200, or fails after `timeoutMs`. */
export const waitUntilReady = (url: string, child: Child, timeoutMs = 30_000) =>
  Effect.gen(function*() {
    const started = Date.now()
    while (Date.now() - started < timeoutMs) {
      if (child.process.exitCode !== null) {
        return yield* Effect.dieMessage(`server exited early:\n${child.stderr()}\n${child.stdout()}`)
      }
      const ok = yield* Effect.promise(() =>
        fetch(url).then((r) => r.status === 200, () => false)
      )
      if (ok) return Date.now() - started
      yield* Effect.sleep("200 millis")
    }
    return yield* Effect.dieMessage(`not ready after ${timeoutMs} ms:\n${child.stderr()}\n${child.stdout()}`)
  })
