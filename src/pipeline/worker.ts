import { errorMessage, UserError } from '../errors.js';
import { createTagger, type Tagger } from './tagger.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

/** Entry point of a forked worker process: init, then one shard per request, until told to exit. */
const reply = (msg: WorkerReply) => process.send!(msg);
let tagger: Tagger | undefined;

// The run that forked this worker is gone (killed, crashed): stop at once. Its uncommitted shard is
// redone by the next run; a worker tagging on for nobody would only hold its lease.
process.on('disconnect', () => process.exit(0));

process.on('message', async (msg: WorkerRequest) => {
  if (msg.type === 'init') {
    try {
      tagger = await createTagger(msg.init);
      reply({ type: 'ready' });
    } catch (e) {
      reply({ type: 'failed', message: errorMessage(e) });
    }
  } else if (msg.type === 'shard') {
    try {
      const shard = msg.shard;
      reply({ type: 'done', shard, outcome: await tagger!.tag(shard, () => reply({ type: 'computed', shard })) });
    } catch (e) {
      reply({ type: 'failed', shard: msg.shard, message: errorMessage(e), fatal: e instanceof UserError });
    }
  } else {
    await tagger?.close();
    // Every result is sent: go now (by the disconnect handler above), rather than when the last
    // abandoned request (a hedged read's loser, still stalled at the server) lets go of its socket.
    process.disconnect();
  }
});
