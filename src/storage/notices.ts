import type { Logger } from '@smithy/types';

/**
 * What a person should hear once, from code with no progress log of its own (a lease taken over
 * from a skewed clock, the AWS SDK's warnings, which it would print with console.warn as plain text
 * inside a fleet's JSON log): each distinct message said once, wherever this process's notices go.
 * The CLI points them at its progress log, a worker at its parent.
 */
type Sink = (message: string) => void;

let sink: Sink = (message) => process.stderr.write(`imgtag: ${message}\n`);
const said = new Set<string>();

export function sendNoticesTo(next: Sink): void {
  sink = next;
}

export function notice(message: string): void {
  if (said.has(message)) return;
  said.add(message);
  sink(message);
}

const say = (args: unknown[]) => notice(`the AWS SDK warns: ${args.map(String).join(' ')}`);

/**
 * The S3 client's logger: warnings said, debug (the credential providers' chatter, called
 * unconditionally) dropped. info and error are absent, not no-ops: the SDK calls them as
 * `logger.info?.(...)`, so absent it builds no copy of each request's input and output, and a
 * request's error is imgtag's to say (a 404 is often an answer), not the logger's.
 */
export const sdkLogger = { debug: () => undefined, warn: (...args: unknown[]) => say(args) } as unknown as Logger;
