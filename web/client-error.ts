/** A message for the person at the page; thrown anywhere in the flow and shown in the alert box as it is. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
}
