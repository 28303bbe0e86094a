import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, from dist/scripts/. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Benchmarks run on the shared models and images beside the checkout unless told otherwise. */
process.env.IMGTAG_MODEL_DIR ??= path.resolve(ROOT, '../shared/models');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
