/**
 * Bundles the realtime client (src/client/RealtimeClient.ts with effect, msgpackr
 * and the frame schemas) into one browser ES module. Used by `npm run build:client`
 * and by the browser test, which serves exactly these bytes to Chromium.
 */
import { build, type Metafile } from "esbuild"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

const entry = fileURLToPath(new URL("../src/client/RealtimeClient.ts", import.meta.url))

/** Inputs that must never reach a browser: the `ws` package (NodeWebSocket.ts) and Node built-ins. */
const nodeOnly = (input: string) => /(^|\/)node_modules\/ws\//.test(input) || input.startsWith("node:") || input.endsWith("NodeWebSocket.ts")

/** A built bundle: the module's text and what went into it. */
export interface ClientBundle {
  readonly code: string
  readonly bytes: number
  readonly gzipBytes: number
  /** Bytes of output per package (or `src` for the project's own files), largest first. */
  readonly byPackage: ReadonlyArray<readonly [string, number]>
}

const packageOf = (input: string) => {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)
  return match?.[1] ?? "src"
}

const sizesByPackage = (metafile: Metafile) => {
  const sizes = new Map<string, number>()
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input)
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput)
    }
  }
  return [...sizes].sort((a, b) => b[1] - a[1])
}

/** Builds the minified browser bundle in memory; rejects if anything Node-only got in. */
export const bundleClient = async (): Promise<ClientBundle> => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    treeShaking: true,
    write: false,
    metafile: true,
    logLevel: "silent",
    legalComments: "none"
  })
  const leaked = Object.keys(result.metafile.inputs).filter(nodeOnly)
  if (leaked.length > 0) throw new Error(`the browser bundle pulls in Node-only modules: ${leaked.join(", ")}`)
  const [output] = result.outputFiles
  if (output === undefined) throw new Error("esbuild produced no output")
  return {
    code: output.text,
    bytes: output.contents.byteLength,
    gzipBytes: gzipSync(output.contents, { level: 9 }).byteLength,
    byPackage: sizesByPackage(result.metafile)
  }
}
