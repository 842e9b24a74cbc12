/**
 * What a WebSocket connection's frames do (docs/protocol.md): authentication by the
 * first frame, then subscribe / unsubscribe / command / refresh / ping, per-connection
 * rate limits, and leaving every channel when the socket closes. Runs on the short-lived
 * fiber a `WsConnection` starts when frames wait; channel semantics belong to the
 * `ChannelKind`s.
 */
import { Cause, Clock, Duration, Effect, Either, Exit, Option, Scope } from "effect"
import { decodeJwt } from "jose"
import { parseChannel } from "../actors/ChannelKind.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { type CodedError, isCodedError, toErrorBody } from "../schemas/ErrorCode.ts"
import { RateLimited, TokenInvalid } from "../schemas/Errors.ts"
import { idOf } from "../schemas/FrameCodec.ts"
import { type ClientFrame, CloseCodes, protocolVersion, protocolVersions, type ServerFrame } from "../schemas/Frames.ts"
import {
  ChannelAlreadySubscribed,
  ChannelNotSubscribed,
  FrameMalformed,
  NotConnected,
  ProtocolVersionUnsupported,
  UnknownChannel
} from "../schemas/RealtimeErrors.ts"
import { TokenBucket } from "./TokenBucket.ts"
import type { Inbound, Joined, WsConnection } from "./WsConnection.ts"

// Malformed frames refilled per second (the burst is `malformedBurst`) before a policy close.
const garbagePerSecond = 2

/**
 * Handles the frames waiting on `conn` in order until none is left, then, once the
 * socket is closing, leaves every channel. Defects end the connection with 4009;
 * the gateway never goes down with one connection.
 */
export const drain = (conn: WsConnection): Effect.Effect<void> => {
  const loop: Effect.Effect<void> = Effect.suspend(() => {
    const next = conn.takeInbound()
    return next === undefined ? Effect.void : Effect.zipRight(handle(conn, next), loop)
  })
  return loop.pipe(
    Effect.catchAllCause((cause) =>
      Effect.logError("connection failed", cause).pipe(
        Effect.zipRight(Effect.sync(() => conn.closeNow(CloseCodes.INTERNAL, "internal error")))
      )
    ),
    // Interrupted only when the gateway stops: its sockets are closing too.
    Effect.onExit((exit) => conn.closing || Exit.isInterrupted(exit) ? leaveAll(conn) : Effect.void),
    Effect.annotateLogs({ connection_id: conn.connectionId })
  )
}

const handle = (conn: WsConnection, { bytes, decoded }: Inbound): Effect.Effect<void> => {
  const user = conn.user
  if (user === undefined) return authenticate(conn, bytes, decoded)
  if (Either.isLeft(decoded)) {
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const garbage = conn.garbageBucket ??= new TokenBucket(conn.env.config.malformedBurst, garbagePerSecond, now)
      return garbage.take(now) === 0
        ? conn.sendFrame(errorFrame(decoded.left, idOf(bytes)))
        : conn.closeNow(CloseCodes.POLICY_VIOLATION, "repeated malformed frames")
    })
  }
  const frame = decoded.right
  switch (frame.t) {
    case "ping":
      return Effect.sync(() => conn.sendFrame({ t: "pong" }))
    case "connect":
      return Effect.sync(() => conn.sendFrame(errorFrame(new FrameMalformed({ detail: "Already connected" }), undefined)))
    case "refresh":
      return answer(conn, frame.id, refresh(conn, user, frame.id, frame.token))
    case "sub":
      // The subscribe acks itself: held-back events must follow its ack immediately.
      return Effect.flatMap(commandWait(conn), (wait) =>
        wait === 0
          ? Effect.catchAllCause(subscribe(conn, user, frame), (cause) => answer(conn, frame.id, Effect.failCause(cause)))
          : answer(conn, frame.id, rateLimited(wait)))
    case "unsub":
      return answer(
        conn,
        frame.id,
        conn.channels?.has(frame.channel) === true
          ? leave(conn, frame.channel)
          : Effect.fail(new ChannelNotSubscribed({ channel: frame.channel }))
      )
    case "cmd":
      return Effect.flatMap(commandWait(conn), (wait) =>
        answer(conn, frame.id, wait === 0 ? command(conn, user, frame) : rateLimited(wait)))
  }
}

const authenticate = (conn: WsConnection, bytes: Uint8Array, decoded: Inbound["decoded"]) =>
  Effect.gen(function*() {
    if (Either.isLeft(decoded) || decoded.right.t !== "connect") {
      conn.sendFrame(errorFrame(Either.isLeft(decoded) ? decoded.left : new NotConnected(), idOf(bytes)))
      return conn.closeNow(CloseCodes.UNAUTHORIZED, "connect first")
    }
    const hello = decoded.right
    if (!protocolVersions.some((v) => v === hello.v)) {
      conn.sendFrame(errorFrame(new ProtocolVersionUnsupported({ version: hello.v, supported: [...protocolVersions] }), undefined))
      return conn.closeNow(CloseCodes.UNSUPPORTED_VERSION, "unsupported protocol version")
    }
    const verified = yield* Effect.either(conn.env.tokens.verify(hello.token))
    if (Either.isLeft(verified)) {
      conn.sendFrame(errorFrame(verified.left, undefined))
      return conn.closeNow(
        verified.left._tag === "TokenExpired" ? CloseCodes.TOKEN_EXPIRED : CloseCodes.UNAUTHORIZED,
        verified.left.message
      )
    }
    if (conn.closing) return
    const { config } = conn.env
    conn.authenticated(verified.right, expiresAtOf(hello.token), yield* Clock.currentTimeMillis)
    conn.sendFrame({
      t: "connected",
      v: protocolVersion,
      connectionId: conn.connectionId,
      userId: verified.right.id,
      pingInterval: Duration.toMillis(config.pingInterval),
      pingTimeout: Duration.toMillis(config.pingTimeout),
      expiresAt: conn.expiresAt
    })
  })

const subscribe = (conn: WsConnection, user: CurrentUserInfo, frame: Extract<ClientFrame, { t: "sub" }>) =>
  Effect.gen(function*() {
    const parsed = parseChannel(frame.channel)
    const kind = parsed === undefined ? undefined : conn.env.kinds.get(parsed.prefix)
    if (parsed === undefined || kind === undefined) return yield* new UnknownChannel({ channel: frame.channel })
    const channels = conn.channels ??= new Map()
    if (channels.has(frame.channel)) return yield* new ChannelAlreadySubscribed({ channel: frame.channel })
    const scope = yield* Scope.make()
    const joined: Joined = { scope, pending: [], pendingBytes: 0, subscription: undefined, revoked: undefined }
    channels.set(frame.channel, joined)
    const attached = yield* kind.subscribe(conn.connection(user), parsed.id, { recover: frame.recover }).pipe(
      Scope.extend(scope),
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : leave(conn, frame.channel))
    )
    if (joined.revoked !== undefined) {
      yield* leave(conn, frame.channel)
      return yield* Effect.fail(joined.revoked)
    }
    joined.subscription = attached
    conn.sendFrame({ t: "ack", id: frame.id, data: attached.ack })
    const held = joined.pending
    joined.pending = undefined
    for (const bytes of held ?? []) conn.write(bytes)
  }).pipe(
    Effect.withSpan("ws.subscribe", { attributes: spanAttributes(frame.channel, user), captureStackTrace: false })
  )

const command = (conn: WsConnection, user: CurrentUserInfo, frame: Extract<ClientFrame, { t: "cmd" }>) =>
  Effect.suspend(() => {
    const subscription = conn.channels?.get(frame.channel)?.subscription
    if (subscription === undefined) return Effect.fail(new ChannelNotSubscribed({ channel: frame.channel }))
    return subscription.command(frame.type, frame.data)
  }).pipe(
    // No stack capture: this runs per command on the hot path, and the frame says where it came from.
    Effect.withSpan("ws.command", {
      kind: "server",
      captureStackTrace: false,
      attributes: { ...spanAttributes(frame.channel, user), "ws.command.type": frame.type, "ws.frame.id": frame.id }
    })
  )

const refresh = (conn: WsConnection, user: CurrentUserInfo, id: number, token: string) =>
  Effect.gen(function*() {
    const next = yield* conn.env.tokens.verify(token)
    if (next.id !== user.id) {
      conn.sendFrame(errorFrame(new TokenInvalid({ detail: "The token belongs to another user" }), id))
      conn.closeNow(CloseCodes.UNAUTHORIZED, "token of another user")
      return yield* Effect.interrupt
    }
    conn.expiresAt = expiresAtOf(token)
    return { expiresAt: conn.expiresAt }
  })

/** Answers `id` with the outcome of `effect`: an ack, or an error frame (defects are logged as INTERNAL). */
const answer = (conn: WsConnection, id: number, effect: Effect.Effect<unknown, CodedError>) =>
  effect.pipe(
    Effect.matchCauseEffect({
      onSuccess: (data) => Effect.sync(() => conn.sendFrame({ t: "ack", id, data })),
      onFailure: (cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure) && isCodedError(failure.value)) return Effect.sync(() => conn.sendFrame(errorFrame(failure.value, id)))
        if (Cause.isInterruptedOnly(cause)) return Effect.void
        return Effect.logError("realtime frame failed", cause).pipe(
          Effect.zipRight(Effect.sync(() => conn.sendFrame({ t: "error", id, code: "INTERNAL", detail: "Internal server error", fields: {} })))
        )
      }
    })
  )

/** Milliseconds until the connection may send another command (0: now; takes the token). */
const commandWait = (conn: WsConnection) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const { config } = conn.env
    const bucket = conn.commandBucket ??= new TokenBucket(config.commandBurst, config.commandRate, now)
    return bucket.take(now)
  })

const rateLimited = (waitMs: number) => Effect.fail(new RateLimited({ retryAfterSeconds: Math.ceil(waitMs / 1000) }))

const leave = (conn: WsConnection, channel: string) =>
  Effect.suspend(() => {
    const joined = conn.channels?.get(channel)
    if (joined === undefined) return Effect.void
    conn.channels?.delete(channel)
    return Scope.close(joined.scope, Exit.void)
  })

/**
 * Ends `conn`'s subscription to `channel` from the server side (access lost, resync needed) and tells the client
 * why; a subscribe still in progress is refused with `error` instead. The client is told once the subscription
 * is detached (its finalizers ran), so a resubscribe it sends in answer cannot overtake the detach.
 */
export const revoke = (conn: WsConnection, channel: string, error: CodedError) =>
  Effect.suspend(() => {
    const joined = conn.channels?.get(channel)
    if (joined === undefined) return Effect.void
    if (joined.subscription === undefined) {
      joined.revoked = error
      return Effect.void
    }
    const body = toErrorBody(error)
    return leave(conn, channel).pipe(
      Effect.zipRight(Effect.sync(() => conn.sendFrame({ t: "unsubscribed", channel, code: body.code, detail: body.detail })))
    )
  })

/** Detaches from every channel; not interruptible, so a stopping gateway still detaches every member. */
const leaveAll = (conn: WsConnection) =>
  Effect.uninterruptible(Effect.suspend(() => Effect.forEach([...conn.channels?.keys() ?? []], (channel) => leave(conn, channel), { discard: true })))

const errorFrame = (error: CodedError, id: number | undefined): ServerFrame => {
  const body = toErrorBody(error)
  return id === undefined ? { t: "error", ...body } : { t: "error", id, ...body }
}

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
