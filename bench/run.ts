/**
 * Benchmark runner: `npm run bench -- <name> [args…]` runs `bench/<name>.ts`, whose
 * default export takes the remaining arguments. Benchmarks compare Lectern with a
 * baseline side by side in one run and print ratios (the machine is small and noisy).
 */
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"

const dir = fileURLToPath(new URL(".", import.meta.url))
const available = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
const [name, ...args] = process.argv.slice(2)

if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join("|") || "name"}> [args…]`)
  process.exit(2)
}
const module: { default: (args: ReadonlyArray<string>) => Promise<void> } = await import(`./${name}.ts`)
await module.default(args)
