/**
 * One WebSocket connection, from the first byte to the close: authentication
 * within a deadline, the frame loop (subscribe / unsubscribe / command / ping /
 * token refresh), per-connection rate limits, deadlines (auth, ping, token expiry
 * on the gateway's shared tick),
 * and the bounded outbound path every event goes through. Channel semantics
 * belong to the `ChannelKind`s; this file only knows frames and sockets.
 */
import { Cause, Clock, Duration, Effect, Either, Exit, Option, Queue, Scope } from "effect"
import { decodeJwt } from "jose"
import type { Duplex } from "node:stream"
import { type WebSocket } from "ws"
import { type ChannelKind, type ChannelSubscription, type Connection, parseChannel } from "../actors/ChannelKind.ts"
import type { RealtimeConfig } from "../layers/AppConfig.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { type CodedError, isCodedError, toErrorBody } from "../schemas/ErrorCode.ts"
import { RateLimited, TokenInvalid } from "../schemas/Errors.ts"
import { decodeClientFrame, encodeFrame, idOf } from "../schemas/FrameCodec.ts"
import { type ClientFrame, CloseCodes, protocolVersion, protocolVersions, type ServerFrame, shouldReconnect } from "../schemas/Frames.ts"
import {
  ChannelAlreadySubscribed,
  ChannelNotSubscribed,
  FrameMalformed,
  NotConnected,
  ProtocolVersionUnsupported,
  UnknownChannel
} from "../schemas/RealtimeErrors.ts"
import type { Tokens } from "../services/Tokens.ts"
import { TokenBucket } from "./TokenBucket.ts"

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
}

/** A channel of this connection: held-back events while joining, then the kind's handlers. */
interface Joined {
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
// Malformed frames refilled per second (the burst is `malformedBurst`) before a policy close.
const garbagePerSecond = 2

/** Runs one accepted socket until it closes. Never fails: every problem ends in a close code. */
export const runConnection = (ws: WebSocket, socket: Duplex, connectionId: string, env: GatewayEnv): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { config } = env
    // `undefined` wakes the frame loop when the socket closes.
    const inbound = yield* Queue.bounded<Uint8Array | undefined>(inboundCapacity)
    let activity = 0
    let closing = false

    // Frames written in one turn of the event loop (a room's batch of events, an ack and the events after it) leave
    // in one `writev` of the upgraded socket instead of one system call per frame: the first write of a turn corks the
    // socket, the next tick uncorks it. Corked bytes count in `bufferedAmount`, so the outbound limit still holds.
    let corked = false
    const uncork = () => {
      corked = false
      socket.uncork()
    }
    /** Writes bytes unless the queue for this socket is over its limit (then: slow consumer). */
    const write = (bytes: Uint8Array) => {
      if (closing || ws.readyState !== ws.OPEN) return
      if (ws.bufferedAmount + bytes.byteLength > config.outboundLimitBytes) {
        closeNow(CloseCodes.SLOW_CONSUMER, "slow consumer")
        return
      }
      if (!corked) {
        corked = true
        socket.cork()
        process.nextTick(uncork)
      }
      ws.send(bytes)
    }
    const sendFrame = (frame: ServerFrame) => write(encodeFrame(frame))

    /** Tells the client why (a `disconnect` frame, exempt from the queue limit), then closes. */
    function closeNow(code: number, reason: string) {
      if (closing) return
      closing = true
      if (ws.readyState === ws.OPEN) {
        ws.send(encodeFrame({ t: "disconnect", code, reason, reconnect: shouldReconnect(code) }))
        ws.close(code, reason)
      }
      inbound.unsafeOffer(undefined)
    }
    const close = (code: number, reason: string) => Effect.sync(() => closeNow(code, reason))

    ws.on("message", (data, isBinary) => {
      activity++
      const bytes = toBytes(data)
      if (!isBinary || bytes === undefined) {
        sendFrame({ t: "error", code: "FRAME_MALFORMED", detail: "Frames are binary MessagePack", fields: {} })
        return
      }
      if (!inbound.unsafeOffer(bytes)) closeNow(CloseCodes.POLICY_VIOLATION, "too many frames in flight")
    })
    ws.on("close", () => {
      closing = true
      inbound.unsafeOffer(undefined)
    })
    // Protocol errors (oversized or broken frames): ws closes the socket itself (1009/1002).
    ws.on("error", () => {})

    const errorFrame = (error: CodedError, id: number | undefined): ServerFrame => {
      const body = toErrorBody(error)
      return id === undefined ? { t: "error", ...body } : { t: "error", id, ...body }
    }

    // ---- authentication ---------------------------------------------------------
    // Deadlines (auth, ping, token expiry) run on the gateway's shared tick, not on fibers per socket.
    const openedAt = yield* Clock.currentTimeMillis
    const authDeadline = openedAt + Duration.toMillis(config.authTimeout)
    let onTick = (now: number) => {
      if (!closing && now >= authDeadline) closeNow(CloseCodes.AUTH_TIMEOUT, "no connect frame in time")
    }
    const unregister = env.onTick((now) => onTick(now))
    yield* Effect.addFinalizer(() => Effect.sync(unregister))
    const first = yield* Queue.take(inbound)
    if (first === undefined) return
    const decoded = decodeClientFrame(first)
    if (Either.isLeft(decoded) || decoded.right.t !== "connect") {
      sendFrame(errorFrame(Either.isLeft(decoded) ? decoded.left : new NotConnected(), idOf(first)))
      closeNow(CloseCodes.UNAUTHORIZED, "connect first")
      return
    }
    const hello = decoded.right
    if (!protocolVersions.some((v) => v === hello.v)) {
      sendFrame(errorFrame(new ProtocolVersionUnsupported({ version: hello.v, supported: [...protocolVersions] }), undefined))
      closeNow(CloseCodes.UNSUPPORTED_VERSION, "unsupported protocol version")
      return
    }
    const verified = yield* Effect.either(env.tokens.verify(hello.token))
    if (Either.isLeft(verified)) {
      sendFrame(errorFrame(verified.left, undefined))
      closeNow(
        verified.left._tag === "TokenExpired" ? CloseCodes.TOKEN_EXPIRED : CloseCodes.UNAUTHORIZED,
        verified.left.message
      )
      return
    }
    const user: CurrentUserInfo = verified.right

    // ---- token expiry and ping watchdog (driven by the gateway's tick) ---------------------
    let expiresAt = expiresAtOf(hello.token)
    let seen = activity
    let quietSince = yield* Clock.currentTimeMillis
    const pingTimeout = Duration.toMillis(config.pingTimeout)
    onTick = (now: number) => {
      if (closing) return
      if (now >= expiresAt) return closeNow(CloseCodes.TOKEN_EXPIRED, "access token expired")
      if (activity !== seen) {
        seen = activity
        quietSince = now
      } else if (now - quietSince >= pingTimeout) {
        // Tell the client why before closing with 4008.
        sendFrame({ t: "event", channel: "connection", type: "connection.timeout", data: { idleMs: now - quietSince } })
        closeNow(CloseCodes.PING_TIMEOUT, "ping timeout")
      }
    }

    // ---- channels -------------------------------------------------------------------
    const channels = new Map<string, Joined>()
    const connection: Connection = {
      connectionId,
      user,
      send: (event) =>
        Effect.sync(() => {
          const frame = encodeFrame({ t: "event", ...event })
          deliverNow(event.channel, frame)
        }),
      deliver: (channel, frame) => Effect.sync(() => deliverNow(channel, frame)),
      unsafeDeliver: deliverNow,
      revoke: (channel, error) =>
        Effect.suspend(() => {
          const joined = channels.get(channel)
          if (joined === undefined) return Effect.void
          if (joined.subscription === undefined) {
            joined.revoked = error
            return Effect.void
          }
          const body = toErrorBody(error)
          sendFrame({ t: "unsubscribed", channel, code: body.code, detail: body.detail })
          return leave(channel)
        }),
      close
    }
    function deliverNow(channel: string, frame: Uint8Array) {
      const joined = channels.get(channel)
      if (joined === undefined) return
      if (joined.pending === undefined) return write(frame)
      joined.pending.push(frame)
      joined.pendingBytes += frame.byteLength
      // Held-back events count against the same outbound limit as written ones.
      if (joined.pendingBytes + ws.bufferedAmount > config.outboundLimitBytes) closeNow(CloseCodes.SLOW_CONSUMER, "slow consumer")
    }

    const leave = (channel: string) =>
      Effect.suspend(() => {
        const joined = channels.get(channel)
        if (joined === undefined) return Effect.void
        channels.delete(channel)
        return Scope.close(joined.scope, Exit.void)
      })

    const subscribe = (frame: Extract<ClientFrame, { t: "sub" }>) =>
      Effect.gen(function*() {
        const parsed = parseChannel(frame.channel)
        const kind = parsed === undefined ? undefined : env.kinds.get(parsed.prefix)
        if (parsed === undefined || kind === undefined) return yield* new UnknownChannel({ channel: frame.channel })
        if (channels.has(frame.channel)) return yield* new ChannelAlreadySubscribed({ channel: frame.channel })
        const scope = yield* Scope.make()
        const joined: Joined = { scope, pending: [], pendingBytes: 0, subscription: undefined, revoked: undefined }
        channels.set(frame.channel, joined)
        const attached = yield* kind.subscribe(connection, parsed.id, { recover: frame.recover }).pipe(
          Scope.extend(scope),
          Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : leave(frame.channel))
        )
        if (joined.revoked !== undefined) {
          yield* leave(frame.channel)
          return yield* Effect.fail(joined.revoked)
        }
        joined.subscription = attached
        sendFrame({ t: "ack", id: frame.id, data: attached.ack })
        const held = joined.pending
        joined.pending = undefined
        for (const bytes of held ?? []) write(bytes)
      }).pipe(
        Effect.withSpan("ws.subscribe", { attributes: spanAttributes(frame.channel, user), captureStackTrace: false })
      )

    const command = (frame: Extract<ClientFrame, { t: "cmd" }>) =>
      Effect.gen(function*() {
        const subscription = channels.get(frame.channel)?.subscription
        if (subscription === undefined) return yield* new ChannelNotSubscribed({ channel: frame.channel })
        return yield* subscription.command(frame.type, frame.data)
      }).pipe(
        // No stack capture: this runs per command on the hot path, and the frame says where it came from.
        Effect.withSpan("ws.command", {
          kind: "server",
          captureStackTrace: false,
          attributes: { ...spanAttributes(frame.channel, user), "ws.command.type": frame.type, "ws.frame.id": frame.id }
        })
      )

    // ---- the frame loop ---------------------------------------------------------------
    const commands = yield* TokenBucket.make(config.commandBurst, config.commandRate)
    const garbage = yield* TokenBucket.make(config.malformedBurst, garbagePerSecond)

    /** Answers `id` with the outcome of `effect`: an ack, or an error frame (defects are logged as INTERNAL). */
    const answer = (id: number, effect: Effect.Effect<unknown, CodedError>) =>
      effect.pipe(
        Effect.matchCauseEffect({
          onSuccess: (data) => Effect.sync(() => sendFrame({ t: "ack", id, data })),
          onFailure: (cause) =>
            Effect.gen(function*() {
              const failure = Cause.failureOption(cause)
              if (Option.isSome(failure) && isCodedError(failure.value)) return sendFrame(errorFrame(failure.value, id))
              if (Cause.isInterruptedOnly(cause)) return
              yield* Effect.logError("realtime frame failed", cause)
              sendFrame({ t: "error", id, code: "INTERNAL", detail: "Internal server error", fields: {} })
            })
        })
      )

    const limited = (id: number, effect: Effect.Effect<unknown, CodedError>) =>
      Effect.flatMap(commands.take, (wait) =>
        wait === 0
          ? answer(id, effect)
          : answer(id, new RateLimited({ retryAfterSeconds: Math.ceil(wait / 1000) })))

    const handle = (bytes: Uint8Array): Effect.Effect<void> => {
      const decoded = decodeClientFrame(bytes)
      if (Either.isLeft(decoded)) {
        return Effect.flatMap(garbage.take, (wait) =>
          Effect.sync(() =>
            wait === 0
              ? sendFrame(errorFrame(decoded.left, idOf(bytes)))
              : closeNow(CloseCodes.POLICY_VIOLATION, "repeated malformed frames")
          ))
      }
      const frame = decoded.right
      switch (frame.t) {
        case "ping":
          return Effect.sync(() => sendFrame({ t: "pong" }))
        case "connect":
          return Effect.sync(() => sendFrame(errorFrame(new FrameMalformed({ detail: "Already connected" }), undefined)))
        case "refresh":
          return answer(frame.id, refresh(frame.id, frame.token))
        case "sub":
          // The subscribe acks itself: held-back events must follow its ack immediately.
          return Effect.flatMap(commands.take, (wait) =>
            wait === 0
              ? Effect.catchAllCause(subscribe(frame), (cause) => answer(frame.id, Effect.failCause(cause)))
              : answer(frame.id, new RateLimited({ retryAfterSeconds: Math.ceil(wait / 1000) })))
        case "unsub":
          return answer(
            frame.id,
            channels.has(frame.channel) ? leave(frame.channel) : Effect.fail(new ChannelNotSubscribed({ channel: frame.channel }))
          )
        case "cmd":
          return limited(frame.id, command(frame))
      }
    }

    const refresh = (id: number, token: string) =>
      Effect.gen(function*() {
        const next = yield* env.tokens.verify(token)
        if (next.id !== user.id) {
          sendFrame(errorFrame(new TokenInvalid({ detail: "The token belongs to another user" }), id))
          closeNow(CloseCodes.UNAUTHORIZED, "token of another user")
          return yield* Effect.interrupt
        }
        expiresAt = expiresAtOf(token)
        return { expiresAt }
      })

    sendFrame({
      t: "connected",
      v: protocolVersion,
      connectionId,
      userId: user.id,
      pingInterval: Duration.toMillis(config.pingInterval),
      pingTimeout: Duration.toMillis(config.pingTimeout),
      expiresAt
    })
    const loop: Effect.Effect<void> = Effect.suspend(() =>
      closing ? Effect.void : Effect.flatMap(Queue.take(inbound), (bytes) =>
        bytes === undefined ? Effect.void : Effect.zipRight(handle(bytes), loop))
    )
    yield* loop.pipe(
      Effect.ensuring(Effect.suspend(() => Effect.forEach([...channels.keys()], leave, { discard: true })))
    )
  }).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) =>
      // Supervision boundary of one connection: log, close with 4009, never take the gateway down.
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        : Effect.logError("connection failed", cause).pipe(
          Effect.zipRight(Effect.sync(() => ws.close(CloseCodes.INTERNAL, "internal error")))
        )
    ),
    Effect.ensuring(Effect.sync(() => {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(CloseCodes.INTERNAL, "connection ended")
    })),
    Effect.annotateLogs({ connection_id: connectionId })
  )

const spanAttributes = (channel: string, user: CurrentUserInfo) => {
  const parsed = parseChannel(channel)
  return {
    "ws.channel": channel,
    "user.id": user.id,
    ...(parsed?.prefix === "lesson" ? { "lesson.id": parsed.id } : {})
  }
}

/** `exp` of a token that already verified (ms); far future when it has none. */
const expiresAtOf = (token: string) => {
  const exp = decodeJwt(token).exp
  return typeof exp === "number" ? exp * 1000 : Number.MAX_SAFE_INTEGER
}

const toBytes = (data: Buffer | ArrayBuffer | Array<Buffer>): Uint8Array | undefined =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data
