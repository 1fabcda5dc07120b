import type { CheckRecord, DeliveryAttempt } from '../core/check';
import { isTombstone } from '../core/check';
import { CheckChangedError } from '../core/lifecycle/conflicts';
import { step } from '../core/lifecycle/transitions';
import type { CheckStorePort } from '../core/ports';

/** Reads before giving up when other attempts keep being recorded between our read and our write (never seen). */
const MAX_READS = 5;

/**
 * Records one webhook delivery attempt on the check, keeping `deliveries` within DELIVERIES_CAP (the transition drops
 * and counts the oldest). At the cap the write is conditional on the list as read; when another attempt was recorded
 * meanwhile, read again and recompute. A check deleted meanwhile keeps nothing: false.
 */
export async function recordDeliveryAttempt(
  store: CheckStorePort,
  id: string,
  seen: CheckRecord,
  attempt: DeliveryAttempt,
): Promise<boolean> {
  let current: CheckRecord | undefined = seen;
  for (let read = 1; current && !isTombstone(current); read++) {
    try {
      await store.execute(id, step('recordDelivery', { attempt, seen: current }));
      return true;
    } catch (error) {
      if (!(error instanceof CheckChangedError) || read >= MAX_READS) throw error;
      current = await store.get(id);
    }
  }
  return false;
}
