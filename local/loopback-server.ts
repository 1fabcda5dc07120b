import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The HTTP server under each simulator: 127.0.0.1 only, counts TCP connections (to prove keep-alive reuse), drops
 * every connection on stop (including requests a fault is holding), and restarts on the port it had, so clients
 * configured with its URL reach it again.
 */
export class LoopbackServer {
  /** TCP connections accepted since start or the last `resetConnections()`. */
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private lastPort: number | undefined;

  constructor(
    private readonly name: string,
    private readonly listener: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly port?: number,
  ) {}

  async start(): Promise<string> {
    if (this.server) throw new Error(`${this.name} already started`);
    const server = createServer(this.listener);
    server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.lastPort ?? this.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.lastPort = (server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error(`${this.name} is not started`);
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  resetConnections(): void {
    this.connections = 0;
  }
}
