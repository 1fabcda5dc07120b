import { isVisibleTo, type Owner } from '../core/caller';
import type { CheckRecord, Tombstone } from '../core/check';
import { isTombstone } from '../core/check';
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

  /**
   * The check, if it exists and `owner` may see it; undefined otherwise (unknown id, another owner's check, or a check
   * erased by DELETE: a tombstone is no check).
   */
  async find(id: string, owner: Owner): Promise<CheckRecord | undefined> {
    const found = await this.findStored(id, owner);
    return found && !isTombstone(found) ? found : undefined;
  }

  /**
   * What is stored for this id that `owner` may see: a check or, once erased, its tombstone (which keeps the owner, so
   * the same rule applies). DELETE reads through here: a second DELETE finds the tombstone, another owner nothing.
   */
  async findStored(id: string, owner: Owner): Promise<CheckRecord | Tombstone | undefined> {
    const record = await this.ports.store.get(id);
    if (!record || !isVisibleTo(record, owner)) return undefined;
    return isTombstone(record) ? (record as unknown as Tombstone) : record;
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
