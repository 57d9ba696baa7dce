// Run rm_executor.wasm under Node.js's built-in WASI (a second, independent WASI runtime).
//   node runtime/run_wasi.mjs rm_executor.wasm [--dir HOST::GUEST ...] < request.json
// Used by the tests to show the module needs nothing from RM Studio's wasmtime host.
// Node's WASI is not a security sandbox; RM Studio itself always runs the guest in wasmtime.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const [wasmPath, ...rest] = process.argv.slice(2);
if (!wasmPath) {
  console.error("usage: node run_wasi.mjs MODULE.wasm [--dir HOST::GUEST ...] < request.json");
  process.exit(2);
}
const preopens = {};
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--dir" && rest[i + 1]) {
    const [host, guest] = rest[++i].split("::");
    preopens[guest || host] = host;
  }
}
const wasi = new WASI({ version: "preview1", args: ["rm_executor"], env: {}, preopens, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
