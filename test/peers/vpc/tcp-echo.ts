/**
 * The TCP peer of the datapath tests, run inside a network namespace with `ip netns exec`:
 *
 *   node tcp-echo.ts serve PORT          answers every line with "<line> from <client address>"
 *   node tcp-echo.ts hold HOST PORT MS   keeps one connection open, one line every MS milliseconds,
 *                                        and prints "ok N" per answer, "broken" if the connection
 *                                        fails (the survival check across an agent restart)
 *
 * Standalone on purpose (node: imports only). One-shot clients are bash's /dev/tcp, lighter than
 * a node process per pod.
 */
import { createConnection, createServer } from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);

if (mode === 'serve') {
  const server = createServer((socket) => {
    const peer = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        socket.write(`${buffered.slice(0, newline)} from ${peer}\n`);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(Number(a), '0.0.0.0', () => process.stdout.write('listening\n'));
} else if (mode === 'hold') {
  const socket = createConnection({ host: a ?? '', port: Number(b) });
  let sent = 0;
  let buffered = '';
  socket.on('connect', () => {
    const tick = (): void => {
      socket.write(`ping ${++sent}\n`);
    };
    tick();
    setInterval(tick, Number(c)).unref();
  });
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      process.stdout.write(`ok ${buffered.slice(0, newline)}\n`);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  });
  socket.on('error', (err) => {
    process.stdout.write(`broken ${err.message}\n`);
    process.exit(1);
  });
  socket.on('close', () => {
    process.stdout.write('broken closed\n');
    process.exit(1);
  });
  process.on('SIGTERM', () => {
    socket.destroy();
    process.exit(0);
  });
} else {
  process.stderr.write('usage: tcp-echo.ts serve PORT | hold HOST PORT INTERVAL_MS\n');
  process.exit(2);
}
