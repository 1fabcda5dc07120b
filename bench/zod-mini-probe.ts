import * as z from 'zod/mini';

/**
 * Not run: bundled by cold-start.ts to measure what zod's tree-shakable `zod/mini` build costs for a schema shaped
 * like create-request.ts (numbers with bounds and defaults, booleans, bounded strings with a refinement, a record, a
 * strict object), against the ~440 KiB the classic `zod` import adds to create-check.
 */
export const probe = z.strictObject({
  face_liveness_score_decline_threshold: z._default(z.number().check(z.minimum(0), z.maximum(100)), 30),
  rotate_image: z._default(z.boolean(), false),
  save_api_request: z._default(z.boolean(), true),
  vendor_data: z.optional(
    z.string().check(
      z.minLength(1),
      z.maxLength(1024),
      z.refine((value) => !/[\uD800-\uDFFF]/.test(value)),
    ),
  ),
  metadata: z.optional(z.record(z.string(), z.unknown())),
  callback_url: z.optional(z.string().check(z.maxLength(2048))),
  content_type: z._default(z.enum(['image/jpeg', 'image/png', 'image/webp', 'image/tiff']), 'image/jpeg'),
});

export const handler = (body: unknown) => z.safeParse(probe, body);
