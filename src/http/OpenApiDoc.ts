/**
 * Post-processing of the generated OpenAPI document. HttpApi declares its own
 * `HttpApiDecodeError` (with `_tag` and parse issues) on every route, but the error
 * edge answers decode failures as `VALIDATION_ERROR` in the unified body, so the
 * document must not advertise the internal shape: it is removed here.
 */

const internalSchemas = new Set(["HttpApiDecodeError", "Issue", "PropertyKey"])

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const refersToInternal = (schema: unknown) =>
  isRecord(schema) && typeof schema.$ref === "string" &&
  internalSchemas.has(schema.$ref.replace("#/components/schemas/", ""))

/** Drops internal alternatives from a response schema (collapsing a one-item `anyOf`). */
const cleanSchema = (schema: unknown): unknown => {
  if (!isRecord(schema) || !Array.isArray(schema.anyOf)) return schema
  const kept = schema.anyOf.filter((alternative) => !refersToInternal(alternative))
  return kept.length === 1 ? kept[0] : { ...schema, anyOf: kept }
}

const cleanResponse = (response: unknown): unknown => {
  if (!isRecord(response) || !isRecord(response.content)) return response
  const json = response.content["application/json"]
  if (!isRecord(json)) return response
  const description = typeof response.description === "string" &&
      response.description === "The request did not match the expected schema"
    ? "Invalid request: VALIDATION_ERROR (every bad field named) or MALFORMED_BODY"
    : response.description
  return { ...response, description, content: { ...response.content, "application/json": { ...json, schema: cleanSchema(json.schema) } } }
}

const mapValues = (record: unknown, f: (value: unknown) => unknown): unknown =>
  isRecord(record) ? Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)])) : record

/** The OpenAPI transform installed on the API. */
export const cleanOpenApi = (spec: Record<string, unknown>): Record<string, unknown> => {
  const paths = mapValues(spec.paths, (item) =>
    mapValues(item, (operation) =>
      isRecord(operation) ? { ...operation, responses: mapValues(operation.responses, cleanResponse) } : operation))
  const components = isRecord(spec.components) ? spec.components : {}
  const schemas = isRecord(components.schemas)
    ? Object.fromEntries(Object.entries(components.schemas).filter(([name]) => !internalSchemas.has(name)))
    : {}
  return { ...spec, paths, components: { ...components, schemas } }
}
