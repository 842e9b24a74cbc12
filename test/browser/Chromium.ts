/**
 * The browser side of browser tests: a loopback HTTP server for a page, the
 * client bundle and the page's harness, and Debian's Chromium driven through
 * playwright-core with a throwaway profile (no browser is ever downloaded).
 */
import { Effect } from "effect"
import { transform } from "esbuild"
import { existsSync } from "node:fs"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium, type Page } from "playwright-core"
import { bundleClient } from "../../scripts/ClientBundle.ts"

const chromiumPath = "/usr/bin/chromium"
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Lectern client</title></head>
<body><script type="module" src="/harness.js"></script></body></html>`

/** Serves the page, the production client bundle and the harness on 127.0.0.1; yields the page URL. */
export const servePage = Effect.gen(function*() {
  const bundle = yield* Effect.promise(bundleClient)
  const harnessSource = yield* Effect.promise(() => readFile(new URL("./harness.ts", import.meta.url), "utf8"))
  const harness = yield* Effect.promise(() => transform(harnessSource, { loader: "ts", format: "esm", target: "es2022" }))
  const files = new Map([
    ["/", { type: "text/html; charset=utf-8", body: page }],
    ["/lectern-client.js", { type: "text/javascript; charset=utf-8", body: bundle.code }],
    ["/harness.js", { type: "text/javascript; charset=utf-8", body: harness.code }]
  ])
  const server = createServer((request, response) => {
    const file = files.get(request.url ?? "")
    response.writeHead(file === undefined ? 404 : 200, { "content-type": file?.type ?? "text/plain" })
    response.end(file?.body ?? "not found")
  })
  return yield* Effect.acquireRelease(
    Effect.async<string>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(`http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/`))
      })
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        // Chromium may hold a preconnected socket that never sends a request: close()
        // alone would wait for the server's header timeout on it.
        server.closeAllConnections()
      })
  )
})

/** A Chromium page on a fresh profile, with uncaught page errors collected; closed with the scope. */
export const chromiumPage = Effect.gen(function*() {
  if (!existsSync(chromiumPath)) {
    return yield* Effect.dieMessage(`${chromiumPath} is missing: apt-get install chromium`)
  }
  const profile = yield* Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "lectern-chromium-"))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
  const context = yield* Effect.acquireRelease(
    Effect.promise(() =>
      chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        args: chromiumArgs,
        timeout: 60_000
      })
    ),
    (context) => Effect.promise(() => context.close())
  )
  const tab: Page = context.pages()[0] ?? (yield* Effect.promise(() => context.newPage()))
  const pageErrors: Array<string> = []
  tab.on("pageerror", (error) => void pageErrors.push(String(error)))
  return { page: tab, pageErrors }
})
