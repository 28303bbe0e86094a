import { Option, type Command } from 'commander';
import { DEFAULTS, DEVICES, type Device } from '../../src/defaults.js';
import { joinUri } from '../../src/storage/uri.js';
import type { Act, Cli } from '../common/context.js';
import { table } from '../common/format.js';
import { int, positiveNumber } from '../common/options.js';

type ListenFlags = {
  root: string;
  dataset?: string;
  queueUrl: string;
  deadLetterQueueUrl?: string;
  model: string[];
  device: Device;
  threads?: number;
  batchSize: number;
  batchSeconds: number;
  visibilityTimeout: number;
  sessionMinutes: number;
  untilEmpty?: boolean;
};

/** imgtag listen: new uploads tagged within seconds, from the bucket's S3 event notifications on an SQS queue. */
export function listenCommand(program: Command, cli: Cli, act: Act): void {
  program
    .command('listen')
    .description("tag new uploads as they come: S3 event notifications (S3's JSON, or EventBridge's) from an SQS queue, tagged in micro-batches and staged under <root>/stream/; the nightly folds them into the current table and tags nothing twice")
    .requiredOption('--root <dir>', "the nightly's --root: the stream stages under <root>/stream/")
    .option('--dataset <dir>', "the nightly's --dataset (default <root>/tags): where the stream's rows go once the nightly compacts them")
    .requiredOption('--queue-url <url>', 'the SQS queue the bucket notifies (terraform output stream_queue_url)')
    .option('--dead-letter-queue-url <url>', 'where a message that is no S3 event goes, with its reason (terraform output stream_dead_letter_queue_url); without it, SQS redrives it after maxReceiveCount')
    .addOption(new Option('--model <path|name>', 'model (repeat for several), as for run').argParser((v: string, prev: string[] = []) => [...prev, v]).default([]))
    .addOption(new Option('--device <device>', 'onnxruntime execution provider').choices(DEVICES).default(DEFAULTS.device))
    .option('--threads <n>', 'decode and inference threads (default: the cores)', int(1))
    .option('--batch-size <n>', 'tag a micro-batch once it holds this many objects...', int(1), 64)
    .option('--batch-seconds <s>', '...or once its first message has waited this long', positiveNumber, 5)
    .option('--visibility-timeout <s>', 'messages in hand stay hidden this long, renewed while their batch is tagged', int(2), 120)
    .option('--session-minutes <m>', 'close the stream session and open a new one after this long (the nightly folds closed sessions)', positiveNumber, 60)
    .option('--until-empty', 'stop once the queue is empty (a backfill, a test) instead of listening until SIGTERM')
    .action(
      act(async (o: ListenFlags) => {
        const { listen } = await import('../../src/listen/listener.js');
        const { availableParallelism } = await import('node:os');
        // SIGTERM/SIGINT: stop receiving; a batch being tagged finishes; what is in hand goes back to the queue.
        const stop = new AbortController();
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort(sig));
        const res = await listen(
          {
            root: o.root,
            dataset: o.dataset ?? joinUri(o.root, 'tags'),
            queueUrl: o.queueUrl,
            deadLetterQueueUrl: o.deadLetterQueueUrl,
            models: o.model,
            device: o.device,
            threads: o.threads ?? availableParallelism(),
            batchSize: o.batchSize,
            batchSeconds: o.batchSeconds,
            visibilitySeconds: o.visibilityTimeout,
            sessionMinutes: o.sessionMinutes,
            untilEmpty: o.untilEmpty,
            s3: cli.s3(),
            signal: stop.signal,
          },
          cli.log,
        );
        console.log(table([['batches', res.batches], ['images tagged', res.images]]));
        // Exit 0 only when every upload received has its row; else 3 and what is left, in one line.
        const undone = [
          ...(res.givenBack > 0 ? [`${res.givenBack} message${res.givenBack === 1 ? '' : 's'} in hand given back to the queue (the next listener tags them)`] : []),
          ...(res.deadLettered > 0 ? [`${res.deadLettered} message${res.deadLettered === 1 ? '' : 's'} of failing batches in the dead-letter queue, with the reason`] : []),
        ];
        if (undone.length === 0) return 0;
        console.error(`imgtag: stopped with uploads not tagged: ${undone.join('; ')}: exit 3`);
        return 3;
      }),
    );
}
