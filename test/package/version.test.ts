import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { VERSION, versions } from '../../src/version.ts';

test("VERSION (written in src/packageVersion.ts, so the core imports no JSON) is package.json's version", () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, pkg.version);
  assert.equal(versions().advlens, pkg.version);
});
