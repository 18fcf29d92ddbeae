// Build the panel into one ES module in the integration's folder (HACS installs only that).
// The bundle is committed; scripts/test rebuilds it and fails if it differs.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

// scripts/test builds elsewhere (PANEL_BUNDLE_OUT) and compares with the committed file.
const OUTFILE =
  process.env.PANEL_BUNDLE_OUT ?? "../custom_components/usage_stats/frontend/usage-stats-panel.js";
const MAX_GZIPPED = 150 * 1024;

await build({
  entryPoints: ["src/usage-stats-panel.ts"],
  bundle: true,
  format: "esm",
  target: "es2021",
  minify: true,
  legalComments: "eof",
  outfile: OUTFILE,
  logLevel: "warning",
});

const gzipped = gzipSync(readFileSync(OUTFILE), { level: 9 }).length;
console.log(`${OUTFILE}: ${(gzipped / 1024).toFixed(1)} KB gzipped (limit 150 KB)`);
if (gzipped > MAX_GZIPPED) {
  console.error("The bundle is larger than 150 KB gzipped.");
  process.exit(1);
}
