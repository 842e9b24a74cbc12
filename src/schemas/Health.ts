/** Health reports: liveness, and readiness per component with status and latency. */
import { Schema } from "effect"

/** One dependency's state. */
export const ComponentHealth = Schema.Struct({
  status: Schema.Literal("up", "down"),
  required: Schema.Boolean,
  latencyMs: Schema.Number,
  detail: Schema.optional(Schema.String)
}).annotations({ identifier: "ComponentHealth" })

/** Readiness: `ready` only when every required component is up. */
export class ReadinessReport extends Schema.Class<ReadinessReport>("ReadinessReport")({
  status: Schema.Literal("ready", "unavailable"),
  components: Schema.Record({ key: Schema.String, value: ComponentHealth })
}) {}

/** Liveness: the process answers. */
export const Liveness = Schema.Struct({ status: Schema.Literal("ok") }).annotations({ identifier: "Liveness" })
