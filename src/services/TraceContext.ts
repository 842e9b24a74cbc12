/**
 * W3C trace context carried with background work: the `traceparent` of the span
 * that enqueued a job is stored with it, and the job's run span continues that
 * trace, so one trace shows "REST call → job → push".
 */
import { Headers, HttpTraceContext } from "@effect/platform"
import { Effect, Option, type Tracer } from "effect"

/** `span` as a `traceparent` value. */
export const traceParentOf = (span: Tracer.AnySpan): string => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** The current span as a `traceparent` value, or null outside any span. */
export const currentTraceParent: Effect.Effect<string | null> = Effect.map(
  Effect.option(Effect.currentSpan),
  Option.match({ onNone: () => null, onSome: traceParentOf })
)

/** The span a stored `traceparent` names, to parent work on (none when absent or malformed). */
export const parentFromTraceParent = (traceParent: string | null): Option.Option<Tracer.ExternalSpan> =>
  traceParent === null ? Option.none() : HttpTraceContext.w3c(Headers.fromInput({ traceparent: traceParent }))
