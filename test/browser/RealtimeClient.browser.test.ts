/**
 * The realtime client in a real browser: the production bundle (npm run
 * build:client) loaded by Chromium talks to a whole Lectern server over a real
 * WebSocket, chats with a Node-side tutor, loses its network for a while and
 * comes back with the missed events recovered in order. Run by `npm run test:browser`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import type { Page } from "playwright-core"
import { NodeWebSocket } from "../../src/client/NodeWebSocket.ts"
import { type ChannelEvent, make } from "../../src/client/RealtimeClient.ts"
import { netProxy } from "../support/NetProxy.ts"
import { link, scheduleLesson, signedIn } from "../support/Seed.ts"
import { backendLabel, baseUrl, liveStack, serverStack } from "../support/TestStack.ts"
import { chromiumPage, servePage } from "./Chromium.ts"
import type { PageReport } from "./harness.ts"

/** One call into the page; a hang names the step instead of running into the test's timeout. */
const inPage = <A>(what: string, call: () => Promise<A>) =>
  Effect.promise(call).pipe(
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`the page did not finish: ${what}`) }),
    Effect.orDie
  )

/** What the page observed so far. */
const report = (page: Page) =>
  Effect.flatMap(
    inPage("report", () => page.evaluate(() => window.lectern?.report())),
    (observed) => observed === undefined ? Effect.dieMessage("the page harness did not load") : Effect.succeed(observed)
  )

const until = <A>(check: Effect.Effect<A>, done: (a: A) => boolean, what: string) =>
  check.pipe(
    Effect.filterOrFail(done, () => "not yet"),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error(`timed out waiting for ${what}`) }),
    Effect.orDie
  )

const bodyOf = (data: unknown) =>
  typeof data === "object" && data !== null && "body" in data && typeof data.body === "string" ? data.body : undefined

const durable = (r: PageReport) => r.events.filter((event) => (event.seq ?? 0) > 0)

describe(`RealtimeClient in Chromium (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("chats with a Node participant, then reconnects after a network drop and recovers the missed events in order", () =>
      Effect.gen(function*() {
        const [tutor, ann] = yield* Effect.all([signedIn("tutor", { displayName: "Tess" }), signedIn("student", { displayName: "Ann" })])
        yield* link(tutor.user.id, ann.user.id)
        const lesson = yield* scheduleLesson(tutor.user.id, [ann.user.id])
        const channel = `lesson:${lesson.id}`
        const server = yield* baseUrl
        const net = yield* netProxy(Number(new URL(server).port))

        const tutorInbox: Array<ChannelEvent> = []
        const tutorClient = yield* make({ url: `${server.replace("http", "ws")}/ws`, token: () => tutor.token, WebSocket: NodeWebSocket })
        yield* tutorClient.subscribe(channel, (event) => void tutorInbox.push(event))

        const pageUrl = yield* servePage
        const { page, pageErrors } = yield* chromiumPage
        yield* inPage("load", () => page.goto(pageUrl))
        yield* inPage("harness", () => page.waitForFunction(() => window.lectern !== undefined))
        const ack = yield* inPage("connect and subscribe", () =>
          page.evaluate(([url, token, channel]) => window.lectern?.start(url, token, channel), [
            `ws://127.0.0.1:${net.port}/ws`,
            ann.token,
            channel
          ] as const)
        )
        expect(ack).toMatchObject({ seq: 0 })

        // Live chat both ways: the browser's own message and the tutor's, in log order.
        const sent = yield* inPage("send", () => page.evaluate((body) => window.lectern?.send(body, "browser-1"), "Hello from Chromium"))
        expect(sent).toMatchObject({ duplicate: false, message: { body: "Hello from Chromium", authorName: "Ann" } })
        yield* tutorClient.command(channel, "chat.send", { body: "Hello from Node" })
        const live = yield* until(report(page), (r) => durable(r).length >= 2, "two live messages in the page")
        expect(durable(live)).toEqual([
          { type: "chat.created", seq: 1, body: "Hello from Chromium" },
          { type: "chat.created", seq: 2, body: "Hello from Node" }
        ])
        const tutorSaw = yield* until(
          Effect.sync(() => tutorInbox.filter((event) => (event.seq ?? 0) > 0).map((event) => [event.seq, bodyOf(event.data)])),
          (seen) => seen.length >= 2,
          "the tutor to see both messages"
        )
        expect(tutorSaw).toEqual([[1, "Hello from Chromium"], [2, "Hello from Node"]])

        // The network goes down and stays down while the tutor keeps talking.
        net.setDown(true)
        net.cut()
        yield* until(report(page), (r) => r.statuses.some((s) => s.startsWith("Disconnected")), "the page to see the drop")
        const missed = ["one", "two", "three", "four", "five"].map((n) => `missed ${n}`)
        for (const body of missed) yield* tutorClient.command(channel, "chat.send", { body })
        expect(durable(yield* report(page)).map((event) => event.seq)).toEqual([1, 2])

        // Back up: the page reconnects by itself and recovers seq 3..7 in order, then is live again.
        net.setDown(false)
        const recovered = yield* until(report(page), (r) => durable(r).length >= 7, "the missed messages")
        expect(durable(recovered).map((event) => [event.seq, event.body])).toEqual([
          [1, "Hello from Chromium"],
          [2, "Hello from Node"],
          ...missed.map((body, i) => [i + 3, body])
        ])
        expect(recovered.statuses[0]).toBe("Connected")
        expect(recovered.statuses.at(-1)).toBe("Connected")
        expect(recovered.statuses.slice(1, -1).every((s) => s.startsWith("Disconnected"))).toBe(true)
        expect(recovered.statuses.length).toBeGreaterThanOrEqual(3)

        yield* inPage("send after recovery", () => page.evaluate((body) => window.lectern?.send(body, "browser-2"), "Back online"))
        const after = yield* until(report(page), (r) => durable(r).length >= 8, "a live message after recovery")
        expect(durable(after).map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
        expect(after.position?.seq).toBe(8)
        expect(after.errors).toEqual([])
        yield* inPage("close", () => page.evaluate(() => window.lectern?.close()))
        expect(pageErrors).toEqual([])
      }), { timeout: 90_000 })
  })
})
