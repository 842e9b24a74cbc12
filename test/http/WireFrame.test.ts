import { describe, expect, it } from "@effect/vitest"
import { createServer } from "node:net"
import WebSocket from "ws"
import { binaryFrame } from "../../src/http/WireFrame.ts"

const handshake = (key: string) =>
  import("node:crypto").then(({ createHash }) =>
    createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64"))

describe("WireFrame", () => {
  it("frames a payload once: FIN + binary, unmasked, with 7-, 16- and 64-bit lengths", () => {
    const small = new Uint8Array(125).fill(1)
    const medium = new Uint8Array(300).fill(2)
    const large = new Uint8Array(70_000).fill(3)
    expect([...binaryFrame(small).subarray(0, 2)]).toEqual([0x82, 125])
    expect([...binaryFrame(medium).subarray(0, 4)]).toEqual([0x82, 126, 0x01, 0x2c])
    expect([...binaryFrame(large).subarray(0, 10)]).toEqual([0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70])
    expect(binaryFrame(large).byteLength).toBe(70_010)
    expect(binaryFrame(medium)).toBe(binaryFrame(medium))
  })

  it("a ws client reads the frames written straight to the socket, small to large, in order", async () => {
    const payloads = [10, 125, 126, 65_535, 65_536, 200_000].map((n, i) => new Uint8Array(n).fill(i + 1))
    const server = createServer((socket) => {
      socket.once("data", async (request) => {
        const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request.toString())?.[1] ?? ""
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${await handshake(key)}\r\n\r\n`)
        socket.cork()
        for (const payload of payloads) socket.write(binaryFrame(payload))
        socket.uncork()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    const received = await new Promise<Array<Buffer>>((resolve, reject) => {
      const got: Array<Buffer> = []
      const ws = new WebSocket(`ws://127.0.0.1:${port}`)
      ws.on("message", (data: Buffer, isBinary) => {
        if (!isBinary) reject(new Error("text frame"))
        got.push(data)
        if (got.length === payloads.length) {
          ws.terminate()
          resolve(got)
        }
      })
      ws.on("error", reject)
    })
    server.close()
    expect(received.map((b) => b.byteLength)).toEqual(payloads.map((p) => p.byteLength))
    expect(received.map((b) => b[0])).toEqual(payloads.map((_, i) => i + 1))
  })
})
