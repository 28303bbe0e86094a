/** Extensions of the formats the decoder reads; SVG is left out on purpose (it can reference other files). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic'] as const;

const extensions = new Set<string>(IMAGE_EXTENSIONS);

export function isImageUri(uri: string): boolean {
  const name = uri.slice(uri.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 && extensions.has(name.slice(dot + 1).toLowerCase());
}
