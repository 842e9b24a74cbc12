/**
 * The page side of the browser test, run by Chromium as a module script (type-
 * stripped, not bundled): loads the client bundle the page server serves, and
 * exposes on `window.lectern` what the test drives and what it reads back.
 */
import type * as ClientModule from "../../src/client/RealtimeClient.ts"
import type { StreamPosition } from "../../src/schemas/Frames.ts"

/** One channel event as the page saw it. */
export interface SeenEvent {
  readonly type: string
  readonly seq: number | undefined
  readonly body: string | undefined
}

/** Everything the page observed so far. */
export interface PageReport {
  /** `Connected`, or `Disconnected <code>`, in order. */
  readonly statuses: ReadonlyArray<string>
  readonly events: ReadonlyArray<SeenEvent>
  readonly position: StreamPosition | undefined
  /** Rejections of calls the page made on its own (none are expected). */
  readonly errors: ReadonlyArray<string>
}

/** The test's handle on the page. */
export interface LecternPage {
  /** Connects with `token`, subscribes to `channel`; resolves with the subscribe ack's data. */
  readonly start: (url: string, token: string, channel: string) => Promise<unknown>
  /** Sends a chat message on the subscribed channel; resolves with the ack's data. */
  readonly send: (body: string, clientMessageId: string) => Promise<unknown>
  readonly report: () => PageReport
  readonly close: () => Promise<void>
}

declare global {
  interface Window {
    lectern?: LecternPage
  }
}

// The specifier is a variable so TypeScript does not try to resolve the served file;
// its type is that of the module it was built from.
const bundleUrl: string = "/lectern-client.js"
const { connect } = (await import(bundleUrl)) as typeof ClientModule

const statuses: Array<string> = []
const events: Array<SeenEvent> = []
const errors: Array<string> = []
let client: ClientModule.PromiseClient | undefined
let subscribed = ""

const bodyOf = (data: unknown) =>
  typeof data === "object" && data !== null && "body" in data && typeof data.body === "string" ? data.body : undefined

const connected = () => {
  if (client === undefined) throw new Error("start() first")
  return client
}

window.lectern = {
  start: async (url, token, channel) => {
    client = await connect({
      url,
      token: () => token,
      // Short delays: the test waits for the reconnect.
      reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
      onStatus: (status) =>
        void statuses.push(status._tag === "Connected" ? "Connected" : `Disconnected ${status.code}`)
    })
    subscribed = channel
    return client.subscribe(channel, (event) => void events.push({ type: event.type, seq: event.seq, body: bodyOf(event.data) }))
  },
  send: (body, clientMessageId) =>
    connected().command(subscribed, "chat.send", { body, clientMessageId }).catch((error: unknown) => {
      errors.push(String(error))
      throw error
    }),
  report: () => ({ statuses: [...statuses], events: [...events], position: client?.position(subscribed), errors: [...errors] }),
  close: () => connected().close()
}
