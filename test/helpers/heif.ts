/**
 * Minimal HEIF (ISO-BMFF) box surgery for test fixtures that Debian's heif-enc (libheif 1.15) cannot
 * write itself: an image turned upright by an `irot` transform, a grid (tiled) image, the way
 * iPhones store photos, and hostile ones (no SPS, a size declared smaller than the coded one, a grid
 * canvas far larger than its tiles). The coded data comes from single-image files heif-enc wrote.
 */
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const box = (type: string, ...body: Buffer[]) => {
  const content = Buffer.concat(body);
  return Buffer.concat([u32(8 + content.length), Buffer.from(type, 'latin1'), content]);
};
const fullBox = (type: string, version: number, flags: number, ...body: Buffer[]) => box(type, Buffer.from([version, flags >> 16, (flags >> 8) & 255, flags & 255]), ...body);

interface Box {
  type: string;
  start: number;
  end: number;
  body: number;
}

function children(buf: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  for (let at = from; at + 8 <= to; ) {
    const size = buf.readUInt32BE(at);
    out.push({ type: buf.toString('latin1', at + 4, at + 8), start: at, end: at + size, body: at + 8 });
    at += size;
  }
  return out;
}
const find = (list: Box[], type: string) => {
  const b = list.find((x) => x.type === type);
  if (!b) throw new Error(`no ${type} box`);
  return b;
};

/** The primary item's coded data and its hvcC and ispe property boxes, from a file heif-enc wrote. */
export function primaryImage(file: Buffer): { data: Buffer; hvcC: Buffer; ispe: Buffer } {
  const meta = find(children(file, 0, file.length), 'meta');
  const inMeta = children(file, meta.body + 4, meta.end);
  const pitm = find(inMeta, 'pitm');
  const primary = file[pitm.body] === 0 ? file.readUInt16BE(pitm.body + 4) : file.readUInt32BE(pitm.body + 4);
  // iloc: version 0 or 1, offset/length/base-offset sizes in nibbles.
  const iloc = find(inMeta, 'iloc');
  const version = file[iloc.body]!;
  let at = iloc.body + 4;
  const offsetSize = file[at]! >> 4;
  const lengthSize = file[at]! & 15;
  const baseSize = file[at + 1]! >> 4;
  const indexSize = version >= 1 ? file[at + 1]! & 15 : 0;
  at += 2;
  const read = (n: number) => {
    const v = n === 0 ? 0 : n === 4 ? file.readUInt32BE(at) : n === 8 ? Number(file.readBigUInt64BE(at)) : file.readUInt16BE(at);
    at += n;
    return v;
  };
  const count = version < 2 ? read(2) : read(4);
  let data: Buffer | undefined;
  for (let i = 0; i < count; i++) {
    const id = version < 2 ? read(2) : read(4);
    if (version >= 1) read(2);
    read(2); // data reference index
    const base = read(baseSize);
    const extents = read(2);
    const parts: Buffer[] = [];
    for (let e = 0; e < extents; e++) {
      if (indexSize) read(indexSize);
      const offset = read(offsetSize);
      const length = read(lengthSize);
      parts.push(file.subarray(base + offset, base + offset + length));
    }
    if (id === primary) data = Buffer.concat(parts);
  }
  const iprp = children(file, find(inMeta, 'iprp').body, find(inMeta, 'iprp').end);
  const props = children(file, find(iprp, 'ipco').body, find(iprp, 'ipco').end);
  const prop = (type: string) => {
    const b = find(props, type);
    return Buffer.from(file.subarray(b.start, b.end));
  };
  if (!data) throw new Error('primary item has no data');
  return { data, hvcC: prop('hvcC'), ispe: prop('ispe') };
}

const ispe = (w: number, h: number) => fullBox('ispe', 0, 0, u32(w), u32(h));
const infe = (id: number, type: string) => fullBox('infe', 2, 0, u16(id), u16(0), Buffer.from(type, 'latin1'), Buffer.from([0]));

interface Item {
  id: number;
  type: string;
  data: Buffer;
  /** Property boxes, and whether each is essential (transforms and decoder configuration are). */
  props: { box: Buffer; essential: boolean }[];
}

/** A HEIF file from items: every item's data in mdat, located by a version-0 iloc with 4-byte offsets; `refs` in iref (dimg, thmb). */
function heifFile(items: Item[], primary: number, refs: { type: string; from: number; to: number[] }[] = []): Buffer {
  const allProps = items.flatMap((i) => i.props.map((p) => p.box));
  let next = 1;
  // Property indices in 7 bits, or 15 (flag 1) when there are more properties than that.
  const wide = allProps.length > 127;
  const index = (essential: boolean) => (wide ? u16((essential ? 0x8000 : 0) | next++) : Buffer.from([(essential ? 0x80 : 0) | next++]));
  const ipma = fullBox(
    'ipma', 0, wide ? 1 : 0, u32(items.length),
    ...items.map((i) => Buffer.concat([u16(i.id), Buffer.from([i.props.length]), ...i.props.map((p) => index(p.essential))])),
  );
  const iref = refs.length ? [fullBox('iref', 0, 0, ...refs.map((r) => box(r.type, u16(r.from), u16(r.to.length), ...r.to.map(u16))))] : [];
  const metaFor = (dataStart: number) => {
    let offset = dataStart;
    const entries = items.map((i) => {
      const entry = Buffer.concat([u16(i.id), u16(0), u16(1), u32(offset), u32(i.data.length)]);
      offset += i.data.length;
      return entry;
    });
    return fullBox(
      'meta', 0, 0,
      fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), Buffer.from([0])),
      fullBox('pitm', 0, 0, u16(primary)),
      fullBox('iloc', 0, 0, Buffer.from([0x44, 0x00]), u16(items.length), ...entries),
      fullBox('iinf', 0, 0, u16(items.length), ...items.map((i) => infe(i.id, i.type))),
      ...iref,
      box('iprp', box('ipco', ...allProps), ipma),
    );
  };
  const ftyp = box('ftyp', Buffer.from('heic', 'latin1'), u32(0), Buffer.from('mif1heic', 'latin1'));
  // The meta box's size does not depend on the offsets it holds: measure it once, then write it for real.
  const metaSize = metaFor(0).length;
  const meta = metaFor(ftyp.length + metaSize + 8);
  return Buffer.concat([ftyp, meta, box('mdat', ...items.map((i) => i.data))]);
}

/** One image whose stored pixels are turned by `irot` (anticlockwise, in quarter turns) for display. */
export function rotatedHeif(stored: Buffer, quarterTurns: number): Buffer {
  const img = primaryImage(stored);
  const irot = box('irot', Buffer.from([quarterTurns & 3]));
  return heifFile([{ id: 1, type: 'hvc1', data: img.data, props: [{ box: img.hvcC, essential: true }, { box: img.ispe, essential: false }, { box: irot, essential: true }] }], 1);
}

/** A 2x1 grid of two tiles, each a single-image HEIF of tileWidth x height: width 2 x tileWidth. */
export function gridHeif(left: Buffer, right: Buffer, tileWidth: number, height: number): Buffer {
  return tiledHeif([[left, right]], { width: 2 * tileWidth, height });
}

/**
 * A grid of rows x columns tiles (each a single-image HEIF, row by row), as iPhones store photos.
 * `canvas` is the size the grid's own data gives (what libheif allocates and pastes the tiles into);
 * `ispe`, the size the file declares for it: the same unless a test makes them differ.
 */
export function tiledHeif(rows: Buffer[][], canvas: { width: number; height: number }, ispeSize = canvas): Buffer {
  const tiles = rows.flat().map(primaryImage);
  const wide = canvas.width > 65535 || canvas.height > 65535;
  const size = wide ? Buffer.concat([u32(canvas.width), u32(canvas.height)]) : Buffer.concat([u16(canvas.width), u16(canvas.height)]);
  const grid = Buffer.concat([Buffer.from([0, wide ? 1 : 0, rows.length - 1, rows[0]!.length - 1]), size]);
  const gridId = tiles.length + 1;
  return heifFile(
    [
      ...tiles.map((t, i) => ({ id: i + 1, type: 'hvc1', data: t.data, props: [{ box: t.hvcC, essential: true }, { box: t.ispe, essential: false }] })),
      { id: gridId, type: 'grid', data: grid, props: [{ box: ispe(ispeSize.width, ispeSize.height), essential: false }] },
    ],
    gridId,
    [{ type: 'dimg', from: gridId, to: tiles.map((_, i) => i + 1) }],
  );
}

/** A photo with a thumbnail item (each a single-image HEIF heif-enc wrote), the thumbnail declaring `thumbSize` in its ispe. */
export function withThumbnail(photo: Buffer, thumb: Buffer, thumbSize: { width: number; height: number }): Buffer {
  const [p, t] = [primaryImage(photo), primaryImage(thumb)];
  return heifFile(
    [
      { id: 1, type: 'hvc1', data: p.data, props: [{ box: p.hvcC, essential: true }, { box: p.ispe, essential: false }] },
      { id: 2, type: 'hvc1', data: t.data, props: [{ box: t.hvcC, essential: true }, { box: ispe(thumbSize.width, thumbSize.height), essential: false }] },
    ],
    1,
    [{ type: 'thmb', from: 2, to: [1] }],
  );
}

/** One image as heif-enc wrote it, with its hvcC and ispe replaced (the coded data as it was). */
function reboxed(file: Buffer, change: (img: { hvcC: Buffer; ispe: Buffer }) => { hvcC: Buffer; ispe: Buffer }): Buffer {
  const img = primaryImage(file);
  const { hvcC, ispe: size } = change(img);
  return heifFile([{ id: 1, type: 'hvc1', data: img.data, props: [{ box: hvcC, essential: true }, { box: size, essential: false }] }], 1);
}

/** The image with its hvcC's NAL arrays of these types left out (33: the SPS). */
function hvcCWithout(hvcC: Buffer, nalTypes: number[]): Buffer {
  // Box header (8) and the 22 bytes of configuration, then numOfArrays and each array:
  // [completeness | type] (1), numNalus (2), then each NAL as length (2) and bytes.
  const out: Buffer[] = [hvcC.subarray(8, 30)];
  const arrays: Buffer[] = [];
  let at = 31;
  for (let a = 0; a < hvcC[30]!; a++) {
    const start = at;
    const type = hvcC[at]! & 0x3f;
    const count = hvcC.readUInt16BE(at + 1);
    at += 3;
    for (let n = 0; n < count; n++) at += 2 + hvcC.readUInt16BE(at);
    if (!nalTypes.includes(type)) arrays.push(hvcC.subarray(start, at));
  }
  out.push(Buffer.from([arrays.length]), ...arrays);
  return box('hvcC', ...out);
}

/** A sample without its SPS (sequence parameter set): undecodable, whichever image a decoder saw before. */
export const withoutSps = (file: Buffer) => reboxed(file, (img) => ({ hvcC: hvcCWithout(img.hvcC, [33]), ispe: img.ispe }));

/** An image whose ispe declares another size than its coded data has (a pixel bomb when smaller). */
export const declaredAs = (file: Buffer, width: number, height: number) => reboxed(file, (img) => ({ hvcC: img.hvcC, ispe: ispe(width, height) }));
