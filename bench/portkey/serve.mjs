// Runs the Portkey gateway (its own start script, unchanged) bound to
// 127.0.0.1: the script calls serve({fetch, port}) without a hostname,
// which listens on every interface, so every listen in this process is
// pinned to loopback here before the script is imported. Once it listens,
// the address is printed on its own line for the harness.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  } else {
    const port = args.shift();
    while (args.length && typeof args[0] !== 'function') args.shift(); // the host (and backlog)
    args.unshift(port, '127.0.0.1');
  }
  this.once('listening', () => {
    const a = this.address();
    process.stdout.write(`\nlistening http://${a.address}:${a.port}\n`);
  });
  return listen.apply(this, args);
};

await import('@portkey-ai/gateway/build/start-server.js');
