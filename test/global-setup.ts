import 'vitest';
import type { TestProject } from 'vitest/node';
import { type Moto, startMoto } from '../local/moto';

let moto: Moto | undefined;

/** One moto_server for the whole run; each test file creates its own uniquely named resources in it. */
export async function setup(project: TestProject): Promise<void> {
  moto = await startMoto();
  project.provide('motoEndpoint', moto.endpoint);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}
