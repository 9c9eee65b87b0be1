// Runs a wasm32-wasip1 command module in Node's V8 (the engine Envoy embeds), for micro
// benchmarks of guest code without a proxy: node ci/bench-data/run-wasi.mjs FILE.wasm
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: [], env: {} });
const wasm = await WebAssembly.compile(await readFile(process.argv[2]));
const instance = await WebAssembly.instantiate(wasm, wasi.getImportObject());
wasi.start(instance);
