import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CheckStore } from '../../lambdas/adapters/check-store';
import type { CheckRecord } from '../../lambdas/core/check';
import {
  CheckAlreadyExistsError,
  CheckChangedError,
  CheckNotFoundError,
  ClaimLostError,
} from '../../lambdas/core/lifecycle/conflicts';
import { applyChanges } from '../../lambdas/core/lifecycle/expressions';
import { emulatorClientConfig } from '../../local/aws-env';
import { provisionLocalResources } from '../../local/provision';
import { storedCheck, TRANSITION_CASES } from '../helpers/transition-cases';

// The store executes what core computes: every transition case of the table, run as DynamoDB conditional writes on
// moto, must leave exactly the record the pure evaluation predicts, or refuse with the row's named conflict.
let store: CheckStore;

beforeAll(async () => {
  const endpoint = inject('motoEndpoint');
  const resources = await provisionLocalResources(endpoint, {
    prefix: `store-${randomUUID().slice(0, 8)}`,
    diditApiKey: 'unused',
  });
  store = new CheckStore(
    new DynamoDBClient({ ...emulatorClientConfig(endpoint), maxAttempts: 1 }),
    resources.tableName,
  );
});

describe('DynamoDB executes each transition as the table says', () => {
  for (const c of TRANSITION_CASES) {
    it(c.name, async () => {
      const id = randomUUID();
      const stored = c.stored(id);
      if (stored) await store.create(stored);
      const s = c.step(stored);
      if (c.accepted) {
        expect(await store.execute(id, s)).toEqual(applyChanges(stored as CheckRecord, s.changes));
        expect(await store.get(id)).toEqual(applyChanges(stored as CheckRecord, s.changes));
      } else {
        const refused = await store.execute(id, s).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(
          stored === undefined ? CheckNotFoundError : s.refusal === 'claim' ? ClaimLostError : CheckChangedError,
        );
        expect((refused as ClaimLostError).current).toEqual(stored);
        expect(await store.get(id)).toEqual(stored);
        expect(await store.attempt(id, s)).toEqual({ applied: false, current: stored });
      }
    });
  }

  it('a second check with a taken id is refused as CheckAlreadyExistsError and the first is kept', async () => {
    const id = randomUUID();
    const first = storedCheck(id, 'AWAITING_UPLOAD');
    await store.create(first);
    await expect(store.create({ ...first, vendor_data: 'second' })).rejects.toBeInstanceOf(CheckAlreadyExistsError);
    expect(await store.get(id)).toEqual(first);
  });
});
