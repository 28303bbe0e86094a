/** Extensions of the formats the decoder reads; SVG is left out on purpose (it can reference other files). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic'] as const;

const extensions = new Set<string>(IMAGE_EXTENSIONS);

/** Called for every manifest row: lower-cases only an extension that is not already lower case. */
export function isImageUri(uri: string): boolean {
  const dot = uri.lastIndexOf('.');
  if (dot <= uri.lastIndexOf('/') + 1 || uri.length - dot > 5) return false;
  const ext = uri.slice(dot + 1);
  return extensions.has(ext) || extensions.has(ext.toLowerCase());
}

/** An extension's bytes, lower-cased, as one number: the byte-level check allocates nothing. */
const extensionCode = (bytes: ArrayLike<number>, from: number, to: number) => {
  let code = 0;
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    code = code * 256 + (b >= 65 && b <= 90 ? b | 0x20 : b);
  }
  return code;
};
const extensionCodes = new Set(IMAGE_EXTENSIONS.map((e) => extensionCode(Buffer.from(e), 0, e.length)));

/** isImageUri over the bytes [from, to) of a key or URI. */
export function isImageKeyBytes(buf: Uint8Array, from: number, to: number): boolean {
  for (let dot = to - 1; dot >= from && dot >= to - 5; dot--) {
    const b = buf[dot];
    if (b === 47) return false;
    if (b === 46) return dot > from && buf[dot - 1] !== 47 && dot < to - 1 && extensionCodes.has(extensionCode(buf, dot + 1, to));
  }
  return false;
}
