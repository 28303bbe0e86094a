import { UserError } from '../errors.js';

/** Thrown when the previous nightly's fleet job has not finished: nothing new is planned until it has. */
export class PreviousRunBusy extends UserError {
  override name = 'PreviousRunBusy';
}
