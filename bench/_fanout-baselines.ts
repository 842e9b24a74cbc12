/**
 * Baseline servers of `bench:fanout`, run as child processes so each system
 * gets its own event loop: `raw` — a minimal `ws` broadcast server that forwards
 * a publisher's frame bytes unchanged to every socket of the room (encode once);
 * `socketio` — Socket.IO 4 with its msgpack parser, `io.to(room).emit`.
 * Usage: node --import tsx bench/_fanout-baselines.ts <raw|socketio> <port>
 */
import { createServer } from "node:http"
import { Server as SocketIoServer } from "socket.io"
import msgpackParser from "socket.io-msgpack-parser"
import { WebSocketServer, type WebSocket } from "ws"
import { Packr } from "msgpackr"

const [kind, portArg] = process.argv.slice(2)
// Exit normally on the benchmark's SIGTERM, so `--cpu-prof` (BENCH_CHILD_NODE_ARGS) writes its profile.
process.on("SIGTERM", () => process.exit(0))
const port = Number(portArg)
const packr = new Packr({ useRecords: false })

if (kind === "raw") {
  const rooms = new Map<string, Set<WebSocket>>()
  const wss = new WebSocketServer({ port, host: "127.0.0.1", perMessageDeflate: false, clientTracking: false })
  wss.on("connection", (ws) => {
    let room: string | undefined
    ws.on("message", (data: Buffer) => {
      if (room === undefined) {
        const hello = packr.unpack(data) as { room?: unknown }
        room = String(hello.room)
        const members = rooms.get(room) ?? new Set<WebSocket>()
        members.add(ws)
        rooms.set(room, members)
        return
      }
      // A publisher's frame: the same bytes to every member (publisher sockets join a room too).
      for (const member of rooms.get(room) ?? []) if (member !== ws) member.send(data)
    })
    ws.on("close", () => room !== undefined && rooms.get(room)?.delete(ws))
  })
  wss.on("listening", () => console.log("ready"))
} else if (kind === "socketio") {
  const server = createServer()
  const io = new SocketIoServer(server, { parser: msgpackParser, transports: ["websocket"], perMessageDeflate: false })
  io.on("connection", (socket) => {
    socket.on("join", (room: string) => void socket.join(room))
    socket.on("pub", (room: string, payload: unknown) => void socket.to(room).emit("event", payload))
  })
  server.listen(port, "127.0.0.1", () => console.log("ready"))
} else {
  console.error("usage: _fanout-baselines.ts <raw|socketio> <port>")
  process.exit(2)
}
