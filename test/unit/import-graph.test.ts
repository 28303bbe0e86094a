import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { climbs, cycles, importEdges } from '../../scripts/import-graph.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('cycles finds every strongly connected set, and nothing in a tree', () => {
  assert.deepEqual(cycles([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd'], ['d', 'e'], ['e', 'd']]), [['d', 'e'], ['a', 'b', 'c']]);
  assert.deepEqual(cycles([['a', 'b'], ['a', 'c'], ['b', 'c']]), []);
  assert.deepEqual(climbs([{ from: 'src/storage/x.ts', to: 'src/plan/y.ts' }, { from: 'src/plan/y.ts', to: 'src/storage/x.ts' }]), ['src/storage/x.ts -> src/plan/y.ts: src/plan is above src/storage']);
});

test('the import graph: no folder imports from a floor above its own, and no cycle among files or folders', () => {
  const edges = importEdges(ROOT, ['src', 'cli']);
  assert.ok(edges.length > 300, `${edges.length} imports found`);
  assert.deepEqual(climbs(edges), []);
  assert.deepEqual(cycles(edges.map((e) => [e.from, e.to])), [], 'file cycles');
  const folders = edges.map(({ from, to }): [string, string] => [from.slice(0, from.lastIndexOf('/')), to.slice(0, to.lastIndexOf('/'))]).filter(([a, b]) => a !== b);
  assert.deepEqual(cycles(folders), [], 'folder cycles');
});
