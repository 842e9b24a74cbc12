/**
 * The contract between the WebSocket gateway and what lives behind channels.
 * The gateway routes `sub`/`unsub`/`cmd` frames by the channel's prefix
 * (`lesson`, `user`, `call`) to a registered `ChannelKind`, which authorizes,
 * attaches the connection for the lifetime of a scope and handles commands.
 * Kinds know nothing about sockets: only this `Connection` view of one.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import type { CodedError } from "../schemas/ErrorCode.ts"
import type { StreamPosition } from "../schemas/Frames.ts"

/** One event for one channel, as a kind hands it to a connection. */
export interface OutboundEvent {
  readonly channel: string
  readonly type: string
  readonly data: unknown
  readonly seq?: number
  readonly epoch?: string
}

/** What a kind knows about a WebSocket connection. */
export interface Connection {
  /** Unique per socket across processes (`<nodeId>:<n>`). */
  readonly connectionId: string
  /** The authenticated user (refreshed tokens keep the same user). */
  readonly user: CurrentUserInfo
  /** Pushes an event frame to this connection only, through its bounded outbound queue. */
  readonly send: (event: OutboundEvent) => Effect.Effect<void>
  /**
   * Pushes an already encoded event frame (see `encodeEvent`) on `channel`: the
   * fan-out path, where one encoding is written to every subscriber. Events for a
   * channel whose subscribe is not yet acknowledged are held back until the ack.
   */
  readonly deliver: (channel: string, frame: Uint8Array) => Effect.Effect<void>
  /**
   * `deliver` as a plain synchronous call that never throws, for fan-out loops
   * already inside one `Effect.sync` (one Effect per subscriber per event is
   * measurable at room sizes of hundreds). Optional: fakes may leave it out.
   */
  readonly unsafeDeliver?: (channel: string, frame: Uint8Array) => void
  /**
   * Ends this connection's subscription to `channel` from the server side (the
   * caller lost access): the subscription's scope closes and the client is told
   * why in an `unsubscribed` frame. A subscribe still in progress is refused with
   * `error` instead. Nothing happens when the connection is not subscribed.
   */
  readonly revoke: (channel: string, error: CodedError) => Effect.Effect<void>
  /** Closes this connection with a WebSocket close code and reason. */
  readonly close: (code: number, reason: string) => Effect.Effect<void>
}

/** What a kind returns for an accepted subscribe. */
export interface ChannelSubscription {
  /** The `data` of the subscribe's ack (recovery outcome, presence list, call state …). */
  readonly ack: unknown
  /** Handles a `cmd` frame on the channel; the success value is the ack's `data`. */
  readonly command: (type: string, data: unknown) => Effect.Effect<unknown, CodedError>
}

/** Options of a subscribe. */
export interface SubscribeOptions {
  /** The last position the client saw (for channels with a durable log). */
  readonly recover?: StreamPosition | undefined
}

/** A family of channels, e.g. every `lesson:<id>`. */
export interface ChannelKind {
  readonly prefix: string
  /**
   * Authorizes and attaches `conn` to channel `<prefix>:<id>`. The scope closes on
   * unsubscribe or disconnect; kinds detach there.
   */
  readonly subscribe: (
    conn: Connection,
    id: string,
    options: SubscribeOptions
  ) => Effect.Effect<ChannelSubscription, CodedError, Scope.Scope>
}

/** The registry of channel kinds, keyed by prefix. */
export class ChannelKinds extends Context.Tag("lectern/ChannelKinds")<ChannelKinds, ReadonlyMap<string, ChannelKind>>() {
  /**
   * The registry made of `kinds` (each built by an effect with its own
   * dependencies); two kinds claiming one prefix is a start-up defect.
   */
  static readonly layer = <const Kinds extends ReadonlyArray<Effect.Effect<ChannelKind, unknown, unknown>>>(
    kinds: Kinds
  ): Layer.Layer<
    ChannelKinds,
    Effect.Effect.Error<Kinds[number]>,
    Exclude<Effect.Effect.Context<Kinds[number]>, Scope.Scope>
  > =>
    Layer.scoped(
      ChannelKinds,
      Effect.gen(function*() {
        const registry = new Map<string, ChannelKind>()
        for (const make of kinds as ReadonlyArray<Effect.Effect<ChannelKind, Effect.Effect.Error<Kinds[number]>, Effect.Effect.Context<Kinds[number]>>>) {
          const kind = yield* make
          if (registry.has(kind.prefix)) return yield* Effect.dieMessage(`channel kind "${kind.prefix}" registered twice`)
          registry.set(kind.prefix, kind)
        }
        return registry
      })
    )
}

/** Splits `kind:id` into its parts. */
export const parseChannel = (channel: string): { readonly prefix: string; readonly id: string } | undefined => {
  const at = channel.indexOf(":")
  return at <= 0 ? undefined : { prefix: channel.slice(0, at), id: channel.slice(at + 1) }
}
