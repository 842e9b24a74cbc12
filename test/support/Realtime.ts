/**
 * Realtime settings for test stacks: short deadlines so timeouts can be
 * observed in a test, everything else at production defaults.
 */
import { Duration } from "effect"
import type { RealtimeConfig } from "../../src/layers/AppConfig.ts"

/** Production defaults with `overrides`. */
export const realtimeConfig = (overrides: Partial<RealtimeConfig> = {}): RealtimeConfig => ({
  authTimeout: Duration.seconds(10),
  pingInterval: Duration.seconds(20),
  pingTimeout: Duration.seconds(50),
  maxFrameBytes: 64 * 1024,
  outboundLimitBytes: 4 * 1024 * 1024,
  commandRate: 50,
  commandBurst: 100,
  malformedBurst: 20,
  roomIdleTtl: Duration.seconds(30),
  roomRingSize: 512,
  presenceTtl: Duration.seconds(15),
  allowedOrigins: [],
  membershipRecheck: Duration.minutes(1),
  ...overrides
})
