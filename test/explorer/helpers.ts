/**
 * What the explorer's browser tests share: Debian's chromium driven by playwright-core (never a
 * downloaded browser), the built web app, one page whose errors and Content-Security-Policy
 * violations are collected, screenshots copied to test-artifacts/explorer/, and the skip reason
 * where chromium or playwright-core is missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { explorerSourcesNewer } from '../../bin/sourcesNewer.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = process.env.ADVLENS_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(root, 'test-artifacts', 'explorer');

type Playwright = typeof import('playwright-core');
let playwright: Playwright | null = null;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = null;
}
/** Why the browser tests skip (false when they can run). */
export const skip: string | false = !fs.existsSync(CHROMIUM)
  ? `no ${CHROMIUM}: install Debian's package chromium (apt-get install chromium) to run the explorer test`
  : !playwright
    ? `playwright-core is not installed (npm install); with Debian's package chromium it runs the explorer test`
    : false;

/** The neurons of a view as sorted `layer:channel` keys. */
export const keys = (v: Record<string, number[]>) =>
  Object.entries(v)
    .flatMap(([l, cs]) => cs.map((c) => `${l}:${c}`))
    .sort();

/**
 * The built web app's folder: dist/explorer when it is at least as new as explorer/ and src/ (as
 * `npm test` leaves it: its pretest step has just built it, so it is not built again here), else a
 * fresh Vite build of explorer/ into `tmp`/app.
 */
export async function explorerApp(tmp: string): Promise<string> {
  const built = path.join(root, 'dist', 'explorer');
  if (!explorerSourcesNewer(new URL('../../', import.meta.url))) return built;
  const { build } = await import('vite');
  const app = path.join(tmp, 'app');
  await build({
    configFile: path.join(root, 'explorer', 'vite.config.ts'),
    build: { outDir: app },
    logLevel: 'error',
  });
  return app;
}

export interface BrowserSession {
  browser: import('playwright-core').Browser;
  page: import('playwright-core').Page;
  /** Page errors and CSP violations (and, with `consoleErrors`, console errors) seen so far. */
  problems: string[];
  /** A full-page screenshot named `name`, kept for test-artifacts/explorer/. */
  shot(name: string): Promise<void>;
  /** Keeps `file` (an image written by the test) for test-artifacts/explorer/. */
  keep(file: string): void;
  /** Closes the browser and copies the screenshots to test-artifacts/explorer/. */
  close(): Promise<void>;
}

/** Launches chromium headless with one page; screenshots are written under `tmp`. */
export async function openBrowser(
  tmp: string,
  o: { viewport: { width: number; height: number }; acceptDownloads?: boolean; consoleErrors?: boolean },
): Promise<BrowserSession> {
  const browser = await playwright!.chromium.launch({ executablePath: CHROMIUM, headless: true });
  const page = await browser.newPage({ viewport: o.viewport, acceptDownloads: o.acceptDownloads });
  const problems: string[] = [];
  const shots: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (o.consoleErrors && m.type() === 'error' && !/404|Failed to load resource/.test(m.text()))
      problems.push(`console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  return {
    browser,
    page,
    problems,
    async shot(name) {
      const file = path.join(tmp, name);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
    },
    keep: (file) => void shots.push(file),
    async close() {
      await browser.close();
      if (shots.length) {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        for (const f of shots) fs.copyFileSync(f, path.join(ARTIFACTS, path.basename(f)));
      }
    },
  };
}
