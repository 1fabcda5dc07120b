/** Region and dummy credentials for emulators; nothing here ever reaches AWS. */
export const LOCAL_REGION = 'us-east-1';

export function emulatorClientConfig(endpoint: string) {
  return {
    region: LOCAL_REGION,
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
}
