import picomatch from 'picomatch';
import { UserError } from '../errors.js';
import { parseUri } from '../storage/uri.js';
import { IMAGE_EXTENSIONS } from './filter.js';

/** plan's filters, for every source: which of the manifest's images go into the plan. */
export interface RowFilterOptions {
  /** Globs on the key (s3) or path (local), relative to --prefix: a row must match one. A glob without "/" matches the file name. */
  include?: string[];
  /** Globs as for include: a row matching one is left out. */
  exclude?: string[];
  minBytes?: number;
  maxBytes?: number;
  /** Only objects written after this (prefix listings: S3's LastModified, a file's mtime). */
  modifiedAfter?: Date;
}

export interface FilterRow {
  uri: string;
  size?: number;
  modified?: Date;
}

export const hasFilter = (o?: RowFilterOptions): o is RowFilterOptions =>
  o !== undefined && Boolean(o.include?.length || o.exclude?.length || o.minBytes !== undefined || o.maxBytes !== undefined || o.modifiedAfter !== undefined);

/** What globs see: the path under --prefix when the rows come from one, else the key (s3) or the path. */
const keyOf = (uri: string, root?: string) => {
  if (root !== undefined && uri.startsWith(root)) return uri.slice(root.length).replace(/^\/+/, '');
  const loc = parseUri(uri);
  return loc.kind === 's3' ? loc.key : uri;
};

const imageExtensions = new Set<string>(IMAGE_EXTENSIONS);

/**
 * A key or glob with its image extension lower-cased: an image is one whatever its extension's case
 * (filter.ts), so `--include '*.jpeg'` keeps X.JPEG too. The rest of a key keeps its case, as S3 does.
 */
function foldExtension(s: string): string {
  const dot = s.lastIndexOf('.');
  if (dot < 0 || dot < s.lastIndexOf('/')) return s;
  const ext = s.slice(dot + 1).toLowerCase();
  return imageExtensions.has(ext) ? s.slice(0, dot + 1) + ext : s;
}

/**
 * The filter as one function. A row without a size passes the size bounds only when none is set,
 * and a row without a date cannot be judged by --modified-after: both are refused with the reason
 * rather than silently let through or dropped.
 */
export function rowFilter(o: RowFilterOptions, root?: string): (row: FilterRow) => boolean {
  // picomatch's basename option also applies to globs with "/" (and then never matches): kept apart.
  const glob = (patterns: string[] | undefined) => {
    if (!patterns?.length) return undefined;
    const names = patterns.filter((p) => !p.includes('/')).map(foldExtension);
    const paths = patterns.filter((p) => p.includes('/')).map(foldExtension);
    const byName = names.length ? picomatch(names, { dot: true, basename: true }) : () => false;
    const byPath = paths.length ? picomatch(paths, { dot: true }) : () => false;
    return (key: string) => byName(key) || byPath(key);
  };
  const include = glob(o.include);
  const exclude = glob(o.exclude);
  const after = o.modifiedAfter?.getTime();
  return (row) => {
    const key = foldExtension(keyOf(row.uri, root));
    if (include && !include(key)) return false;
    if (exclude?.(key)) return false;
    if (o.minBytes !== undefined || o.maxBytes !== undefined) {
      if (row.size === undefined) throw new UserError(`--min-bytes/--max-bytes: ${row.uri} has no size in the manifest (give a prefix, an Inventory, or a key list with a size column)`);
      if (o.minBytes !== undefined && row.size < o.minBytes) return false;
      if (o.maxBytes !== undefined && row.size > o.maxBytes) return false;
    }
    if (after !== undefined) {
      if (row.modified === undefined) throw new UserError(`--modified-after: ${row.uri} has no date in the manifest: it needs a --prefix listing (S3 LastModified, a file's mtime)`);
      if (row.modified.getTime() <= after) return false;
    }
    return true;
  };
}
