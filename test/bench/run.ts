import { runCodecBench } from './codec.bench.js';
import { runExecBench } from './exec.bench.js';
import { runLoopBench } from './loop.bench.js';
import { MESH_SHAPES, runMeshBench } from './mesh.bench.js';
import { runSchedulerBench } from './scheduler.bench.js';
import { runStreamBench } from './stream.bench.js';
import { writeResult, type Figures } from './report.js';

/**
 * `npm run bench` runs every benchmark except the slow `mesh-10k`; `npm run bench -- <name> [...]` runs some. Each prints
 * its figures and writes test/bench/results/<name>.json. Benchmarks report; they never fail on
 * speed.
 */
const benches: Record<string, () => Promise<Figures>> = {
  codec: runCodecBench,
  mesh: () => runMeshBench(MESH_SHAPES.mesh),
  'mesh-10k': () => runMeshBench(MESH_SHAPES['mesh-10k']),
  exec: runExecBench,
  loop: runLoopBench,
  scheduler: runSchedulerBench,
  stream: runStreamBench,
};

const requested = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const names = requested.length > 0 ? requested : Object.keys(benches).filter((name) => name !== 'mesh-10k');
const unknown = names.filter((name) => !(name in benches));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
for (const name of names) writeResult(name, await benches[name]!());
