#!/usr/bin/env node
'use strict';
// Thin launcher: the command line is bundled into dist/cli.js by `npm run build`
// (which `npm ci` runs through the `prepare` script).
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write(`transferlab: ${cli} is missing; run \`npm run build\` in ${path.dirname(__dirname)} first.\n`);
  process.exit(1);
}
require(cli).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`transferlab: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
