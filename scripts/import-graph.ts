import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The house's floors, top to bottom: a folder may import from its own floor's folders and from any
 * floor below, never from one above. README's Architecture section draws the same tree.
 */
export const FLOORS: Record<string, string>[] = [
  { cli: 'the bin and main(argv): the program, its commands in workflow order, the exit code' },
  { 'cli/commands': 'one file per command: its flags, its action, the exit code it answers' },
  { 'cli/common': "what commands share: flag parsers, tables, the progress bar and event log" },
  { 'src/demo': 'the whole job on a loopback S3 server', 'src/nightly': 'the cron job: plan what changed, tag it, compact, move the current table', 'src/tune': 'measured search over batch, concurrency, threads, workers', 'src/listen': 'new uploads from S3 event notifications, tagged in micro-batches; the now view' },
  { 'src/run': 'a planned run end to end: worker processes over the shards, then compaction' },
  { 'src/pool': 'worker processes, shard dispatch under leases, stopping on signals' },
  { 'src/pipeline': 'one shard: fetch, decode, batch, infer, write, commit', 'src/report': 'time and cost per run, projected to a fleet' },
  { 'src/compact': 'shard files merged into the dataset, verified and repaired', 'src/plan': 'a manifest streamed into shard files, joined against what was tagged' },
  { 'src/current': 'the current table: newest tags of every live object, versioned' },
  { 'src/fleet': 'AWS Batch submission', 'src/lease': 'exclusive, expiring claims on storage', 'src/output': 'result rows to Parquet' },
  { 'src/rundir': "a run directory's state: layout, plan.json, shard files, commit markers, compaction state, current.json, stages" },
  { 'src/infer': 'onnxruntime sessions, devices, the host', 'src/decode': 'images to model-sized pixels (JPEG fast path, sharp, HEIC)', 'src/manifest': 'Inventory reports, key lists and prefixes as rows' },
  { 'src/model': 'model files: names, downloads, input specs', 'src/native': "the C addons' loader" },
  { 'src/storage': 'one interface over local files and S3' },
  { src: 'errors and defaults', 'src/batch': 'images packed into tensors', 'src/sql': 'DuckDB set-up', 'src/temp': 'scratch folders' },
];

export interface ImportEdge {
  from: string;
  to: string;
}

/** Every relative import (static, dynamic, type-only, re-export) between the .ts files under `dirs`, as repository paths. */
export function importEdges(root: string, dirs: string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
  for (const file of dirs.flatMap((d) => walk(path.join(root, d)))) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), fileName.replace(/\.js$/, '.ts'));
      edges.push({ from: path.relative(root, file), to: path.relative(root, target) });
    }
  }
  return edges;
}

/** The cycles of a directed graph: its strongly connected components of more than one node. */
export function cycles(edges: [string, string][]): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) next.set(a, [...(next.get(a) ?? []), b]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** Imports that climb: from a folder to one on a higher floor (or to a folder on no floor). */
export function climbs(edges: ImportEdge[], floors = FLOORS): string[] {
  const floorOf = new Map<string, number>();
  floors.forEach((rooms, i) => Object.keys(rooms).forEach((r) => floorOf.set(r, i)));
  const out: string[] = [];
  for (const { from, to } of edges) {
    const [a, b] = [path.dirname(from), path.dirname(to)];
    const [fa, fb] = [floorOf.get(a), floorOf.get(b)];
    if (fa === undefined || fb === undefined) out.push(`${from} -> ${to}: ${fa === undefined ? a : b} is on no floor`);
    else if (fb < fa) out.push(`${from} -> ${to}: ${b} is above ${a}`);
  }
  return out;
}
