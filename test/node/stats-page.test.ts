// The stats page in a real headless browser (Debian's chromium driven by playwright-core): two real
// origin processes behind the Node balancer, the page opened with Basic credentials, both rows UP
// (text and colour); one origin killed by pid, and its row turns DOWN on the page's own refresh (no
// reload by the test). Screenshots, desktop and phone size, go to test-artifacts/.
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killOrigins, poolOf, startBalancer, startOrigin, waitFor, type TestBalancer, type TestOrigin } from "../support/harness.ts";

// what the page functions below use inside the browser (this project's tsconfig has no DOM lib)
type El = { scrollWidth: number; clientWidth: number; scrollLeft: number };
declare const document: { documentElement: El; querySelector(s: string): El | null };
declare const window: { innerWidth: number };
declare function getComputedStyle(e: unknown): { backgroundColor: string; fontSize: string };

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
const USER = "ops";
const PASSWORD = "stats-page-test-password";
process.env.EDGELB_STATS_PAGE_PASSWORD = PASSWORD;

/** Background colours of the state classes (core/stats/html.ts STATE_COLOURS), as computed styles. */
const GREEN = "rgb(192, 240, 192)";
const RED = "rgb(240, 160, 160)";

let web01: TestOrigin, web02: TestOrigin, b: TestBalancer, browser: Browser;

beforeAll(async () => {
  // not a skip: without chromium this test fails and says how to get it
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} not found: the stats page test needs Debian's chromium. Run \`bash .ci/run\` (installs it as root) or \`apt-get install chromium\`.`);
  mkdirSync(ARTIFACTS, { recursive: true });
  [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
  b = await startBalancer({
    pools: { webfarm: poolOf([web01, web02], { check: { interval: "200ms", timeout: "150ms", rise: 2, fall: 2 } }, [3, 1]) },
    stats: { auth: { basic: [{ user: USER, passwordEnv: "EDGELB_STATS_PAGE_PASSWORD" }] } },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // root has no user namespace sandbox here; /dev/shm is small on CI machines
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), "--disable-dev-shm-usage"],
    timeout: 30_000,
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await b?.close();
  await killOrigins();
});

const row = (page: Page, origin: string) => page.locator(`tr[data-pool="webfarm"][data-origin="${origin}"]`);
const stateCell = (page: Page, origin: string) => row(page, origin).locator("td.state");
const background = (page: Page, origin: string) => stateCell(page, origin).evaluate((td) => getComputedStyle(td).backgroundColor);

describe("stats page in chromium (Node build)", () => {
  it("without credentials: 401 and a Basic challenge, nothing of the pool shown", async () => {
    const ctx = await browser.newContext();
    try {
      // a page navigation would stop at the browser's own login prompt (an error when headless): ask
      // through the browser's request context, which hands back the answer as it came
      const res = await ctx.request.get(`${b.url}/__edgelb/stats`);
      expect(res.status()).toBe(401);
      expect(res.headers()["www-authenticate"]).toBe('Basic realm="edgelb"');
      expect(await res.text()).not.toContain("webfarm");
    } finally {
      await ctx.close();
    }
  });

  it("both rows UP in green; a killed origin turns DOWN in red on the page's own refresh", async () => {
    await waitFor(() => b.stats().origins.every((o) => o.lastCheck?.ok === true), 5000);
    const ctx = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1800, height: 500 } });
    try {
      const page = await ctx.newPage();
      const elsewhere: string[] = [];
      page.on("request", (r) => void (r.url().startsWith(b.url) || elsewhere.push(r.url())));
      let loads = 0;
      page.on("load", () => loads++);
      const res = await page.goto(`${b.url}/__edgelb/stats?refresh=1`);
      expect(res!.status()).toBe(200);
      expect(await page.title()).toBe("edgelb stats");
      for (const name of ["web01", "web02"]) {
        expect(await stateCell(page, name).textContent()).toBe("UP");
        expect(await row(page, name).getAttribute("class")).toBe("st-up");
        expect(await background(page, name)).toBe(GREEN);
        expect(await row(page, name).locator("td.admin").textContent()).toBe("ready");
      }
      expect(await row(page, "web01").locator("td.eff").textContent()).toBe("3");
      expect(await row(page, "web01").locator("td.check").textContent()).toMatch(/^HTTP 200 in \d+ms, /);
      expect(await page.locator("tfoot td.state").textContent()).toBe("UP");

      // SIGKILL by pid: no goodbye, the checks find out
      process.kill(web02.pid, "SIGKILL");
      await web02.kill();
      const loadsBefore = loads;
      await row(page, "web02").and(page.locator(".st-down")).waitFor({ timeout: 15_000 });
      // the page reloaded itself (meta refresh); the test never reloaded it
      expect(loads).toBeGreaterThan(loadsBefore);
      expect(await stateCell(page, "web02").textContent()).toBe("DOWN");
      expect(await background(page, "web02")).toBe(RED);
      expect(await row(page, "web02").locator("td.check .bad").count()).toBe(1);
      expect(await row(page, "web02").locator("td.eff").textContent()).toBe("0");
      expect(await row(page, "web02").locator("td.downtime").textContent()).toMatch(/^\d+(ms|s)$/);
      expect(await stateCell(page, "web01").textContent()).toBe("UP");
      expect(await background(page, "web01")).toBe(GREEN);
      await page.screenshot({ path: `${ARTIFACTS}stats-page.png`, fullPage: true });
      // the artifact is there, a PNG of some size
      expect(readFileSync(`${ARTIFACTS}stats-page.png`).subarray(1, 4).toString("latin1")).toBe("PNG");
      expect(statSync(`${ARTIFACTS}stats-page.png`).size).toBeGreaterThan(10_000);
      expect(elsewhere).toEqual([]);
      // looking at the stats sent nothing to the origins (no /favicon.ico through the proxy either)
      expect(b.stats().requests).toBe(0);
      expect(loads).toBeGreaterThanOrEqual(2);
    } finally {
      await ctx.close();
    }
  }, 60_000);

  it("on a phone: the page fits the screen, the table scrolls sideways inside it", async () => {
    const ctx = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    try {
      const page = await ctx.newPage();
      expect((await page.goto(`${b.url}/__edgelb/stats`))!.status()).toBe(200);
      const m = await page.evaluate(() => {
        const scroll = document.querySelector(".scroll")!;
        return {
          page: document.documentElement.scrollWidth,
          inner: window.innerWidth,
          tableScrolls: scroll.scrollWidth > scroll.clientWidth,
          font: parseFloat(getComputedStyle(document.querySelector("td")!).fontSize),
        };
      });
      // the viewport meta keeps the layout at the phone's width (without it: 980 px, tiny text)
      expect(m.inner).toBe(390);
      expect(m.page).toBeLessThanOrEqual(390);
      expect(m.tableScrolls).toBe(true);
      expect(m.font).toBeGreaterThanOrEqual(12);
      // the origin's name stays in view while the row scrolls (sticky first column)
      await page.locator(".scroll").first().evaluate((el) => (el.scrollLeft = 400));
      const box = await row(page, "web01").locator("td.name").boundingBox();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x).toBeLessThan(30);
      await page.locator(".scroll").first().evaluate((el) => (el.scrollLeft = 0));
      expect(await stateCell(page, "web02").textContent()).toBe("DOWN");
      await page.screenshot({ path: `${ARTIFACTS}stats-page-phone.png`, fullPage: true });
      // the artifact is there, a PNG of some size
      expect(readFileSync(`${ARTIFACTS}stats-page-phone.png`).subarray(1, 4).toString("latin1")).toBe("PNG");
      expect(statSync(`${ARTIFACTS}stats-page-phone.png`).size).toBeGreaterThan(10_000);
    } finally {
      await ctx.close();
    }
  }, 60_000);
});
