/**
 * `npm run bench:fanout`: realtime fan-out of Lectern (a real `lectern serve`
 * child on PostgreSQL, lesson rooms, chat.send commands) side by side with a
 * minimal raw `ws` broadcast server (encode once) and Socket.IO 4 with its msgpack
 * parser, each server in its own process, clients in this one. Measures:
 *   - throughput: rooms × subscribers, every room's publisher sends N messages
 *     (Lectern: up to 200 commands in flight per room); delivered messages/s;
 *   - latency: 10 msg/s per room for a few seconds; p50/p95/p99 send → receive;
 *   - loss in both, and server RSS per idle authenticated connection (first, on the fresh server, with forced GCs).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:fanout [-- --rooms 10 --subs 100 --messages 200]
 *
 * For investigating (figures to compare still come from a full run): BENCH_ONLY=0,2 runs only those systems
 * (0 raw ws, 1 Socket.IO, 2 Lectern typing, 3 Lectern chat.send); BENCH_CHILD_NODE_ARGS passes node flags to
 * the server processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted, Schema } from "effect"
import { Packr } from "msgpackr"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { io as socketIo, type Socket as SioSocket } from "socket.io-client"
import msgpackParser from "socket.io-msgpack-parser"
import WebSocket from "ws"
import { DatabaseLive, MessagingLive, ServicesLive } from "../src/App.ts"
import { AppConfig } from "../src/layers/AppConfig.ts"
import { CreateLessonRequest } from "../src/schemas/Lessons.ts"
import { Lessons } from "../src/services/Lessons.ts"
import { Relations } from "../src/services/Relations.ts"
import { Tokens } from "../src/services/Tokens.ts"
import { Users } from "../src/services/Users.ts"

const root = fileURLToPath(new URL("..", import.meta.url))
const packr = new Packr({ useRecords: false })
const secret = randomBytes(32).toString("hex")

/** A system under test: how to join rooms, publish, and recognise a delivery. */
interface System {
  readonly name: string
  readonly pid: number
  /** Opens a subscriber of `room`; calls `onMessage(sentAtMs)` per delivered room message. */
  readonly subscriber: (room: number, onMessage: (sentAt: number) => void) => Promise<() => void>
  /** A publisher of `room`: `publish(sentAtMs)` resolves when the server accepted it (Lectern: acked). */
  readonly publisher: (room: number) => Promise<{ readonly publish: (sentAt: number) => Promise<void>; readonly close: () => void }>
  /** An idle authenticated connection. */
  readonly idle: () => Promise<() => void>
  readonly stop: () => Promise<void>
}

const options = (args: ReadonlyArray<string>) => {
  const get = (flag: string, fallback: number) => {
    const i = args.indexOf(flag)
    const value = i >= 0 ? Number(args[i + 1]) : fallback
    return Number.isFinite(value) && value > 0 ? value : fallback
  }
  return {
    rooms: get("--rooms", 10),
    subs: get("--subs", 100),
    messages: get("--messages", 200),
    seconds: get("--seconds", 20),
    idle: get("--idle", 2000)
  }
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const startChild = (args: ReadonlyArray<string>, env: Record<string, string>, ready: () => Promise<boolean>) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const extra = (process.env.BENCH_CHILD_NODE_ARGS ?? "").split(" ").filter((a) => a !== "")
    const child = spawn(process.execPath, ["--expose-gc", "--import", gcOnSignal, ...extra, "--import", "tsx", ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warning", ...env },
      stdio: ["ignore", process.env.BENCH_CHILD_STDOUT === "1" ? "inherit" : "pipe", "inherit"]
    })
    child.stdout?.resume()
    const started = Date.now()
    const poll = async () => {
      if (child.exitCode !== null) return reject(new Error(`${args.join(" ")} exited`))
      if (await ready().catch(() => false)) return resolve(child)
      if (Date.now() - started > 60_000) return reject(new Error(`${args.join(" ")} not ready`))
      setTimeout(poll, 200)
    }
    void poll()
  })

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
    setTimeout(() => child.kill("SIGKILL"), 10_000).unref()
  })

const gcOnSignal = new URL("./_gc-on-signal.mjs", import.meta.url).href

/** CPU time (user + system, ms) the process has used so far. */
const cpuMs = (pid: number) => {
  // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name; in clock ticks (100 per second).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const rssKb = (pid: number) => {
  const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return match === null ? 0 : Number(match[1])
}

/** RSS after a forced full GC in the server (median of three), so two samples differ by retained memory. */
const settledRssKb = async (pid: number) => {
  const samples: Array<number> = []
  for (let i = 0; i < 3; i++) {
    process.kill(pid, "SIGUSR2")
    await sleep(400)
    samples.push(rssKb(pid))
  }
  return samples.sort((a, b) => a - b)[1] ?? 0
}

const openWs = (url: string, onMessage: (data: Buffer) => void) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    ws.on("message", onMessage)
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })

// --- Lectern -------------------------------------------------------------------

/**
 * Lectern with `mode`: "durable" publishes chat.send commands (each message
 * committed to PostgreSQL with its room seq before fan-out); "ephemeral" publishes
 * typing commands (Bus only), the same fan-out path without the database. Typing
 * events carry no timestamp, so their send times are remembered per room, in order.
 */
const lecternSystem = async (adminUrl: string, roomCount: number, mode: "durable" | "ephemeral"): Promise<System> => {
  const sentTimes: Array<Array<number>> = Array.from({ length: roomCount }, () => [])
  const name = `bench_fanout_${randomBytes(3).toString("hex")}`
  const admin = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(adminUrl), maxConnections: 1 }))
  await admin.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE ${name}`)))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  // Seed through the services (this process), then serve from a child on the same database.
  const config = AppConfig.layerTest({
    database: { _tag: "Postgres", url: Redacted.make(url.toString()) },
    jwtSecret: Option.some(Redacted.make(secret))
  })
  const seeding = ManagedRuntime.make(
    ServicesLive.pipe(
      Layer.provideMerge(Layer.mergeAll(DatabaseLive, MessagingLive)),
      Layer.provideMerge(config),
      Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
    )
  )
  const seeded = await seeding.runPromise(Effect.gen(function*() {
    const users = yield* Users
    const tutor = yield* users.create({ email: `tutor-${name}@bench.local`, password: "bench-password-1", role: "tutor" })
    const student = yield* users.create({ email: `student-${name}@bench.local`, password: "bench-password-1", role: "student" })
    yield* (yield* Relations).create({ id: tutor.id, role: "tutor" }, { studentId: student.id })
    const lessons = yield* Lessons
    const startsAt = new Date(Date.now() + 3_600_000)
    const ids: Array<string> = []
    for (let i = 0; i < roomCount; i++) {
      const request = yield* Schema.decode(CreateLessonRequest)({
        title: `Bench ${i}`,
        studentIds: [student.id],
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString()
      })
      ids.push((yield* lessons.create({ id: tutor.id, role: "tutor" }, request)).id)
    }
    const tokens = yield* Tokens
    return {
      lessons: ids,
      tutorToken: (yield* tokens.issue(tutor, "bench")).token,
      studentToken: (yield* tokens.issue(student, "bench")).token
    }
  }).pipe(Effect.orDie))
  await seeding.dispose()

  const port = await freePort()
  const child = await startChild(["src/main.ts", "serve"], {
    DATABASE_URL: url.toString(),
    JWT_SECRET: secret,
    HOST: "127.0.0.1",
    PORT: String(port),
    WORKERS_IN_PROCESS: "false",
    WS_COMMAND_RATE: "100000",
    WS_COMMAND_BURST: "100000",
    ACCESS_TOKEN_TTL: "1 hour"
  }, () => fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok))
  const wsUrl = `ws://127.0.0.1:${port}/ws`

  /** Opens a connection as `token`, subscribed to the room's channel. */
  const join = async (token: string, room: number, onFrame: (frame: Record<string, unknown>) => void) => {
    const channel = `lesson:${seeded.lessons[room]}`
    let joined: () => void = () => {}
    const subscribed = new Promise<void>((resolve) => (joined = resolve))
    const ws = await openWs(wsUrl, (data) => {
      const frame = packr.unpack(data) as Record<string, unknown>
      if (frame.t === "ack" && frame.id === 0) joined()
      onFrame(frame)
    })
    ws.send(packr.pack({ t: "connect", v: 1, token }))
    ws.send(packr.pack({ t: "sub", id: 0, channel }))
    await subscribed
    return { ws, channel }
  }

  return {
    name: mode === "durable" ? "Lectern (chat.send, durable)" : "Lectern (typing, ephemeral)",
    pid: child.pid ?? 0,
    subscriber: async (room, onMessage) => {
      let received = 0
      const times = sentTimes[room] ?? []
      const { ws } = await join(seeded.studentToken, room, (frame) => {
        if (frame.t !== "event") return
        if (mode === "durable" && frame.type === "chat.created") {
          const data = frame.data as { body?: unknown }
          onMessage(Number(data.body))
        } else if (mode === "ephemeral" && frame.type === "typing") {
          onMessage(times[received++] ?? Number.NaN)
        }
      })
      return () => ws.terminate()
    },
    publisher: async (room) => {
      const waiting = new Map<number, () => void>()
      let nextId = 1
      const { ws, channel } = await join(seeded.tutorToken, room, (frame) => {
        if ((frame.t === "ack" || frame.t === "error") && typeof frame.id === "number") waiting.get(frame.id)?.()
      })
      return {
        publish: (sentAt) =>
          new Promise<void>((resolve) => {
            const id = nextId++
            waiting.set(id, () => {
              waiting.delete(id)
              resolve()
            })
            if (mode === "durable") {
              ws.send(packr.pack({ t: "cmd", id, channel, type: "chat.send", data: { body: String(sentAt) } }))
            } else {
              sentTimes[room]?.push(sentAt)
              ws.send(packr.pack({ t: "cmd", id, channel, type: "typing", data: { typing: true } }))
            }
          }),
        close: () => ws.terminate()
      }
    },
    idle: async () => {
      let hello: () => void = () => {}
      const connected = new Promise<void>((resolve) => (hello = resolve))
      const ws = await openWs(wsUrl, () => hello())
      ws.send(packr.pack({ t: "connect", v: 1, token: seeded.studentToken }))
      await connected
      return () => ws.terminate()
    },
    stop: async () => {
      await stopChild(child)
      await admin.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
      await admin.dispose()
    }
  }
}

// --- baselines -----------------------------------------------------------------

const rawSystem = async (): Promise<System> => {
  const port = await freePort()
  const child = await startChild(["bench/_fanout-baselines.ts", "raw", String(port)], {}, () =>
    openWs(`ws://127.0.0.1:${port}`, () => {}).then((ws) => (ws.terminate(), true)))
  const url = `ws://127.0.0.1:${port}`
  const join = async (room: number, onData: (data: Buffer) => void) => {
    const ws = await openWs(url, onData)
    ws.send(packr.pack({ room }))
    return ws
  }
  return {
    name: "raw ws",
    pid: child.pid ?? 0,
    subscriber: async (room, onMessage) => {
      const ws = await join(room, (data) => {
        const frame = packr.unpack(data) as { data?: { body?: unknown } }
        onMessage(Number(frame.data?.body))
      })
      return () => ws.terminate()
    },
    publisher: async (room) => {
      const ws = await join(room, () => {})
      return {
        publish: (sentAt) =>
          new Promise<void>((resolve) =>
            ws.send(packr.pack({ t: "event", channel: `room:${room}`, type: "chat.created", data: { body: String(sentAt) } }), () => resolve())
          ),
        close: () => ws.terminate()
      }
    },
    idle: async () => {
      const ws = await join(0 - 1, () => {})
      return () => ws.terminate()
    },
    stop: () => stopChild(child)
  }
}

const socketIoSystem = async (): Promise<System> => {
  const port = await freePort()
  const child = await startChild(["bench/_fanout-baselines.ts", "socketio", String(port)], {}, () =>
    fetch(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`).then(() => true))
  const connect = () =>
    new Promise<SioSocket>((resolve) => {
      const socket = socketIo(`http://127.0.0.1:${port}`, { parser: msgpackParser, transports: ["websocket"], forceNew: true })
      socket.once("connect", () => resolve(socket))
    })
  return {
    name: "Socket.IO 4 (msgpack)",
    pid: child.pid ?? 0,
    subscriber: async (room, onMessage) => {
      const socket = await connect()
      socket.on("event", (payload: { data?: { body?: unknown } }) => onMessage(Number(payload.data?.body)))
      socket.emit("join", String(room))
      await new Promise((r) => setTimeout(r, 1))
      return () => socket.disconnect()
    },
    publisher: async (room) => {
      const socket = await connect()
      return {
        publish: (sentAt) =>
          new Promise<void>((resolve) => {
            socket.emit("pub", String(room), { t: "event", channel: `room:${room}`, type: "chat.created", data: { body: String(sentAt) } })
            resolve()
          }),
        close: () => socket.disconnect()
      }
    },
    idle: async () => {
      const socket = await connect()
      return () => socket.disconnect()
    },
    stop: () => stopChild(child)
  }
}

// --- measurements ----------------------------------------------------------------

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Server RSS growth per idle authenticated connection, measured first on the fresh server: a warm-up round
 * (so code compiled for the first connections is not counted), then forced-GC samples around `count` connections.
 */
const idleConnectionKb = async (system: System, count: number) => {
  const open = async (n: number) => {
    const closers: Array<() => void> = []
    for (let i = 0; i < n; i += 100) closers.push(...await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => system.idle())))
    return closers
  }
  for (const close of await open(200)) close()
  await sleep(500)
  const before = await settledRssKb(system.pid)
  const idle = await open(count)
  await sleep(1_000)
  const perConnectionKb = (await settledRssKb(system.pid) - before) / count
  for (const close of idle) close()
  await sleep(500)
  return perConnectionKb
}

const measure = async (system: System, o: ReturnType<typeof options>) => {
  const perConnectionKb = await idleConnectionKb(system, o.idle)
  let delivered = 0
  let latencies: Array<number> = []
  let recordLatency = false
  const closers: Array<() => void> = []
  for (let room = 0; room < o.rooms; room++) {
    const batch = await Promise.all(Array.from({ length: o.subs }, () =>
      system.subscriber(room, (sentAt) => {
        delivered++
        if (recordLatency) latencies.push(performance.timeOrigin + performance.now() - sentAt)
      })))
    closers.push(...batch)
  }
  const publishers = await Promise.all(Array.from({ length: o.rooms }, (_, room) => system.publisher(room)))
  await sleep(1_000)

  // Throughput: every room publishes `messages`, up to 200 in flight per room (the baselines send without waiting;
  // Lectern's commands are acknowledged, and its per-connection inbound queue holds 256 frames).
  delivered = 0
  const expected = o.rooms * o.subs * o.messages
  const started = performance.now()
  await Promise.all(publishers.map(async (p) => {
    let sent = 0
    const lane = async () => {
      while (sent < o.messages) {
        sent++
        await p.publish(Date.now())
      }
    }
    await Promise.all(Array.from({ length: Math.min(200, o.messages) }, lane))
  }))
  while (delivered < expected && performance.now() - started < 60_000) await sleep(5)
  const elapsed = (performance.now() - started) / 1000
  const throughput = { perSecond: delivered / elapsed, loss: 1 - delivered / expected }
  await sleep(500)

  // Latency: 10 msg/s per room.
  delivered = 0
  latencies = []
  recordLatency = true
  const ticks = o.seconds * 10
  const cpuBefore = cpuMs(system.pid)
  const t0 = performance.now()
  for (let tick = 0; tick < ticks; tick++) {
    for (const p of publishers) void p.publish(Date.now())
    await sleep(Math.max(0, t0 + (tick + 1) * 100 - performance.now()))
  }
  await sleep(1_000)
  const serverCpuMs = cpuMs(system.pid) - cpuBefore
  recordLatency = false
  const sorted = latencies.sort((a, b) => a - b)
  const latency = {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    loss: 1 - delivered / (ticks * o.rooms * o.subs),
    // Server CPU per published message in the latency phase: steadier than p99 on a noisy machine.
    serverCpuUs: (serverCpuMs * 1000) / (ticks * o.rooms)
  }
  for (const p of publishers) p.close()
  for (const close of closers) close()
  await sleep(1_000)

  return { throughput, latency, perConnectionKb }
}

const fmt = (n: number, digits = 0) => Number.isFinite(n) ? n.toFixed(digits) : "n/a"

/** Runs every system and prints a Markdown table with ratios to raw ws and Socket.IO. */
export default async function bench(args: ReadonlyArray<string>) {
  const adminUrl = process.env.DATABASE_URL
  if (adminUrl === undefined || adminUrl === "") {
    console.error("bench:fanout needs DATABASE_URL (a PostgreSQL the benchmark may create databases in)")
    process.exit(2)
  }
  const o = options(args)
  console.log(`fan-out: ${o.rooms} rooms × ${o.subs} subscribers, ${o.messages} messages per room; latency at 10 msg/s per room for ${o.seconds} s; ${o.idle} idle connections`)
  const results: Array<{ name: string; r: Awaited<ReturnType<typeof measure>> }> = []
  const systems = [
    () => rawSystem(),
    () => socketIoSystem(),
    () => lecternSystem(adminUrl, o.rooms, "ephemeral"),
    () => lecternSystem(adminUrl, o.rooms, "durable")
  ]
  const only = process.env.BENCH_ONLY
  for (const [index, make] of systems.entries()) {
    if (only !== undefined && !only.split(",").includes(String(index))) continue
    const system = await make()
    try {
      results.push({ name: system.name, r: await measure(system, o) })
      console.log(`  ${system.name}: done`)
    } finally {
      await system.stop()
    }
  }
  const raw = results[0]?.r
  const sio = results[1]?.r
  console.log("\n| system | delivered msg/s | vs raw ws | vs Socket.IO | loss | p50 ms | p95 ms | p99 ms | p99 vs raw ws | server CPU µs/msg | RSS/idle conn KB |")
  console.log("|---|---|---|---|---|---|---|---|---|---|---|")
  for (const { name, r } of results) {
    console.log(
      `| ${name} | ${fmt(r.throughput.perSecond)} | ${fmt(r.throughput.perSecond / (raw?.throughput.perSecond ?? 1), 2)}× | ${
        fmt(r.throughput.perSecond / (sio?.throughput.perSecond ?? 1), 2)
      }× | ${fmt(Math.max(r.throughput.loss, r.latency.loss) * 100, 2)}% | ${fmt(r.latency.p50, 1)} | ${fmt(r.latency.p95, 1)} | ${
        fmt(r.latency.p99, 1)
      } | ${fmt(r.latency.p99 / (raw?.latency.p99 ?? 1), 2)}× | ${fmt(r.latency.serverCpuUs)} | ${fmt(r.perConnectionKb, 1)} |`
    )
  }
  process.exit(0)
}
