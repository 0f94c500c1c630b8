// Preloaded into twilio-run by sandbox/stack.ts (`node --import`). twilio-run has no host option
// and listens on every interface; behind the sandbox's Functions gateway (functions-gateway.ts) it
// must be reachable on loopback only, on a port of its own, while it still believes it serves the
// gateway's public port: so context.DOMAIN_NAME is the host callers use, as on Twilio.
import net from 'node:net';

const publicPort = Number(process.env.CME_FUNCTIONS_PUBLIC_PORT);
const loopbackPort = Number(process.env.CME_FUNCTIONS_LOOPBACK_PORT);
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (loopbackPort > 0 && Number(args[0]) === publicPort) {
    const callback = args.find((arg) => typeof arg === 'function');
    return callback
      ? listen.call(this, loopbackPort, '127.0.0.1', callback)
      : listen.call(this, loopbackPort, '127.0.0.1');
  }
  return listen.apply(this, args);
};
