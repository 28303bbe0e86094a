import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { NotFoundError, StoreError, StoreUserError } from '../errors.js';
import { overLimit, type ObjectInfo, type ReadOptions, type ReadResult, type Store } from './store.js';

/** A file system error in the store's terms: ENOENT missing, EISDIR the user's, EEXIST a lost conditional write. */
function failure(file: string, e: unknown): never {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') throw new NotFoundError(`not found: ${file}`);
  if (code === 'EISDIR') throw new StoreUserError(`${file} is a folder, not a file: name a file here (a key list or an Inventory manifest.json)`, 'fatal', code);
  if (code === 'EEXIST') throw new StoreError(`${file} exists`, 'conflict', code);
  throw e;
}

// fs's callback API: half the CPU per file of fs/promises' FileHandles, which matters per image.
const statFile = promisify(fs.stat);
const readWholeFile = promisify(fs.readFile);

async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const fh = await fsp.open(file).catch((e) => failure(file, e));
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** On disk before it is renamed into place: after a power cut a committed name never holds half a file. */
async function syncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The rename itself made durable; some file systems cannot sync a directory, which is no error. */
async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r').catch(() => undefined);
  await fh?.sync().catch(() => undefined);
  await fh?.close();
}

/** Write a file beside its final name, then rename it there: readers see the old file or the whole new one. */
export async function replaceLocal(file: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await write(tmp);
  await syncFile(tmp);
  await fsp.rename(tmp, file);
  await syncDir(path.dirname(file));
}

async function* listFiles(dir: string): AsyncGenerator<ObjectInfo> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return;
    throw e;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* listFiles(full);
    else if (entry.isFile() && !/\.(tmp|old)-\d+-\d+$/.test(entry.name)) {
      const st = await fsp.stat(full);
      yield { uri: full, size: st.size, modified: st.mtime };
    }
  }
}

/** Local files: a URI is a path. */
export const localStore: Store = {
  async read(file: string, { range, maxBytes = Infinity }: ReadOptions): Promise<ReadResult> {
    const stat = await statFile(file).catch((e) => failure(file, e));
    if (!range && stat.size > maxBytes) throw new StoreError(overLimit(stat.size, maxBytes), 'permanent', 'TooLarge');
    const body = range ? await readRange(file, range.start, range.end) : await readWholeFile(file).catch((e) => failure(file, e));
    return { body, modified: stat.mtime };
  },

  async stream(file) {
    const st = await statFile(file).catch((e) => failure(file, e));
    if (st.isDirectory()) failure(file, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    return fs.createReadStream(file);
  },

  write: (file, body) => replaceLocal(file, (tmp) => fsp.writeFile(tmp, body)),

  upload: (from, file) => replaceLocal(file, (tmp) => fsp.copyFile(from, tmp)),

  async writeExclusive(file, body) {
    // Written and synced aside, then linked into place: creating the name is atomic and exclusive,
    // and it never names half a file.
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
    try {
      await fsp.writeFile(tmp, body);
      await syncFile(tmp);
      await fsp.link(tmp, file);
    } catch (e) {
      if ((e as { code?: string }).code === 'EEXIST') return false;
      throw e;
    } finally {
      await fsp.rm(tmp, { force: true });
    }
    await syncDir(path.dirname(file));
    return true;
  },

  async replaceIfUnchanged(file, body) {
    // The one process whose rename of the old file succeeds wins.
    const aside = `${file}.old-${process.pid}-${Date.now()}`;
    try {
      await fsp.rename(file, aside);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return false;
      throw e;
    }
    await fsp.rm(aside, { force: true });
    return localStore.writeExclusive(file, body);
  },

  copy: (from, to) => replaceLocal(to, (tmp) => fsp.copyFile(from, tmp)),

  async stat(file) {
    const st = await fsp.stat(file).catch((e) => failure(file, e));
    return { uri: file, size: st.size };
  },

  async delete(files) {
    for (const f of files) await fsp.rm(f, { force: true });
  },

  async *list(dir, _pageSize, opts = {}) {
    // Local listings are in the same key order as S3's; startAfter skips what sorts before.
    for await (const o of listFiles(dir)) if (opts.startAfter === undefined || o.uri > opts.startAfter) yield o;
  },

  async folders(dir) {
    // A folder that is not there has no sub-folders, as an S3 prefix with no objects lists none.
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : failure(dir, e)));
    return entries.filter((e) => e.isDirectory()).map((e) => `${path.join(dir, e.name)}/`).sort();
  },

  async refuseMissingBucket() {},
};
