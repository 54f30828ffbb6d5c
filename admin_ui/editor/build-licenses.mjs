// Writes ../static/editor.LICENSE: the licence of every package bundled into editor.js.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const parts = [];
for (const [path, info] of Object.entries(lock.packages)) {
  if (!path || info.dev === undefined || path.includes("esbuild")) continue;
  const license = ["LICENSE", "LICENSE.md", "LICENSE.txt"].map((f) => `${path}/${f}`).find(existsSync);
  const name = path.replace(/^.*node_modules\//, "");
  parts.push(`${name} ${info.version} (${info.license})\n\n${license ? readFileSync(license, "utf8").trim() : ""}\n`);
}
writeFileSync("../static/editor.LICENSE", parts.sort().join("\n" + "-".repeat(72) + "\n\n"));
