/**
 * The socket side of one WebSocket connection: the bounded outbound path (one
 * `writev` per event-loop turn, slow consumers closed), the inbound frame buffer,
 * deadlines on the gateway's shared tick (auth, ping, token expiry) and closing.
 * An idle connection is this plain state and its socket callbacks, no fiber: frames
 * that need work run on a short-lived fiber, one at a time in arrival order
 * (WsFrames.ts). Pings are answered inline.
 */
import { Duration, Effect, Either, type Scope } from "effect"
import type { Duplex } from "node:stream"
import { type WebSocket } from "ws"
import type { ChannelKind, ChannelSubscription, Connection } from "../actors/ChannelKind.ts"
import type { RealtimeConfig } from "../layers/AppConfig.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import type { CodedError } from "../schemas/ErrorCode.ts"
import { decodeClientFrame, encodeFrame } from "../schemas/FrameCodec.ts"
import { type ClientFrame, CloseCodes, type ServerFrame, shouldReconnect } from "../schemas/Frames.ts"
import type { FrameMalformed } from "../schemas/RealtimeErrors.ts"
import type { Tokens } from "../services/Tokens.ts"
import type { TokenBucket } from "./TokenBucket.ts"
import { binaryFrame } from "./WireFrame.ts"
import { revoke } from "./WsFrames.ts"

/** What every connection of a gateway shares. */
export interface GatewayEnv {
  readonly config: RealtimeConfig
  readonly kinds: ReadonlyMap<string, ChannelKind>
  readonly tokens: Tokens
  /**
   * Registers a callback the gateway calls about once a second with the current
   * time (ping watchdog, token expiry): one timer for all connections instead of
   * fibers per socket. Returns the unregister function.
   */
  readonly onTick: (tick: (now: number) => void) => () => void
  /** Forks `effect` into the gateway's fiber set (interrupted when the gateway stops). */
  readonly run: (effect: Effect.Effect<void>) => void
  /** Runs the frames of `connection` that are waiting, one at a time, on one fiber (WsFrames.ts). */
  readonly drain: (connection: WsConnection) => Effect.Effect<void>
}

/** A frame as received: its bytes (an error answers the id of an undecodable frame) and what they decode to. */
export interface Inbound {
  readonly bytes: Uint8Array
  readonly decoded: Either.Either<ClientFrame, FrameMalformed>
}

/** A channel of this connection: held-back events while joining, then the kind's handlers. */
export interface Joined {
  readonly scope: Scope.CloseableScope
  /** Encoded events that arrived before the subscribe was acknowledged. */
  pending: Array<Uint8Array> | undefined
  pendingBytes: number
  subscription: ChannelSubscription | undefined
  /** Set when access was revoked while the subscribe was still in progress: it is refused with this. */
  revoked: CodedError | undefined
}

// Inbound frames buffered per connection before the socket counts as flooding.
const inboundCapacity = 256

/** One accepted socket, from the first byte to the close. Frame semantics live in WsFrames.ts. */
export class WsConnection {
  closing = false
  /** The authenticated user: set once the `connect` frame verified. */
  user: CurrentUserInfo | undefined = undefined
  /** When the access token expires (ms); `refresh` frames move it. */
  expiresAt = Number.MAX_SAFE_INTEGER
  /** Subscribed channels by name; created by the first subscribe. */
  channels: Map<string, Joined> | undefined = undefined
  commandBucket: TokenBucket | undefined = undefined
  garbageBucket: TokenBucket | undefined = undefined
  private inbound: Array<Inbound> | undefined = undefined
  /** A fiber is running this connection's frames (or closing its channels). */
  private working = false
  private started = false
  private authDeadline = Number.MAX_SAFE_INTEGER
  private activity = 0
  private seen = 0
  private quietSince = 0
  private corked = false
  private unregisterTick: (() => void) | undefined = undefined
  private view: Connection | undefined = undefined

  constructor(
    readonly ws: WebSocket,
    private readonly socket: Duplex,
    readonly connectionId: string,
    readonly env: GatewayEnv
  ) {
    // Listeners attach before anything can arrive; everything else waits for `start`.
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary))
    ws.on("close", () => this.onClose())
    // Protocol errors (oversized or broken frames): ws closes the socket itself (1009/1002).
    ws.on("error", ignore)
  }

  /** Starts the authentication deadline at `now` (ms, from the gateway's `Clock`). */
  start(now: number) {
    if (this.closing) return
    this.started = true
    this.authDeadline = now + durationMs(this.env.config.authTimeout)
    this.unregisterTick = this.env.onTick((at) => this.tick(at))
  }

  /** Marks the connection authenticated as `user` at `now`; the ping watchdog starts counting here. */
  authenticated(user: CurrentUserInfo, expiresAt: number, now: number) {
    this.user = user
    this.expiresAt = expiresAt
    this.seen = this.activity
    this.quietSince = now
  }

  /** Writes bytes unless the queue for this socket is over its limit (then: slow consumer). */
  write(bytes: Uint8Array) {
    const ws = this.ws
    if (this.closing || ws.readyState !== ws.OPEN) return
    if (ws.bufferedAmount + bytes.byteLength > this.env.config.outboundLimitBytes) {
      return this.closeNow(CloseCodes.SLOW_CONSUMER, "slow consumer")
    }
    // Frames written in one turn of the event loop (a room's batch of events, an ack and the events after it) leave
    // in one `writev` of the upgraded socket instead of one system call per frame: the first write of a turn corks
    // the socket, the next tick uncorks it. Corked bytes count in `bufferedAmount`, so the outbound limit still holds.
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      corkedThisTick.push(this)
      if (corkedThisTick.length === 1) process.nextTick(uncorkAll)
    }
    // Straight to the socket, framed once per payload (WireFrame.ts); `ws` only frames control and close frames.
    // Socket-buffered bytes count in `bufferedAmount` all the same.
    this.socket.write(binaryFrame(bytes))
  }

  /** Ends this turn's cork (see `write`). */
  uncork() {
    this.corked = false
    this.socket.uncork()
  }

  sendFrame(frame: ServerFrame) {
    this.write(encodeFrame(frame))
  }

  /** An event frame on `channel` already encoded; held back while that channel's subscribe is unacknowledged. */
  deliver(channel: string, frame: Uint8Array) {
    const joined = this.channels?.get(channel)
    if (joined === undefined) return
    if (joined.pending === undefined) return this.write(frame)
    joined.pending.push(frame)
    joined.pendingBytes += frame.byteLength
    // Held-back events count against the same outbound limit as written ones.
    if (joined.pendingBytes + this.ws.bufferedAmount > this.env.config.outboundLimitBytes) {
      this.closeNow(CloseCodes.SLOW_CONSUMER, "slow consumer")
    }
  }

  /** Tells the client why (a `disconnect` frame, exempt from the queue limit), then closes. */
  closeNow(code: number, reason: string) {
    if (this.closing) return
    this.closing = true
    const ws = this.ws
    if (ws.readyState === ws.OPEN) {
      ws.send(encodeFrame({ t: "disconnect", code, reason, reconnect: shouldReconnect(code) }))
      ws.close(code, reason)
    }
    // Leave the channels now, not when the client completes the close handshake.
    this.leaveChannels()
  }

  /** The next frame to handle; `undefined` (and no longer working) when there is none or the socket is closing. */
  takeInbound(): Inbound | undefined {
    const next = this.closing ? undefined : this.inbound?.shift()
    if (next === undefined) {
      this.working = false
      this.inbound = undefined
    }
    return next
  }

  /** What channel kinds see of this connection (made on the first subscribe). */
  connection(user: CurrentUserInfo): Connection {
    if (this.view !== undefined) return this.view
    const view: Connection = {
      connectionId: this.connectionId,
      user,
      send: (event) => encodeAndDeliver(this, event.channel, { t: "event", ...event }),
      deliver: (channel, frame) => syncDeliver(this, channel, frame),
      unsafeDeliver: (channel, frame) => this.deliver(channel, frame),
      revoke: (channel, error) => revoke(this, channel, error),
      close: (code, reason) => syncClose(this, code, reason)
    }
    this.view = view
    return view
  }

  private onMessage(data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean) {
    this.activity++
    if (this.closing) return
    const bytes = toBytes(data)
    if (!isBinary || bytes === undefined) {
      return this.sendFrame({ t: "error", code: "FRAME_MALFORMED", detail: "Frames are binary MessagePack", fields: {} })
    }
    const decoded = decodeClientFrame(bytes)
    // Nothing is waiting before it, so a ping needs no fiber.
    if (!this.working && this.user !== undefined && Either.isRight(decoded) && decoded.right.t === "ping") {
      return this.sendFrame({ t: "pong" })
    }
    const inbound = this.inbound ??= []
    if (inbound.length >= inboundCapacity) return this.closeNow(CloseCodes.POLICY_VIOLATION, "too many frames in flight")
    inbound.push({ bytes, decoded })
    if (!this.working) {
      this.working = true
      this.env.run(this.env.drain(this))
    }
  }

  private onClose() {
    this.closing = true
    this.inbound = undefined
    this.unregisterTick?.()
    this.unregisterTick = undefined
    this.leaveChannels()
  }

  /** A running fiber leaves the channels when it sees `closing`; otherwise one is started for it. */
  private leaveChannels() {
    if (!this.working && this.channels !== undefined && this.channels.size > 0) {
      this.working = true
      this.env.run(this.env.drain(this))
    }
  }

  private tick(now: number) {
    if (this.closing || !this.started) return
    if (this.user === undefined) {
      if (now >= this.authDeadline) this.closeNow(CloseCodes.AUTH_TIMEOUT, "no connect frame in time")
      return
    }
    if (now >= this.expiresAt) return this.closeNow(CloseCodes.TOKEN_EXPIRED, "access token expired")
    if (this.activity !== this.seen) {
      this.seen = this.activity
      this.quietSince = now
    } else if (now - this.quietSince >= durationMs(this.env.config.pingTimeout)) {
      // Tell the client why before closing with 4008.
      this.sendFrame({ t: "event", channel: "connection", type: "connection.timeout", data: { idleMs: now - this.quietSince } })
      this.closeNow(CloseCodes.PING_TIMEOUT, "ping timeout")
    }
  }
}

const ignore = () => {}

// Connections corked in this turn of the event loop: one `nextTick` uncorks them all (a room's fan-out corks
// hundreds of sockets per event; one tick callback each was measurable).
let corkedThisTick: Array<WsConnection> = []

const uncorkAll = () => {
  const corked = corkedThisTick
  corkedThisTick = []
  for (const connection of corked) connection.uncork()
}

const durationMs = (duration: RealtimeConfig["pingTimeout"]) => Duration.toMillis(duration)

const encodeAndDeliver = (connection: WsConnection, channel: string, frame: ServerFrame) =>
  Effect.sync(() => connection.deliver(channel, encodeFrame(frame)))

const syncDeliver = (connection: WsConnection, channel: string, frame: Uint8Array) =>
  Effect.sync(() => connection.deliver(channel, frame))

const syncClose = (connection: WsConnection, code: number, reason: string) =>
  Effect.sync(() => connection.closeNow(code, reason))

const toBytes = (data: Buffer | ArrayBuffer | Array<Buffer>): Uint8Array | undefined =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data
