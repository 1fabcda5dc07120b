import { describe, expect, it } from 'vitest';
import { PROFILE_ASSUMPTIONS, PROFILE_PRICES, regulatedMonthly } from '../../bench/regulated-cost';

const input = {
  checksPerMonth: 730_000,
  apiRequestsPerCheck: 4,
  uploadBytes: 1_000_000,
  checkRetentionDays: 30,
  backupRetentionDays: 35,
};
const monthly = (rows: { part: string; what: string; monthly: number }[], part: string, what: RegExp) =>
  rows.find((row) => row.part === part && what.test(row.what))?.monthly;

describe('what the regulated profile costs per month', () => {
  const { always, vpc } = regulatedMonthly(input);

  it('charges one key, and a web ACL with its four rules, whatever the traffic', () => {
    expect(monthly(always, 'KMS', /key/)).toBe(PROFILE_PRICES.kms.perKeyMonth);
    expect(monthly(always, 'WAF', /web ACL/)).toBe(5 + 4 * 1);
    expect(regulatedMonthly({ ...input, checksPerMonth: 0 }).always.every((row) => row.monthly >= 0)).toBe(true);
  });

  it('scales WAF requests with API calls, and backups with the table size times the recovery points kept', () => {
    expect(monthly(always, 'WAF', /requests inspected/)).toBeCloseTo(730_000 * 4 * 0.6e-6, 6);
    const tableGb = (730_000 / 30) * 30 * (PROFILE_ASSUMPTIONS.checkItemBytes / 1e9);
    expect(monthly(always, 'AWS Backup', /daily backups/)).toBeCloseTo(tableGb * 35 * 0.1, 6);
    expect(monthly(regulatedMonthly({ ...input, backupRetentionDays: 7 }).always, 'AWS Backup', /daily/)).toBeCloseTo(
      tableGb * 7 * 0.1,
      6,
    );
  });

  it('prices NAT gateways per hour and per AZ, apart from the profile itself', () => {
    expect(monthly(vpc, 'VPC', /NAT gateways/)).toBeCloseTo(2 * 0.045 * 730, 6);
    expect(always.some((row) => row.part.startsWith('VPC'))).toBe(false);
  });
});
