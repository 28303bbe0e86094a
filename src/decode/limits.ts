import { DEFAULTS } from '../defaults.js';

export const DEFAULT_MAX_PIXELS = DEFAULTS.maxPixels;
export const DEFAULT_MAX_BYTES = DEFAULTS.maxBytes;
