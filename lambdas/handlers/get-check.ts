// Placeholder: the real handler is being written; this file exists so the CDK entry path resolves.
export const handler = async (): Promise<void> => {};
