/**
 * A byte relay between a TCP address and a unix socket, run inside a network namespace of the
 * emulated VPC (`ip netns exec NS node relay.ts FROM=TO...`): it serves the simulated EC2 and
 * metadata service (unix sockets of the test process) at VPC addresses, and the agent's
 * introspection (loopback of a node namespace) to the test process.
 *
 *   tcp:169.254.169.254:80=unix:/dir/imds-{src}.sock   {src}: the client's IPv4 address
 *   unix:/dir/agent.sock=tcp:127.0.0.1:61679
 *
 * Standalone on purpose (node: imports only), so node runs it directly with its type stripping.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

function parseEndpoint(text: string): Endpoint {
  if (text.startsWith('unix:')) return { kind: 'unix', path: text.slice(5) };
  const match = /^tcp:(.+):(\d+)$/.exec(text);
  if (!match) throw new Error(`not an endpoint: ${text} (tcp:HOST:PORT or unix:PATH)`);
  return { kind: 'tcp', host: match[1] ?? '', port: Number(match[2]) };
}

function connectTo(target: Endpoint, client: Socket): Socket {
  if (target.kind === 'tcp') return createConnection({ host: target.host, port: target.port });
  const src = (client.remoteAddress ?? '').replace(/^::ffff:/, '');
  return createConnection({ path: target.path.replaceAll('{src}', src) });
}

const listening: Promise<void>[] = [];
for (const pair of process.argv.slice(2)) {
  const [fromText, toText] = pair.split('=');
  if (fromText === undefined || toText === undefined) throw new Error(`expected FROM=TO, got ${pair}`);
  const from = parseEndpoint(fromText);
  const to = parseEndpoint(toText);
  const server = createServer((client) => {
    const upstream = connectTo(to, client);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  listening.push(
    new Promise((resolve, reject) => {
      server.once('error', reject);
      if (from.kind === 'unix') {
        rmSync(from.path, { force: true });
        server.listen(from.path, () => {
          resolve();
        });
      } else
        server.listen(from.port, from.host, () => {
          resolve();
        });
    }),
  );
}
Promise.all(listening).then(
  () => process.stdout.write('relay ready\n'),
  (err: unknown) => {
    process.stderr.write(`relay: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => process.exit(0));
