import { DiditSimulator } from '../local/didit-simulator';
import { DelayProxy } from './delay-proxy';

/**
 * Child-process half of didit-floor.ts: the Didit simulator and the delaying proxy in front of it, in their own
 * process so the simulator's image analysis never runs on the event loop being measured.
 */
type Command = { type: 'stats' } | { type: 'reset' } | { type: 'stop' };

const apiKey = process.env.BENCH_DIDIT_API_KEY ?? 'bench-didit-key';
const latencyMs = Number(process.env.BENCH_DIDIT_LATENCY_MS ?? '1000');

const simulator = new DiditSimulator({ apiKey });
const simulatorUrl = await simulator.start();
const proxy = new DelayProxy(simulatorUrl, latencyMs);
const url = await proxy.start();
process.send?.({ type: 'ready', url });

process.on('message', async (command: Command) => {
  if (command.type === 'stats') process.send?.({ type: 'stats', stats: proxy.stats() });
  else if (command.type === 'reset') {
    proxy.reset();
    process.send?.({ type: 'reset' });
  } else if (command.type === 'stop') {
    await proxy.stop();
    await simulator.stop();
    // Idle keep-alive sockets must not keep a finished benchmark's helper alive.
    process.exit(0);
  }
});
