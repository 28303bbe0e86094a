#!/usr/bin/env node
import { main } from './main.js';

// The AWS SDK warns on Node 20 that its releases after January 2027 will need Node 22. imgtag's
// lockfile pins the SDK, so the warning concerns an upgrade, not this run; on a fleet it would
// repeat in every worker's log. Set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.exitCode = await main(process.argv);
