// What every browser run of the console shares: Playwright driving Debian's headless chromium
// against a running server (started and provisioned by crates/cli/tests/api/console*.rs,
// which pass its address and passphrases in the environment), axe-core on each page (no
// serious or critical violation), screenshots wide and at 360 px into STRONGROOM_SCREENSHOTS,
// and any Content-Security-Policy violation or page error the browser reports failing the run.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const BASE = process.env.STRONGROOM_URL;
export const ADMIN = process.env.STRONGROOM_ADMIN_PASSPHRASE;
export const UNLOCK = process.env.STRONGROOM_UNLOCK_PASSPHRASE;
export const SHOTS = process.env.STRONGROOM_SCREENSHOTS ?? 'target/console-screenshots';
// What the server printed at start, from its own digest of the certificate.
export const FINGERPRINT = process.env.STRONGROOM_FINGERPRINT;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!BASE || !ADMIN || !UNLOCK) throw new Error('STRONGROOM_URL and the passphrases must be set');
mkdirSync(SHOTS, { recursive: true });

const TIMEOUT = 30_000;

export function fail(message) {
  throw new Error(message);
}

export async function launch() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The tests run as root in a container, where chromium's sandbox cannot start.
    args: ['--no-sandbox'],
  });
  // The server's certificate is self-signed; the Rust side pins it, the browser is told to
  // accept it (the page is still a secure context, so Secure cookies and WebCrypto work).
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const cspViolations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => cspViolations.push(`page error: ${e.message}`));
  page.on('dialog', (d) => d.accept());

  async function check(name) {
    const results = await new AxeBuilder({ page }).analyze();
    const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (serious.length) {
      fail(
        `axe on ${name}: ${serious
          .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
          .join('; ')}`,
      );
    }
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    // Readable at a phone's width: nothing wider than the screen but inside scrolling tables.
    await page.setViewportSize({ width: 360, height: 800 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: join(SHOTS, `${name}-narrow.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    if (wide > 360) fail(`${name} is ${wide} px wide at 360 px`);
    console.log(`ok: ${name} (axe: ${results.violations.length} minor or moderate)`);
  }

  async function see(text) {
    await page.getByText(text).first().waitFor();
  }

  async function open(path, title) {
    await page.getByRole('link', { name: title, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    if (!page.url().endsWith(`#/${path}`)) fail(`${title} is at ${page.url()}`);
  }

  async function signIn(user, passphrase) {
    await page.getByRole('heading', { name: 'Sign in to Strongroom' }).waitFor();
    await page.getByLabel('User id').fill(user);
    await page.getByLabel('Passphrase').fill(passphrase);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Strongroom' }).waitFor();
  }

  async function finish() {
    if (cspViolations.length) fail(`the browser reported: ${cspViolations.join('; ')}`);
    await browser.close();
  }

  return { browser, context, page, check, see, open, signIn, signOut, finish };
}
