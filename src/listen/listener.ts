import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { DEFAULTS, type Device } from '../defaults.js';
import { errorMessage } from '../errors.js';
import { modelsOrDefault } from '../defaults.js';
import { createTagger, type Tagger } from '../pipeline/tagger.js';
import { isImageUri } from '../plan/filter.js';
import { settings } from '../settings.js';
import { awsClientConfig, type S3Options } from '../storage/s3-config.js';
import { BadMessage, latestPerObject, parseNotification, type ObjectEvent } from './events.js';
import { openSession, type StreamSession } from './session.js';

export interface ListenOptions {
  /** The nightly root the stream stages under (`<root>/stream/`). */
  root: string;
  dataset: string;
  queueUrl: string;
  /** Where a message that is no S3 event goes, with its reason (else SQS's redrive takes it after maxReceiveCount). */
  deadLetterQueueUrl?: string;
  models?: string[];
  device: Device;
  threads: number;
  /** A micro-batch is tagged once it holds this many new objects... */
  batchSize: number;
  /** ...or once its first message has waited this long, whichever comes first. */
  batchSeconds: number;
  /** Messages in hand are hidden this long, and kept hidden while their batch is tagged. */
  visibilitySeconds: number;
  /** A session is closed and a new one opened after this long, so the nightly can fold the closed ones. */
  sessionMinutes: number;
  /** Stop when the queue is empty (tests, backfills, benchmarks) instead of listening for ever. */
  untilEmpty?: boolean;
  s3: S3Options;
  /** Set (by a signal) to stop: no more receives, messages in hand given back at once. */
  signal: AbortSignal;
}

export type ListenEvent =
  | { event: 'listen-start'; session: string; queue: string }
  | { event: 'stream-batch'; session: string; shard?: number; images: number; removed: number; skipped: number; messages: number; seconds: number; oldestEventSeconds: number }
  | { event: 'batch-open'; messages: number }
  | { event: 'dead-letter'; messageId: string; reason: string }
  | { event: 'batch-failed'; messages: number; message: string }
  | { event: 'listen-stop'; reason: string; batches: number; images: number; givenBack: number; deadLettered: number }
  | { event: 'notice'; message: string };

interface InHand {
  message: Message;
  events: ObjectEvent[];
}

/** SQS's limit on messages per receive and per batch call. */
const SQS_BATCH = 10;
/** The longest long poll SQS allows. */
const LONG_POLL_S = 20;

/** The queue's maxReceiveCount (its redrive policy), so a batch that keeps failing dead-letters its messages with the reason. */
async function maxReceiveCount(sqs: SQSClient, queueUrl: string): Promise<number | undefined> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  const policy = out.Attributes?.RedrivePolicy;
  return policy ? Number((JSON.parse(policy) as { maxReceiveCount?: number | string }).maxReceiveCount) || undefined : undefined;
}

const chunks = <T>(xs: T[], n: number) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/**
 * imgtag listen: S3 event notifications from an SQS queue, tagged in micro-batches and staged as
 * a stream session under the nightly root. A batch's messages are deleted only once its rows are
 * committed (and its deletions recorded): a crash at any point leaves them to come back. SQS
 * delivers at least once, so an object may be tagged twice; the nightly's fold and the "now" view
 * keep one row per (key, ETag).
 */
export async function listen(opts: ListenOptions, log: (e: ListenEvent) => void): Promise<{ batches: number; images: number; givenBack: number; deadLettered: number }> {
  const sqs = new SQSClient(awsClientConfig());
  // (key, ETag)s this listener tagged, this session's and the one before: a redelivery comes within
  // minutes, and memory stays bounded by two sessions' uploads (~12 MB an hour at 1 M a day).
  let tagged = new Set<string>();
  let taggedBefore = new Set<string>();
  const seen = (id: string) => tagged.has(id) || taggedBefore.has(id);
  let session: StreamSession | undefined;
  let tagger: Tagger | undefined;
  let hand: InHand[] = [];
  let firstAt = 0;
  // givenBack: messages in hand returned to the queue by a stop; deadLettered: those a failing batch set aside.
  const totals = { batches: 0, images: 0, givenBack: 0, deadLettered: 0 };
  const inHand = () => hand.reduce((n, h) => n + h.events.length, 0);

  const open = async () => {
    session = await openSession(opts.root, opts.dataset, opts.queueUrl);
    tagger = await createTagger({
      run: session.run,
      runId: session.plan.id!,
      models: modelsOrDefault(opts.models),
      shard: { batchSize: Math.min(DEFAULTS.batchSize, opts.batchSize), concurrency: DEFAULTS.concurrency, maxPixels: DEFAULTS.maxPixels },
      threads: opts.threads,
      device: opts.device,
      s3: opts.s3,
      stopSeconds: DEFAULTS.stopSeconds,
      settings: settings(),
    });
    log({ event: 'listen-start', session: session.run, queue: opts.queueUrl });
  };
  const close = async () => {
    await tagger?.close();
    await session?.close();
    session = undefined;
    tagger = undefined;
  };

  /** A batch call per 10 messages; entries SQS refused are said (a message not deleted comes back, and is skipped as tagged). */
  const perTen = async (messages: Message[], what: string, call: (entries: { Id: string; ReceiptHandle: string }[]) => Promise<{ Failed?: { Id?: string; Message?: string }[] }>) => {
    for (const out of await Promise.all(chunks(messages, SQS_BATCH).map((c) => call(c.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })))))) {
      for (const f of out.Failed ?? []) log({ event: 'notice', message: `SQS did not ${what} a message: ${f.Message ?? 'no reason given'}` });
    }
  };
  const setVisibility = (messages: Message[], seconds: number) =>
    perTen(messages, 'change the visibility of', (entries) => sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: opts.queueUrl, Entries: entries.map((e) => ({ ...e, VisibilityTimeout: seconds })) })));
  const remove = (messages: Message[]) => perTen(messages, 'delete', (entries) => sqs.send(new DeleteMessageBatchCommand({ QueueUrl: opts.queueUrl, Entries: entries })));
  /** Keep messages hidden from the moment their batch is taken until they are deleted or given back. */
  const keepHidden = (messages: Message[]) => setInterval(() => void setVisibility(messages, opts.visibilitySeconds).catch(() => undefined), (opts.visibilitySeconds * 1000) / 3);

  /** A message that is not an S3 event: to the dead-letter queue with its reason, then off this queue. */
  const deadLetter = async (m: Message, reason: string) => {
    log({ event: 'dead-letter', messageId: m.MessageId ?? '?', reason });
    if (opts.deadLetterQueueUrl === undefined) return; // SQS's redrive moves it after maxReceiveCount.
    await sqs.send(new SendMessageCommand({ QueueUrl: opts.deadLetterQueueUrl, MessageBody: m.Body ?? '', MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 1000) } } }));
    await remove([m]);
  };

  /** Tag what the messages in hand created, record what they removed, then delete them. */
  /** The session was taken from this listener (it stalled past its lease): a new one is opened. */
  let lost = false;
  const holdSession = async () => {
    if (await session!.lease.stillHeld()) return;
    lost = true;
    throw new Error(`the stream session ${session!.run} is no longer this listener's (its lease expired): its batches go to a new session`);
  };

  /** Whether the last batch failed: --until-empty then looks once more, long enough for its messages to come back. */
  let failed = false;
  let lookAgain = false;
  const flush = async (batch: InHand[], hidden: NodeJS.Timeout) => {
    const started = performance.now();
    const events = latestPerObject(batch.flatMap((h) => h.events));
    const created = events.filter((e) => e.kind === 'created' && isImageUri(e.uri) && !seen(`${e.uri}\n${e.etag}`));
    // Marked now, so the batch filling meanwhile does not take them again; unmarked if this one fails.
    for (const e of created) tagged.add(`${e.uri}\n${e.etag}`);
    const removed = events.filter((e) => e.kind === 'removed');
    const messages = batch.map((h) => h.message);
    try {
      let shard: number | undefined;
      await holdSession();
      if (created.length > 0) {
        shard = await session!.stage(created.map((e) => ({ uri: e.uri, size: e.size, etag: e.etag, time: e.time })));
        const outcome = await tagger!.tag(shard);
        if (outcome.status === 'leased') throw new Error(`shard ${shard} of ${session!.run} is leased by another process`);
      }
      if (removed.length > 0) await session!.recordDeletions(removed);
      if (shard !== undefined) await session!.savePlan();
      // Deleted only while the session is still ours: had the nightly taken it (this listener stalled
      // past its lease), the batch may not be in what it compacted; the messages then come back.
      await holdSession();
      await remove(messages);
      const oldest = Math.min(...events.map((e) => Date.parse(e.time)).filter(Number.isFinite), Date.now());
      totals.batches += 1;
      totals.images += created.length;
      log({ event: 'stream-batch', session: session!.run, shard, images: created.length, removed: removed.length, skipped: events.length - created.length - removed.length, messages: messages.length, seconds: (performance.now() - started) / 1000, oldestEventSeconds: (Date.now() - oldest) / 1000 });
    } catch (e) {
      // Not deleted: the messages come back after their visibility timeout; on their last receive
      // they go to the dead-letter queue now, with the reason (SQS's redrive would move them bare).
      failed = true;
      const reason = errorMessage(e);
      for (const c of created) tagged.delete(`${c.uri}\n${c.etag}`);
      log({ event: 'batch-failed', messages: messages.length, message: reason });
      const last = messages.filter((m) => maxReceives !== undefined && Number(m.Attributes?.ApproximateReceiveCount) >= maxReceives);
      for (const m of last) await deadLetter(m, `tagging failed ${m.Attributes?.ApproximateReceiveCount} times, last: ${reason}`).then(() => (totals.deadLettered += 1), () => undefined);
    } finally {
      clearInterval(hidden);
    }
  };

  const maxReceives = await maxReceiveCount(sqs, opts.queueUrl);
  // One batch is tagged while the next fills: receiving and staging overlap the CPU's work.
  let tagging: Promise<void> | undefined;
  const settled = async () => {
    await tagging;
    tagging = undefined;
  };
  await open();
  try {
    while (!opts.signal.aborted) {
      if (session && (lost || Date.now() - session.openedAt > opts.sessionMinutes * 60_000) && hand.length === 0) {
        lost = false;
        await settled();
        taggedBefore = tagged;
        tagged = new Set();
        await close();
        await open();
      }
      // With nothing in hand, a long poll a signal may cut short (a message it was about to hand over
      // comes back after its visibility timeout); with a batch filling, short polls a signal waits for.
      // --until-empty waits no longer than a failed batch's messages take to come back.
      const idleS = opts.untilEmpty ? (lookAgain ? Math.min(LONG_POLL_S, opts.visibilitySeconds + 1) : 1) : LONG_POLL_S;
      lookAgain = false;
      const waitS = hand.length === 0 ? idleS : Math.min(1, Math.max(0, Math.ceil(opts.batchSeconds - (Date.now() - firstAt) / 1000)));
      let received: Message[] = [];
      try {
        const out = await sqs.send(
          // No more than the batch has room for (S3 sends one object per message).
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: Math.max(1, Math.min(SQS_BATCH, opts.batchSize - inHand())),
            WaitTimeSeconds: waitS,
            VisibilityTimeout: opts.visibilitySeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          hand.length === 0 ? { abortSignal: opts.signal } : {},
        );
        received = out.Messages ?? [];
      } catch (e) {
        if (opts.signal.aborted) break;
        throw e;
      }
      for (const m of received) {
        try {
          const events = parseNotification(m.Body ?? '');
          if (hand.length === 0) firstAt = Date.now();
          hand.push({ message: m, events });
          if (hand.length === 1) log({ event: 'batch-open', messages: received.length });
        } catch (e) {
          if (!(e instanceof BadMessage)) throw e;
          await deadLetter(m, e.message);
        }
      }
      const due = hand.length > 0 && (inHand() >= opts.batchSize || Date.now() - firstAt >= opts.batchSeconds * 1000 || (opts.untilEmpty && received.length === 0));
      if (due && !opts.signal.aborted) {
        const batch = hand;
        hand = [];
        // Hidden while it waits for the batch before it, and while it is tagged.
        const hidden = keepHidden(batch.map((h) => h.message));
        await settled();
        failed = false;
        tagging = flush(batch, hidden);
        continue;
      }
      if (opts.untilEmpty && received.length === 0 && hand.length === 0) {
        // A batch still being tagged may fail and give its messages back: look once more if it did.
        await settled();
        if (!failed) break;
        failed = false;
        lookAgain = true;
      }
    }
  } finally {
    await settled();
    // Stopped: what is in hand goes back to the queue now, not after its visibility timeout.
    totals.givenBack = hand.length;
    if (hand.length > 0) await setVisibility(hand.map((h) => h.message), 0).catch(() => undefined);
    log({ event: 'listen-stop', reason: opts.signal.aborted ? String(opts.signal.reason ?? 'signal') : 'queue empty', ...totals });
    await close();
  }
  return totals;
}
