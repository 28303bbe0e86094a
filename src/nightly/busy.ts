import { UserError } from '../errors.js';

/**
 * The nightly found the previous one still going (its fleet job unfinished, or another nightly
 * holding the lock): a normal overlap, not a failure. The CLI exits 0 with a JSON event saying so,
 * so a scheduled job succeeds and pages no one; the next night picks up where this one left off.
 */
export class PreviousRunBusy extends UserError {
  override name = 'PreviousRunBusy';
}

/** A signal stopped the nightly while it finished the previous run: exit 3, run it again. */
export class NightlyInterrupted extends UserError {
  override name = 'NightlyInterrupted';
}
