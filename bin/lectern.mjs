#!/usr/bin/env node
// The `lectern` command: runs the compiled build when present (`npm run build`),
// otherwise the TypeScript sources through tsx's loader.
import { existsSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

const compiled = fileURLToPath(new URL("../dist/main.js", import.meta.url))
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import(new URL("../src/main.ts", import.meta.url).href)
}
