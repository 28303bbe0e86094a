import { UserError } from '../errors.js';

/**
 * The nightly found the previous one still going (its fleet job unfinished, or another nightly
 * holding the lock): a normal overlap, not a failure. The CLI exits 0 with a JSON event saying so,
 * so a scheduled job succeeds and pages no one; the next night picks up where this one left off.
 */
export class PreviousRunBusy extends UserError {
  override name = 'PreviousRunBusy';
}

/**
 * The nightly could not finish the previous run now, but running it again later will: a signal
 * stopped it, or another worker's lease holds a shard. Exit 3.
 */
export class NightlyRetryLater extends UserError {
  override name = 'NightlyRetryLater';
}
