import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';

/**
 * Amazon SQS on loopback, over the AWS JSON 1.0 protocol the SDK speaks (x-amz-target
 * AmazonSQS.<Action>): standard queues with visibility timeouts, receive counts, long polling,
 * DeleteMessage(Batch), ChangeMessageVisibility(Batch), GetQueueAttributes, and a redrive policy
 * that moves a message to its dead-letter queue once it has been received maxReceiveCount times,
 * as SQS does (at the next receive after the last one).
 */
export interface SqsMessage {
  id: string;
  body: string;
  attributes: Record<string, { DataType: string; StringValue?: string }>;
  receiveCount: number;
  receipt?: string;
  visibleAt: number;
  sentAt: number;
}

export interface SqsQueue {
  name: string;
  url: string;
  messages: SqsMessage[];
  deleted: number;
  visibilityTimeoutS: number;
  redrive?: { dlq: SqsQueue; maxReceiveCount: number };
}

export interface SqsServer {
  endpoint: string;
  createQueue(name: string, opts?: { visibilityTimeoutS?: number; redrive?: { dlq: SqsQueue; maxReceiveCount: number } }): SqsQueue;
  /** Put a message as S3 (or EventBridge) would. */
  send(queue: SqsQueue, body: string): void;
  close(): Promise<void>;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

class SqsError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
  }
}

export async function startSqsServer(): Promise<SqsServer> {
  const queues = new Map<string, SqsQueue>();
  let endpoint = '';
  const waiting = new Set<() => void>();
  const wake = () => waiting.forEach((w) => w());

  const queueOf = (input: Record<string, unknown>) => {
    const q = queues.get(String(input.QueueUrl));
    if (!q) throw new SqsError('AWS.SimpleQueueService.NonExistentQueue', `The specified queue does not exist: ${String(input.QueueUrl)}`);
    return q;
  };
  const put = (q: SqsQueue, body: string, attributes: SqsMessage['attributes'] = {}) => {
    const m: SqsMessage = { id: randomUUID(), body, attributes, receiveCount: 0, visibleAt: 0, sentAt: Date.now() };
    q.messages.push(m);
    wake();
    return m;
  };
  const byReceipt = (q: SqsQueue, receipt: unknown) => {
    const m = q.messages.find((x) => x.receipt === receipt);
    if (!m) throw new SqsError('ReceiptHandleIsInvalid', `The receipt handle "${String(receipt)}" is not valid (deleted, or received again since)`);
    return m;
  };

  /** Messages visible now, up to `max`; those past their maxReceiveCount go to the dead-letter queue instead. */
  const take = (q: SqsQueue, max: number, visibilityS: number): SqsMessage[] => {
    const now = Date.now();
    const out: SqsMessage[] = [];
    for (const m of [...q.messages]) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      if (q.redrive && m.receiveCount >= q.redrive.maxReceiveCount) {
        q.messages.splice(q.messages.indexOf(m), 1);
        put(q.redrive.dlq, m.body, m.attributes).receiveCount = 0;
        continue;
      }
      m.receiveCount++;
      m.receipt = randomUUID();
      m.visibleAt = now + visibilityS * 1000;
      out.push(m);
    }
    return out;
  };

  const actions: Record<string, (input: Record<string, unknown>) => unknown> = {
    GetQueueUrl: (input) => ({ QueueUrl: [...queues.values()].find((q) => q.name === input.QueueName)?.url ?? (() => { throw new SqsError('AWS.SimpleQueueService.NonExistentQueue', `no queue ${String(input.QueueName)}`); })() }),
    SendMessage: (input) => {
      const m = put(queueOf(input), String(input.MessageBody), (input.MessageAttributes as SqsMessage['attributes']) ?? {});
      return { MessageId: m.id, MD5OfMessageBody: md5(m.body) };
    },
    ReceiveMessage: async (input) => {
      const q = queueOf(input);
      const max = Math.min(10, Number(input.MaxNumberOfMessages ?? 1));
      const visibility = Number(input.VisibilityTimeout ?? q.visibilityTimeoutS);
      const deadline = Date.now() + 1000 * Number(input.WaitTimeSeconds ?? 0);
      let got = take(q, max, visibility);
      // Long polling: wait for a message (or one turning visible again) until the wait ends.
      while (got.length === 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const done = () => {
            waiting.delete(done);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(done, Math.min(100, deadline - Date.now()));
          waiting.add(done);
        });
        got = take(q, max, visibility);
      }
      return {
        Messages: got.map((m) => ({
          MessageId: m.id,
          ReceiptHandle: m.receipt,
          Body: m.body,
          MD5OfBody: md5(m.body),
          Attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentAt) },
          ...(Object.keys(m.attributes).length ? { MessageAttributes: m.attributes } : {}),
        })),
      };
    },
    DeleteMessage: (input) => {
      const q = queueOf(input);
      q.messages.splice(q.messages.indexOf(byReceipt(q, input.ReceiptHandle)), 1);
      q.deleted++;
      return {};
    },
    DeleteMessageBatch: (input) => {
      const q = queueOf(input);
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; Code: string; SenderFault: boolean; Message: string }[] = [];
      for (const e of input.Entries as { Id: string; ReceiptHandle: string }[]) {
        try {
          q.messages.splice(q.messages.indexOf(byReceipt(q, e.ReceiptHandle)), 1);
          q.deleted++;
          Successful.push({ Id: e.Id });
        } catch (err) {
          Failed.push({ Id: e.Id, Code: 'ReceiptHandleIsInvalid', SenderFault: true, Message: (err as Error).message });
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibility: (input) => {
      byReceipt(queueOf(input), input.ReceiptHandle).visibleAt = Date.now() + 1000 * Number(input.VisibilityTimeout);
      wake();
      return {};
    },
    ChangeMessageVisibilityBatch: (input) => {
      const q = queueOf(input);
      for (const e of input.Entries as { ReceiptHandle: string; VisibilityTimeout: number }[]) byReceipt(q, e.ReceiptHandle).visibleAt = Date.now() + 1000 * e.VisibilityTimeout;
      wake();
      return { Successful: (input.Entries as { Id: string }[]).map((e) => ({ Id: e.Id })), Failed: [] };
    },
    GetQueueAttributes: (input) => {
      const q = queueOf(input);
      const now = Date.now();
      const oldest = Math.min(...q.messages.map((m) => m.sentAt), now);
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(q.messages.filter((m) => m.visibleAt <= now).length),
          ApproximateNumberOfMessagesNotVisible: String(q.messages.filter((m) => m.visibleAt > now).length),
          ApproximateAgeOfOldestMessage: String(Math.floor((now - oldest) / 1000)),
          VisibilityTimeout: String(q.visibilityTimeoutS),
          ...(q.redrive ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:us-east-1:123456789012:${q.redrive.dlq.name}`, maxReceiveCount: q.redrive.maxReceiveCount }) } : {}),
        },
      };
    },
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      const action = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
      const answer = (status: number, out: unknown) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(out));
      try {
        const fn = actions[action];
        if (!fn) throw new SqsError('AWS.SimpleQueueService.UnsupportedOperation', `not here: ${action}`);
        answer(200, await fn(JSON.parse(body || '{}') as Record<string, unknown>));
      } catch (e) {
        const err = e instanceof SqsError ? e : new SqsError('InternalError', String(e));
        answer(400, { __type: err.type, message: err.message });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    endpoint,
    createQueue(name, opts = {}) {
      const q: SqsQueue = { name, url: `${endpoint}/123456789012/${name}`, messages: [], deleted: 0, visibilityTimeoutS: opts.visibilityTimeoutS ?? 30, ...(opts.redrive ? { redrive: opts.redrive } : {}) };
      queues.set(q.url, q);
      return q;
    },
    send: (q, body) => void put(q, body),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
