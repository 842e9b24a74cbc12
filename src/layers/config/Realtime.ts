/** WebSocket gateway, lesson room and presence variables (docs/protocol.md). */
import { Config, type Duration } from "effect"
import { origins } from "./Http.ts"
import { duration, integerIn } from "./Variables.ts"

/** Realtime settings. */
export interface RealtimeConfig {
  /** A new socket must send its `connect` frame within this time. */
  readonly authTimeout: Duration.Duration
  /** How often clients are told to ping. */
  readonly pingInterval: Duration.Duration
  /** Silence after which a connection is closed with 4008. */
  readonly pingTimeout: Duration.Duration
  /** Largest inbound frame, in bytes. */
  readonly maxFrameBytes: number
  /** Bytes a connection may have queued for sending before it is closed as a slow consumer. */
  readonly outboundLimitBytes: number
  /** Commands per second per connection (sustained) and the burst allowed on top. */
  readonly commandRate: number
  readonly commandBurst: number
  /** Malformed frames tolerated in a burst (refilled at 2/s) before a policy close (4502). */
  readonly malformedBurst: number
  /** How long a lesson room with no local subscriber stays loaded. */
  readonly roomIdleTtl: Duration.Duration
  /** Recent durable events each room keeps in memory for recovery. */
  readonly roomRingSize: number
  /** A presence entry expires this long after its last heartbeat (ghost removal after a crash). */
  readonly presenceTtl: Duration.Duration
  /**
   * Browser origins that may open `/ws` (`*`: any). Empty: the same as CORS_ORIGINS, and any origin when that is
   * empty too. Requests without an Origin header (native apps, servers) are not browsers and are always let in.
   */
  readonly allowedOrigins: ReadonlyArray<string>
  /**
   * How often live lesson and call subscriptions are re-checked against the lesson's membership. Changes are
   * announced at once on the Bus, which delivers at most once: this bounds how long a lost announcement lasts.
   */
  readonly membershipRecheck: Duration.Duration
}

export const realtimeConfig: Config.Config<RealtimeConfig> = Config.all({
  authTimeout: duration("WS_AUTH_TIMEOUT", "10 seconds"),
  pingInterval: duration("WS_PING_INTERVAL", "20 seconds"),
  pingTimeout: duration("WS_PING_TIMEOUT", "50 seconds"),
  maxFrameBytes: integerIn("WS_MAX_FRAME_BYTES", 1024, 16 * 1024 * 1024, 64 * 1024),
  outboundLimitBytes: integerIn("WS_OUTBOUND_LIMIT_BYTES", 16 * 1024, 256 * 1024 * 1024, 4 * 1024 * 1024),
  commandRate: integerIn("WS_COMMAND_RATE", 1, 100_000, 50),
  commandBurst: integerIn("WS_COMMAND_BURST", 1, 100_000, 100),
  malformedBurst: integerIn("WS_MALFORMED_BURST", 1, 100_000, 20),
  roomIdleTtl: duration("ROOM_IDLE_TTL", "30 seconds"),
  roomRingSize: integerIn("ROOM_RING_SIZE", 0, 100_000, 512),
  presenceTtl: duration("PRESENCE_TTL", "15 seconds"),
  allowedOrigins: origins("WS_ALLOWED_ORIGINS"),
  membershipRecheck: duration("WS_MEMBERSHIP_RECHECK", "1 minute")
})
