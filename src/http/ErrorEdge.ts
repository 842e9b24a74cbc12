/**
 * Installs the error edge inside the HttpApi app: every failure a route (or
 * the router) produces is rendered by `renderCause` into the unified body before
 * HttpApi's own encoder sees it, so nothing unrendered (`_tag`, parse trees) leaks.
 */
import { HttpApi, HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "./Api.ts"
import { renderCause, type RouteTable } from "./HttpErrors.ts"

const toPattern = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z0-9_]+/g, "[^/]+")}/?$`)

/** Every (method, path pattern) the API declares. */
export const routeTable: RouteTable = (() => {
  const routes: Array<{ readonly method: string; readonly pattern: RegExp }> = []
  HttpApi.reflect(Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      routes.push({ method: endpoint.method, pattern: toPattern(endpoint.path) })
    }
  })
  return {
    allowedMethods: (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))]
  }
})()

/** The HttpApi-level middleware layer that renders failures. */
export const ErrorEdgeLive = HttpApiBuilder.middleware(Api, (app) =>
  Effect.catchAllCause(app, (cause) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      renderCause(cause, routeTable, { method: request.method, path: request.url.split("?")[0] ?? "/" }))))
