import { isVisibleTo, type Owner } from '../core/caller';
import type { CheckRecord } from '../core/check';
import { encodeCursor, type ListRequest, ownerVendorKey } from '../core/list-request';
import type { CheckListerPort, CheckStorePort } from '../core/ports';

export interface FinderPorts {
  readonly store: Pick<CheckStorePort, 'get'>;
  /** Needed by `list` only. */
  readonly lister?: CheckListerPort;
}

/** One page of the caller's checks and the opaque cursor of the next page (null on the last page). */
export interface FoundPage {
  readonly records: readonly CheckRecord[];
  readonly nextCursor: string | null;
}

/**
 * Loads checks for a caller. Every route that reads or changes one check by id loads it through {@link find}, so the
 * owner rule (core/caller.ts `isVisibleTo`) is applied in one place: a check of another owner is indistinguishable
 * from a check that does not exist (the API answers 404 to both, never 403, so ids do not leak).
 */
export class CheckFinder {
  constructor(private readonly ports: FinderPorts) {}

  /** The check, if it exists and `owner` may see it; undefined otherwise (unknown id or another owner's check). */
  async find(id: string, owner: Owner): Promise<CheckRecord | undefined> {
    const record = await this.ports.store.get(id);
    return record && isVisibleTo(record, owner) ? record : undefined;
  }

  /** The caller's own checks for one vendor_data, newest first. */
  async list(owner: Owner, request: ListRequest): Promise<FoundPage> {
    if (!this.ports.lister) throw new Error('CheckFinder.list needs a lister port');
    const page = await this.ports.lister.listByOwnerVendor(
      ownerVendorKey(owner, request.vendorData),
      request.limit,
      request.after,
    );
    // The index key is a hash of (owner, vendor_data): the filter cannot drop anything; it keeps the rule in one place.
    const records = page.records.filter(
      (record) => isVisibleTo(record, owner) && record.vendor_data === request.vendorData,
    );
    return { records, nextCursor: page.next ? encodeCursor(page.next) : null };
  }
}
