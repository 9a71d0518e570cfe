/*!
 * Free TCP ports on loopback for the servers the tests start (nginx, its dead upstream, ClickHouse,
 * a metrics endpoint): ports bound at 0 and released, several at once when a test needs several.
 */
import net, { type AddressInfo } from 'node:net';

/**
 * `n` distinct free ports: each bound (port 0) while the others are, then all released. Ports
 * taken one after another can come back the same (the kernel may hand out the one just freed):
 * an nginx whose dead upstream was its own port proxied to itself in a loop, 800 lines of 5xx.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer());
  try {
    return await Promise.all(servers.map((srv) => new Promise<number>((resolve, reject) => {
      srv.unref();
      srv.once('error', reject);
      srv.listen(0, host, () => resolve((srv.address() as AddressInfo).port));
    })));
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve()))));
  }
}

/** One free port on loopback (bound at 0, read, released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0] as number;
}
