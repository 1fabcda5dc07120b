import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ClientAppKeys } from '../core/caller';
import { toCheckView, type ViewOptions } from '../core/check-view';
import { parseListRequest } from '../core/list-request';
import type { CheckFinder } from '../services/check-finder';
import { callerOf, json } from './http';

/**
 * `GET /v1/liveness-checks?vendor_data=…&limit=…&cursor=…`: the caller's own checks for one end user, newest first.
 * Served by the read function (get-check.ts), which routes here by resource; errors are mapped by its caller.
 */
export async function listChecks(
  event: APIGatewayProxyEvent,
  finder: CheckFinder,
  appKeys: ClientAppKeys,
  view: ViewOptions = {},
): Promise<APIGatewayProxyResult> {
  const owner = callerOf(event, appKeys);
  const request = parseListRequest(event.queryStringParameters);
  const page = await finder.list(owner, request);
  return json(200, { items: page.records.map((record) => toCheckView(record, view)), next_cursor: page.nextCursor });
}
