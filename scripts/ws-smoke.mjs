// The realtime half of the Deno smoke test (scripts/deno-smoke.sh), run by Node against a server under Deno:
// connect with a token, subscribe to the user's own channel, ping, then wait for the server's close (the script
// sends SIGTERM and expects 4001 "reconnect elsewhere").
// Usage: node scripts/ws-smoke.mjs <ws-url> <access-token> <user-id>  → prints "ws: …" lines, exits 0 when all held.
import { Packr } from "msgpackr"
import WebSocket from "ws"

const [url, token, userId] = process.argv.slice(2)
const packr = new Packr({ useRecords: false })
const fail = (why) => {
  console.error(`ws-smoke: ${why}`)
  process.exit(1)
}
setTimeout(() => fail("timed out"), 30_000).unref()

const ws = new WebSocket(url, { perMessageDeflate: false })
const send = (frame) => ws.send(packr.pack(frame))
ws.on("open", () => send({ t: "connect", v: 1, token }))
ws.on("message", (data) => {
  const frame = packr.unpack(data)
  if (frame.t === "connected") {
    if (frame.userId !== userId) fail(`connected as ${frame.userId}`)
    console.log("ws: connected")
    send({ t: "sub", id: 1, channel: `user:${userId}` })
  } else if (frame.t === "ack" && frame.id === 1) {
    console.log("ws: subscribed to its user channel")
    send({ t: "ping" })
  } else if (frame.t === "pong") {
    console.log("ws: pong")
    console.log("ready-for-shutdown")
  } else if (frame.t === "error") {
    fail(`error frame ${frame.code}: ${frame.detail}`)
  }
})
ws.on("close", (code) => {
  if (code !== 4001) fail(`closed with ${code}, expected 4001 (shutdown)`)
  console.log("ws: closed with 4001 on shutdown")
  process.exit(0)
})
ws.on("error", (error) => fail(error.message))
