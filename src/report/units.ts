/** One vocabulary for what a person reads: counts with their noun, sizes in the unit that fits. */

/** "1 file", "3 files"; `many` where adding an s is wrong ("1 copy", "2 copies"). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Bytes in decimal units, three figures at most ("820 bytes", "48.2 kB", "1.31 GB"); unknown said so. */
export function size(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return 'unknown';
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 999.5 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  if (u === 0) return plural(Math.round(v), 'byte');
  return `${v >= 99.95 ? v.toFixed(0) : v >= 9.995 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[u]}`;
}
