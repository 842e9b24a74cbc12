/**
 * The `ws` package behind the client's `WebSocketLike`, for Node versions
 * without a global WebSocket (Node 20). Browsers and Node 22+ need nothing.
 */
import WebSocket from "ws"
import type { WebSocketLike } from "./RealtimeClient.ts"

/** A `ws` socket with the WHATWG event names the client uses. */
export class NodeWebSocket implements WebSocketLike {
  private readonly socket: WebSocket
  constructor(url: string) {
    this.socket = new WebSocket(url)
  }
  get binaryType() {
    return this.socket.binaryType
  }
  set binaryType(value: string) {
    this.socket.binaryType = value === "arraybuffer" ? "arraybuffer" : "nodebuffer"
  }
  get readyState() {
    return this.socket.readyState
  }
  send(data: Uint8Array) {
    this.socket.send(data)
  }
  close(code?: number, reason?: string) {
    this.socket.close(code, reason)
  }
  addEventListener(type: "open" | "close" | "message" | "error", listener: (event: never) => void) {
    const call = listener as (event: unknown) => void
    switch (type) {
      case "open":
        return void this.socket.on("open", () => call({}))
      case "close":
        return void this.socket.on("close", (code: number) => call({ code }))
      case "message":
        return void this.socket.on("message", (data: ArrayBuffer | Buffer) => call({ data }))
      case "error":
        return void this.socket.on("error", (error: Error) => call({ error }))
    }
  }
}
