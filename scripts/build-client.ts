/**
 * `npm run build:client`: writes the browser bundle of the realtime client to
 * dist/browser/lectern-client.js and prints its size, minified and gzipped.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { relative } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleClient } from "./ClientBundle.ts"

const outFile = fileURLToPath(new URL("../dist/browser/lectern-client.js", import.meta.url))
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`

const bundle = await bundleClient()
mkdirSync(fileURLToPath(new URL("../dist/browser/", import.meta.url)), { recursive: true })
writeFileSync(outFile, bundle.code)
console.log(`${relative(process.cwd(), outFile)}: ${kib(bundle.bytes)} minified, ${kib(bundle.gzipBytes)} gzipped`)
for (const [name, bytes] of bundle.byPackage) console.log(`  ${name.padEnd(12)} ${kib(bytes)}`)
