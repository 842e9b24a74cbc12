import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { decodeClientFrame, encodeFrame } from "../../src/schemas/FrameCodec.ts"
import { CloseCodes, shouldReconnect } from "../../src/schemas/Frames.ts"
import { examples, hex } from "../../scripts/protocol-examples.ts"

const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8")

describe("realtime frames", () => {
  it("docs/protocol.md shows the bytes this codec produces for every example frame, and every close code", () => {
    for (const [name, frame] of examples) expect(doc, name).toContain(hex(encodeFrame(frame)))
    for (const code of Object.values(CloseCodes)) expect(doc).toContain(`| ${code} |`)
  })

  it("client frames round-trip; malformed ones name the offending fields", () => {
    const sub = { t: "sub", id: 1, channel: "lesson:7c0e", recover: { epoch: "e", seq: 3 } } as const
    expect(decodeClientFrame(encodeFrame(sub))).toEqual(Either.right(sub))
    const bad = decodeClientFrame(encodeFrame({ t: "sub", id: -1, channel: "no spaces allowed" } as never))
    expect(Either.isLeft(bad) && Object.keys(bad.left.fields).sort()).toEqual(["channel", "id"])
    expect(Either.isLeft(decodeClientFrame(new Uint8Array([0xc1])))).toBe(true)
  })

  it("close codes 4000–4499 mean reconnect, 4500–4999 do not", () => {
    expect(shouldReconnect(CloseCodes.SLOW_CONSUMER)).toBe(true)
    expect(shouldReconnect(CloseCodes.PING_TIMEOUT)).toBe(true)
    expect(shouldReconnect(CloseCodes.UNAUTHORIZED)).toBe(false)
    expect(shouldReconnect(CloseCodes.POLICY_VIOLATION)).toBe(false)
  })
})
