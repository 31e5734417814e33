// Counts the tokens of every tool in golden tools/list files with a real
// tokenizer and writes <name>.tokens.json beside each file. The Go tests
// check the counts against the budget and check that each count belongs
// to the tool bytes the generator writes today (by SHA-256), so a count
// cannot go stale silently.
//
//   npm install --prefix mcp/testdata/tokens
//   node mcp/testdata/tokens/count.mjs mcp/testdata/golden/shop.json ...
//
// go test ./mcp -run TestGolden -update runs it after rewriting the golden
// files.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { countTokens } = require("@anthropic-ai/tokenizer");
const tokenizer = "@anthropic-ai/tokenizer " + require("@anthropic-ai/tokenizer/package.json").version;

for (const path of process.argv.slice(2)) {
  const golden = JSON.parse(readFileSync(path, "utf8"));
  const out = { tokenizer, tools: [], total: { bytes: 0, tokens: 0, bytes_div_4: 0 } };
  for (const tool of golden.tools) {
    // The tool exactly as tools/list carries it: pgmoat's annotations
    // (x-pgmoat-*) are not part of it.
    const wire = Object.fromEntries(Object.entries(tool).filter(([k]) => !k.startsWith("x-pgmoat-")));
    const text = JSON.stringify(wire);
    const bytes = Buffer.byteLength(text, "utf8");
    const entry = {
      name: tool.name,
      bytes,
      bytes_div_4: Math.ceil(bytes / 4),
      tokens: countTokens(text),
      sha256: createHash("sha256").update(text, "utf8").digest("hex"),
    };
    out.tools.push(entry);
    out.total.bytes += entry.bytes;
    out.total.tokens += entry.tokens;
    out.total.bytes_div_4 += entry.bytes_div_4;
  }
  const dest = path.replace(/\.json$/, ".tokens.json");
  writeFileSync(dest, JSON.stringify(out, null, 2) + "\n");
  console.log(`${dest}: ${out.tools.length} tools, ${out.total.tokens} tokens (${out.total.bytes} bytes)`);
}
