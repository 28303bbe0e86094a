import { UserError } from '../errors.js';

/**
 * The nightly found nothing it should start tonight, for a reason that is normal: the previous one
 * still going (its fleet job unfinished, or another nightly holding the lock). The CLI exits 0 with
 * a JSON event and a line saying so, so a scheduled job succeeds and pages no one; the next night
 * picks up where this one left off.
 */
export class PreviousRunBusy extends UserError {
  override name = 'PreviousRunBusy';
  /** The JSON event the CLI logs, and the line a person reads before the reason. */
  readonly event: string = 'nightly-busy';
  readonly headline: string = 'nothing started tonight, the previous nightly is still going';
}

/**
 * The previous nightly's fleet job ended with shards unfinished (a child failed for good, which
 * paged when it happened): tonight resubmitted them instead of planning anew.
 */
export class PreviousRunResubmitted extends PreviousRunBusy {
  override name = 'PreviousRunResubmitted';
  override readonly event = 'nightly-resubmitted';
  override readonly headline = 'nothing new planned tonight, the previous nightly run is being finished on the fleet';
}

/** No Inventory report exists yet (S3 delivers the first within 48 hours of the configuration). */
export class WaitingForInventory extends PreviousRunBusy {
  override name = 'WaitingForInventory';
  override readonly event = 'nightly-waiting';
  override readonly headline = 'nothing to tag yet, waiting for the first Inventory report';
}

/**
 * The nightly could not finish the previous run now, but running it again later will: a signal
 * stopped it, or another worker's lease holds a shard. Exit 3.
 */
export class NightlyRetryLater extends UserError {
  override name = 'NightlyRetryLater';
}
