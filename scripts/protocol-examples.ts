/**
 * Prints the example frames of docs/protocol.md as hex dumps (the bytes this
 * build encodes), so the document can be checked against the codec:
 * `npx tsx scripts/protocol-examples.ts`.
 */
import { encodeFrame } from "../src/schemas/FrameCodec.ts"
import type { ClientFrame, ServerFrame } from "../src/schemas/Frames.ts"

/** The documented examples, by name. */
export const examples: ReadonlyArray<readonly [string, ClientFrame | ServerFrame]> = [
  ["connect", { t: "connect", v: 1, token: "eyJhbGciOi…" }],
  ["connected", { t: "connected", v: 1, connectionId: "k3Jd9a:1", userId: "5f0c…", pingInterval: 20000, pingTimeout: 50000, expiresAt: 1764057600000 }],
  ["refresh", { t: "refresh", id: 7, token: "eyJhbGciOi…" }],
  ["sub", { t: "sub", id: 1, channel: "lesson:7c0e…", recover: { epoch: "9f2c", seq: 41 } }],
  ["unsub", { t: "unsub", id: 2, channel: "lesson:7c0e…" }],
  ["cmd", { t: "cmd", id: 3, channel: "lesson:7c0e…", type: "chat.send", data: { body: "Hi", clientMessageId: "c-1" } }],
  ["ping", { t: "ping" }],
  ["ack", { t: "ack", id: 3, data: { duplicate: false } }],
  ["error", { t: "error", id: 3, code: "VALIDATION_ERROR", detail: "Invalid input: body", fields: { body: "is empty" } }],
  ["event", { t: "event", channel: "lesson:7c0e…", type: "chat.created", data: { body: "Hi" }, seq: 42, epoch: "9f2c" }],
  ["presence.join", {
    t: "event",
    channel: "lesson:7c0e…",
    type: "presence.join",
    data: { connectionId: "k3Jd9a:1", userId: "5f0c…", displayName: "Ann", role: "student", status: "online", since: 1764057600000 }
  }],
  ["unsubscribed", { t: "unsubscribed", channel: "lesson:7c0e…", code: "SUBSCRIPTION_REVOKED", detail: "You are no longer a member of this lesson" }],
  ["pong", { t: "pong" }],
  ["disconnect", { t: "disconnect", code: 4004, reason: "slow consumer", reconnect: true }]
]

/** Hex dump, 16 bytes per line. */
export const hex = (bytes: Uint8Array) => {
  const lines: Array<string> = []
  for (let i = 0; i < bytes.length; i += 16) {
    lines.push([...bytes.subarray(i, i + 16)].map((b) => b.toString(16).padStart(2, "0")).join(" "))
  }
  return lines.join("\n")
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, frame] of examples) {
    console.log(`### ${name}\n\`${JSON.stringify(frame)}\`\n\`\`\`\n${hex(encodeFrame(frame))}\n\`\`\`\n`)
  }
}
