import type { Logger } from '@smithy/types';

/**
 * The AWS SDK's own warnings, which it would print with console.warn (plain text inside a fleet's
 * JSON log, through the progress bar): each distinct one said once, in imgtag's words, wherever
 * this process's notices go. The CLI points them at its progress log, a worker at its parent.
 */
type Sink = (message: string) => void;

let sink: Sink = (message) => process.stderr.write(`imgtag: ${message}\n`);
const said = new Set<string>();

export function sendSdkNoticesTo(next: Sink): void {
  sink = next;
}

function say(args: unknown[]): void {
  const message = `the AWS SDK warns: ${args.map(String).join(' ')}`;
  if (said.has(message)) return;
  said.add(message);
  sink(message);
}

/**
 * The S3 client's logger: warnings said, debug (the credential providers' chatter, called
 * unconditionally) dropped. info and error are absent, not no-ops: the SDK calls them as
 * `logger.info?.(...)`, so absent it builds no copy of each request's input and output, and a
 * request's error is imgtag's to say (a 404 is often an answer), not the logger's.
 */
export const sdkLogger = { debug: () => undefined, warn: (...args: unknown[]) => say(args) } as unknown as Logger;
