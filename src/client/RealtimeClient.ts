/**
 * The TypeScript realtime client (Node and browsers): connects to `/ws` with a
 * token provider, pings, refreshes the token before it expires, reconnects with
 * exponential backoff and jitter when the close code allows, resubscribes every
 * channel with recovery from its last `{epoch, seq}` (dropping duplicates) — also
 * at once when the server ends one with RESYNC_REQUIRED — and offers commands as Effects (`make`) or Promises (`connect`). Protocol:
 * docs/protocol.md. It depends on nothing of the server but the frame schemas.
 */
import { Deferred, Duration, Effect, Either, Exit, Fiber, Option, Queue, Random, Schedule, Schema, Scope } from "effect"
import { encodeFrame, unpack } from "../schemas/FrameCodec.ts"
import { type ClientFrame, CloseCodes, protocolVersion, ServerFrame, shouldReconnect, type StreamPosition } from "../schemas/Frames.ts"

/** The subset of the WHATWG WebSocket this client needs (browser `WebSocket`, or `ws` in Node). */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  addEventListener(type: "open" | "close" | "message" | "error", listener: (event: never) => void): void
}
/** A WebSocket constructor. */
export type WebSocketConstructor = new(url: string) => WebSocketLike

/** Client options. */
export interface RealtimeClientOptions {
  /** `ws(s)://host/ws` */
  readonly url: string
  /** Called for every (re)connect and refresh: return a current access token. */
  readonly token: () => Promise<string> | string
  /** Defaults to the global `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor
  readonly reconnect?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number }
  /**
   * How long a command or unsubscribe may take from the call, waiting for a connection included (default 10 s).
   * A subscribe made while disconnected is kept and sent on the next connection.
   */
  readonly commandTimeoutMs?: number
  /** Told about every (re)connection attempt's outcome. */
  readonly onStatus?: (status: ClientStatus) => void
}

/** Connection status, for UIs. */
export type ClientStatus =
  | { readonly _tag: "Connected"; readonly connectionId: string }
  | { readonly _tag: "Disconnected"; readonly code: number; readonly willReconnect: boolean }

/** An event on a subscribed channel. */
export interface ChannelEvent {
  readonly channel: string
  readonly type: string
  readonly data: unknown
  readonly seq?: number | undefined
  readonly epoch?: string | undefined
}

/** A refused command or subscribe (`code` from docs/api/errors.md), or `DISCONNECTED` / `TIMEOUT`. */
export class RealtimeError extends Schema.TaggedError<RealtimeError>()("RealtimeError", {
  code: Schema.String,
  detail: Schema.String,
  fields: Schema.Record({ key: Schema.String, value: Schema.String })
}) {
  override get message() {
    return `${this.code}: ${this.detail}`
  }
}

interface Subscribed {
  readonly onEvent: (event: ChannelEvent) => void
  /** The first ack (or refusal) of this subscription. */
  readonly first: Deferred.Deferred<unknown, RealtimeError>
  position: StreamPosition | undefined
  /** Ack data of the latest (re)subscribe; a reset there means "reload snapshot/history". */
  onAck: ((data: unknown) => void) | undefined
  /** The server ended the subscription (access lost); it is not resubscribed. Not called for RESYNC_REQUIRED. */
  onUnsubscribed: ((error: RealtimeError) => void) | undefined
}

/** A live client. */
export interface RealtimeClient {
  /** Subscribes (now and after every reconnect, with recovery); resolves with the first ack's data. */
  readonly subscribe: (
    channel: string,
    onEvent: (event: ChannelEvent) => void,
    options?: {
      readonly recover?: StreamPosition
      readonly onAck?: (data: unknown) => void
      /**
       * Called when the server ends the subscription (e.g. SUBSCRIPTION_REVOKED); it is then forgotten. Not for
       * RESYNC_REQUIRED: that one is resubscribed at once with recovery, and `onAck` sees the `reset: true`.
       */
      readonly onUnsubscribed?: (error: RealtimeError) => void
    }
  ) => Effect.Effect<unknown, RealtimeError>
  readonly unsubscribe: (channel: string) => Effect.Effect<void, RealtimeError>
  /** Sends a command; succeeds with the ack's data. */
  readonly command: (channel: string, type: string, data?: unknown) => Effect.Effect<unknown, RealtimeError>
  /** The last position seen on a channel (for recovery across page loads). */
  readonly position: (channel: string) => StreamPosition | undefined
}

const decodeServer = Schema.decodeUnknownEither(ServerFrame)
const decodePositionAck = Schema.decodeUnknownOption(
  Schema.Struct({ epoch: Schema.String, seq: Schema.Number, reset: Schema.optional(Schema.Boolean) })
)

/** Connects for the lifetime of the scope; reconnects until the scope closes or the server says not to. */
export const make = (options: RealtimeClientOptions): Effect.Effect<RealtimeClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const Ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (Ws === undefined) return yield* Effect.dieMessage("no WebSocket implementation: pass options.WebSocket")
    const timeout = Duration.millis(options.commandTimeoutMs ?? 10_000)
    const subscriptions = new Map<string, Subscribed>()
    const pending = new Map<number, Deferred.Deferred<unknown, RealtimeError>>()
    let nextId = 1
    let socket: WebSocketLike | undefined
    let ready = yield* Deferred.make<void>()
    // Set (synchronously) when a session takes its snapshot of subscriptions to resend.
    let live = false
    // Counts sessions, so a resync asked for on a closed connection is left to the next session's resubscribe.
    let sessions = 0
    // Subscriptions the server ended with RESYNC_REQUIRED, to resubscribe (frames are handled synchronously).
    const resyncs = yield* Queue.unbounded<{ readonly channel: string; readonly sub: Subscribed; readonly session: number }>()
    const status = options.onStatus ?? (() => {})
    const clientScope = yield* Effect.scope

    const send = (frame: ClientFrame) => Effect.sync(() => socket?.send(encodeFrame(frame)))
    const token = Effect.promise(async () => await options.token())

    /**
     * Sends a frame with a fresh id once connected and waits for its ack. The timeout runs from the call, so a
     * command made while the server is unreachable fails with TIMEOUT instead of waiting for a reconnect forever.
     */
    const requestOn = (frame: (id: number) => ClientFrame, waitForReady = true) =>
      Effect.gen(function*() {
        if (waitForReady) yield* Deferred.await(ready)
        const id = nextId++
        const reply = yield* Deferred.make<unknown, RealtimeError>()
        pending.set(id, reply)
        yield* send(frame(id))
        return yield* Deferred.await(reply).pipe(Effect.ensuring(Effect.sync(() => pending.delete(id))))
      }).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new RealtimeError({ code: "TIMEOUT", detail: "No answer in time", fields: {} }) })
      )

    const onFrame = (bytes: Uint8Array, connected: Deferred.Deferred<{ connectionId: string; pingInterval: number; expiresAt: number }, RealtimeError>) => {
      const decoded = Either.flatMap(unpack(bytes), (v) => Either.mapLeft(decodeServer(v), () => undefined))
      if (Either.isLeft(decoded)) return
      const frame = decoded.right
      switch (frame.t) {
        case "connected":
          Deferred.unsafeDone(connected, Exit.succeed(frame))
          return
        case "ack": {
          const waiting = pending.get(frame.id)
          if (waiting !== undefined) Deferred.unsafeDone(waiting, Exit.succeed(frame.data))
          return
        }
        case "error": {
          const error = new RealtimeError({ code: frame.code, detail: frame.detail, fields: frame.fields })
          const waiting = frame.id === undefined ? undefined : pending.get(frame.id)
          if (waiting !== undefined) Deferred.unsafeDone(waiting, Exit.fail(error))
          else Deferred.unsafeDone(connected, Exit.fail(error))
          return
        }
        case "event": {
          const sub = subscriptions.get(frame.channel)
          if (sub === undefined) return
          if (frame.seq !== undefined && frame.seq > 0 && frame.epoch !== undefined) {
            // After a reset or a racing recovery an event can arrive twice: seq makes it idempotent.
            if (sub.position !== undefined && sub.position.epoch === frame.epoch && frame.seq <= sub.position.seq) return
            sub.position = { epoch: frame.epoch, seq: frame.seq }
          }
          sub.onEvent({ channel: frame.channel, type: frame.type, data: frame.data, seq: frame.seq, epoch: frame.epoch })
          return
        }
        case "unsubscribed": {
          const sub = subscriptions.get(frame.channel)
          // The server could not deliver every event: subscribe again from the last position (a reset, usually).
          if (frame.code === "RESYNC_REQUIRED") {
            if (sub !== undefined) Queue.unsafeOffer(resyncs, { channel: frame.channel, sub, session: sessions })
            return
          }
          // The server ended it (access lost): resubscribing after a reconnect would only be refused.
          subscriptions.delete(frame.channel)
          sub?.onUnsubscribed?.(new RealtimeError({ code: frame.code, detail: frame.detail, fields: {} }))
          return
        }
        default:
          return
      }
    }

    const resubscribe = (channel: string, sub: Subscribed) =>
      requestOn((id) => ({ t: "sub", id, channel, ...(sub.position === undefined ? {} : { recover: sub.position }) }), false).pipe(
        // A subscribe that raced a room's resync is refused with it; the room has moved on, so try again.
        Effect.retry({ while: (error) => error.code === "RESYNC_REQUIRED", times: 3 }),
        Effect.tap((data) => Effect.sync(() => {
          // Channels with a log answer with a position; a reset moves the client there (after reloading).
          const ack = decodePositionAck(data)
          if (Option.isSome(ack) && (sub.position === undefined || ack.value.reset === true)) {
            sub.position = { epoch: ack.value.epoch, seq: ack.value.seq }
          }
          sub.onAck?.(data)
        })),
        Effect.onExit((exit) => Deferred.done(sub.first, exit))
      )

    /** One connection: open, authenticate, resubscribe, ping and refresh until it closes; returns the close code. */
    const session = Effect.gen(function*() {
      const closed = yield* Deferred.make<number>()
      const connected = yield* Deferred.make<{ connectionId: string; pingInterval: number; expiresAt: number }, RealtimeError>()
      const ws = new Ws(options.url)
      ws.binaryType = "arraybuffer"
      ws.addEventListener("message", (event: { data: ArrayBuffer | Uint8Array }) =>
        onFrame(event.data instanceof Uint8Array ? event.data : new Uint8Array(event.data), connected))
      ws.addEventListener("close", (event: { code: number }) => Deferred.unsafeDone(closed, Exit.succeed(event.code)))
      ws.addEventListener("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => ws.close(1000)))
      const opened = yield* Effect.async<boolean>((resume) => {
        ws.addEventListener("open", () => resume(Effect.succeed(true)))
        ws.addEventListener("close", () => resume(Effect.succeed(false)))
      })
      if (!opened) return yield* Deferred.await(closed)
      socket = ws
      yield* send({ t: "connect", v: protocolVersion, token: yield* token })
      const hello = yield* Effect.raceFirst(Effect.either(Deferred.await(connected)), Effect.map(Deferred.await(closed), () => undefined))
      if (hello === undefined || Either.isLeft(hello)) return yield* Deferred.await(closed)
      status({ _tag: "Connected", connectionId: hello.right.connectionId })
      live = true
      sessions++
      yield* Effect.forEach([...subscriptions], ([channel, sub]) => Effect.either(resubscribe(channel, sub)), { concurrency: "unbounded", discard: true })
      yield* Deferred.succeed(ready, undefined)
      yield* send({ t: "ping" }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(hello.right.pingInterval))), Effect.forkScoped)
      // Refresh the token a while before it expires (a failed refresh ends in close 4002 and a reconnect).
      const refreshIn = Math.max(1_000, (hello.right.expiresAt - (yield* Effect.clockWith((c) => c.currentTimeMillis))) * 0.8)
      yield* Effect.sleep(Duration.millis(refreshIn)).pipe(
        Effect.zipRight(Effect.flatMap(token, (t) => Effect.either(requestOn((id) => ({ t: "refresh", id, token: t }), false)))),
        Effect.forever,
        Effect.forkScoped
      )
      return yield* Deferred.await(closed)
    }).pipe(Effect.scoped)

    const loop = Effect.gen(function*() {
      let attempt = 0
      const initial = options.reconnect?.initialDelayMs ?? 250
      const max = options.reconnect?.maxDelayMs ?? 10_000
      while (true) {
        const code = yield* session
        const wasReady = yield* Deferred.isDone(ready)
        socket = undefined
        live = false
        ready = yield* Deferred.make<void>()
        const disconnected = new RealtimeError({ code: "DISCONNECTED", detail: `Connection closed (${code})`, fields: {} })
        for (const waiting of pending.values()) Deferred.unsafeDone(waiting, Exit.fail(disconnected))
        const again = shouldReconnect(code) && code !== CloseCodes.UNSUPPORTED_VERSION
        status({ _tag: "Disconnected", code, willReconnect: again })
        if (!again) return
        attempt = wasReady ? 0 : attempt + 1
        // Full jitter: spreads the reconnects of many clients after a server restart.
        const ceiling = Math.min(max, initial * 2 ** attempt)
        yield* Effect.sleep(Duration.millis(ceiling / 2 + (yield* Random.nextRange(0, ceiling / 2))))
      }
    })
    const fiber = yield* Effect.forkScoped(loop)
    yield* Queue.take(resyncs).pipe(
      Effect.flatMap(({ channel, session, sub }) =>
        live && session === sessions && subscriptions.get(channel) === sub
          ? Effect.asVoid(Effect.forkIn(Effect.either(resubscribe(channel, sub)), clientScope))
          : Effect.void
      ),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))

    return {
      subscribe: (channel, onEvent, subscribeOptions) =>
        Effect.gen(function*() {
          const sub: Subscribed = {
            onEvent,
            first: yield* Deferred.make<unknown, RealtimeError>(),
            position: subscribeOptions?.recover,
            onAck: subscribeOptions?.onAck,
            onUnsubscribed: subscribeOptions?.onUnsubscribed
          }
          subscriptions.set(channel, sub)
          // Not yet live: the next session's resubscribe sends it.
          if (live) yield* Effect.forkIn(Effect.either(resubscribe(channel, sub)), clientScope)
          return yield* Deferred.await(sub.first).pipe(
            Effect.tapError(() => Effect.sync(() => subscriptions.delete(channel)))
          )
        }),
      unsubscribe: (channel) =>
        Effect.suspend(() => {
          subscriptions.delete(channel)
          return Effect.asVoid(requestOn((id) => ({ t: "unsub", id, channel })))
        }),
      command: (channel, type, data) => requestOn((id) => ({ t: "cmd", id, channel, type, data: data ?? null })),
      position: (channel) => subscriptions.get(channel)?.position
    } satisfies RealtimeClient
  })

/** The Promise face of the client, for code that does not use Effect. */
export interface PromiseClient {
  readonly subscribe: (channel: string, onEvent: (event: ChannelEvent) => void, options?: { readonly recover?: StreamPosition }) => Promise<unknown>
  readonly unsubscribe: (channel: string) => Promise<void>
  readonly command: (channel: string, type: string, data?: unknown) => Promise<unknown>
  readonly position: (channel: string) => StreamPosition | undefined
  readonly close: () => Promise<void>
}

/** Connects and returns the Promise API; `close()` ends it. Rejections are `RealtimeError`s. */
export const connect = async (options: RealtimeClientOptions): Promise<PromiseClient> => {
  const scope = Effect.runSync(Scope.make())
  const client = await Effect.runPromise(Scope.extend(make(options), scope))
  const run = <A>(effect: Effect.Effect<A, RealtimeError>) =>
    Effect.runPromise(Effect.either(effect)).then((result) =>
      Either.isRight(result) ? result.right : Promise.reject(result.left))
  return {
    subscribe: (channel, onEvent, subscribeOptions) => run(client.subscribe(channel, onEvent, subscribeOptions)),
    unsubscribe: (channel) => run(client.unsubscribe(channel)),
    command: (channel, type, data) => run(client.command(channel, type, data)),
    position: client.position,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
