/**
 * Trace export: with an OTLP endpoint, spans (HTTP server spans, service and
 * actor spans) are batched to `<endpoint>/v1/traces` over OTLP/HTTP; without
 * one, spans stay in-process (log correlation still works) and nothing is sent.
 */
import { FetchHttpClient } from "@effect/platform"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { Layer, Option } from "effect"

/** Settings of the trace exporter. */
export interface TelemetryOptions {
  readonly otlpEndpoint: Option.Option<string>
  readonly serviceName: string
  readonly serviceVersion: string
}

/** OTLP/HTTP (JSON) export to `endpoint`. */
export const layerOtlp = (endpoint: string, options: Omit<TelemetryOptions, "otlpEndpoint">) =>
  OtlpTracer.layer({
    url: `${endpoint.replace(/\/+$/, "")}/v1/traces`,
    resource: { serviceName: options.serviceName, serviceVersion: options.serviceVersion },
    exportInterval: "2 seconds",
    shutdownTimeout: "3 seconds"
  }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))

/** Export when an endpoint is configured, nothing otherwise. */
export const layer = (options: TelemetryOptions): Layer.Layer<never> =>
  Option.match(options.otlpEndpoint, {
    onNone: () => Layer.empty,
    onSome: (endpoint) => layerOtlp(endpoint, options)
  })
