import { createServer } from 'node:net';

/** The preferred port when it is free on host, otherwise one the kernel picks. */
export async function choosePort(preferred: number, host = '127.0.0.1'): Promise<number> {
  return (await tryListen(preferred, host)) ?? (await tryListen(0, host))!;
}

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(chosen));
    });
  });
}
