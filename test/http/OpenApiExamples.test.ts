/**
 * The OpenAPI document of the relations, lessons, feature-flag and lesson-room routes: every
 * route has a summary and a description, every JSON request body and success
 * body has an example, and every example is a valid instance of its schema (so
 * the examples cannot drift from the API).
 */
import { HttpApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Schema } from "effect"
import { Api } from "../../src/http/Api.ts"
import { call } from "../support/Http.ts"
import { liveStack, serverStack } from "../support/TestStack.ts"

interface Operation {
  readonly summary?: string
  readonly description?: string
  readonly requestBody?: { readonly content: Record<string, { readonly example?: unknown }> }
  readonly responses: Record<string, { readonly content?: Record<string, { readonly example?: unknown }> }>
}

const groups = new Set(["relations", "lessons", "featureFlags", "room", "sync", "calls"])

describe("OpenAPI of lessons, relations and feature flags", () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("every route is described, and every example decodes with its schema", () =>
      Effect.gen(function*() {
        const doc = (yield* call("GET", "/openapi.json")).json as { paths: Record<string, Record<string, Operation>> }
        let routes = 0
        const problems: Array<string> = []
        HttpApi.reflect(Api, {
          onGroup: () => {},
          onEndpoint: ({ endpoint, group, payloads, successes }) => {
            if (!groups.has(group.identifier)) return
            routes++
            const route = `${endpoint.method} ${endpoint.path}`
            const op = doc.paths[endpoint.path.replace(/:(\w+)/g, "{$1}")]?.[endpoint.method.toLowerCase()]
            if (op === undefined) return problems.push(`${route}: missing from the document`)
            if ((op.summary ?? "").length < 10) problems.push(`${route}: no summary`)
            if ((op.description ?? "").length < 20) problems.push(`${route}: no description`)
            for (const [, payload] of payloads) {
              const example = op.requestBody?.content["application/json"]?.example
              if (example === undefined) problems.push(`${route}: no request example`)
              else if (Either.isLeft(Schema.decodeUnknownEither(Schema.make(payload.ast))(example))) {
                problems.push(`${route}: request example does not decode`)
              }
            }
            for (const [status, success] of successes) {
              if (Option.isNone(success.ast) || status === 204) continue
              const example = op.responses[String(status)]?.content?.["application/json"]?.example
              if (example === undefined) problems.push(`${route}: no ${status} example`)
              else {
                const decoded = Schema.decodeUnknownEither(Schema.make(success.ast.value))(example)
                if (Either.isLeft(decoded)) problems.push(`${route}: ${status} example does not decode: ${decoded.left}`)
              }
            }
          }
        })
        expect(problems).toEqual([])
        expect(routes).toBe(32)
      }))
  })
})
