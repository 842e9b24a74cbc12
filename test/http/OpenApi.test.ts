import { describe, expect, it } from "@effect/vitest"
import { HttpApi } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../../src/http/Api.ts"
import { call } from "../support/Http.ts"
import { serverStack, liveStack } from "../support/TestStack.ts"

interface OpenApiDoc {
  readonly openapi: string
  readonly paths: Record<string, Record<string, { readonly responses: Record<string, unknown> }>>
}

describe("OpenAPI and docs", () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("/openapi.json is OpenAPI 3.1 and lists every route with its error responses", () =>
      Effect.gen(function*() {
        const response = yield* call("GET", "/openapi.json")
        expect(response.status).toBe(200)
        const doc = response.json as OpenApiDoc
        expect(doc.openapi).toMatch(/^3\.1\./)
        const declared: Array<{ method: string; path: string; errors: Array<number> }> = []
        HttpApi.reflect(Api, {
          onGroup: () => {},
          onEndpoint: ({ endpoint, errors }) => {
            declared.push({
              method: endpoint.method.toLowerCase(),
              path: endpoint.path.replace(/:(\w+)/g, "{$1}"),
              errors: [...errors.keys()]
            })
          }
        })
        expect(declared.length).toBeGreaterThanOrEqual(10)
        for (const route of declared) {
          const operation = doc.paths[route.path]?.[route.method]
          expect(operation, `${route.method} ${route.path}`).toBeDefined()
          const statuses = Object.keys(operation?.responses ?? {}).map(Number)
          expect(statuses.some((s) => s >= 400), `${route.method} ${route.path} documents errors`).toBe(true)
          for (const status of route.errors) expect(statuses, `${route.method} ${route.path}`).toContain(status)
        }
        // Authenticated routes document their 401 and 403.
        expect(Object.keys(doc.paths["/api/v1/me"]?.get?.responses ?? {})).toEqual(expect.arrayContaining(["401", "403"]))
        expect(response.text).not.toContain("\"_tag\"")
      }))

    it.effect("/docs renders Swagger UI", () =>
      Effect.gen(function*() {
        const response = yield* call("GET", "/docs")
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toContain("text/html")
        expect(response.text.toLowerCase()).toContain("swagger")
      }))
  })
})
