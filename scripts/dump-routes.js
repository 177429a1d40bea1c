#!/usr/bin/env node
// Prints the daemon's route table as JSON lines {method, path} (used by gen-openapi.py).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Stevedore } = require('../dist/src/cmd/stevedored/wire.js');
const { defaultConfig } = require('../dist/src/daemon/config.js');
const { nullLogger } = require('../dist/src/engine/log.js');

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-routes-'));
  const cfg = { ...defaultConfig(), dataRoot: path.join(dir, 'root'), execRoot: path.join(dir, 'exec') };
  const d = await Stevedore.open(cfg, nullLogger);
  try {
    for (const r of d.router().routes()) process.stdout.write(JSON.stringify({ method: r.method, path: r.path, notImplemented: r.notImplemented === true }) + '\n');
  } finally {
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
