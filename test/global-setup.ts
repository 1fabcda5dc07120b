import 'vitest';
import type { TestProject } from 'vitest/node';
import { type Moto, startMoto } from '../local/moto';
import { type SynthesizedWorkflows, synthesizeWorkflows } from '../local/synthesized-workflows';

let moto: Moto | undefined;

/** One moto_server for the whole run; each test file creates its own uniquely named resources in it. */
export async function setup(project: TestProject): Promise<void> {
  moto = await startMoto();
  project.provide('motoEndpoint', moto.endpoint);
  // Synthesized once for the whole run: the state machines every workflow test executes, exactly as cdk synth renders.
  project.provide('workflows', synthesizeWorkflows());
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
    workflows: SynthesizedWorkflows;
  }
}
