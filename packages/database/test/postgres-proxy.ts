import net from 'node:net';

/*
 * A TCP proxy in front of the shared Postgres that reads each connection's startup message, so a
 * test can see which databases a client asked for and can make the proxy refuse some of them the
 * way managed Postgres refuses its `postgres` maintenance database (FATAL 42501).
 */

const upstream = { host: '127.0.0.1', port: 5432 };
const protocolVersion3 = 196_608;
const sslRequestCode = 80_877_103;

export interface PostgresProxy {
  /** A connection URL for `database` through the proxy. */
  url(database: string): string;
  /** Every database a connection asked for, in connection order. */
  readonly databasesRequested: string[];
  close(): Promise<void>;
}

/** The key/value pairs of a protocol 3 startup message (after length and version). */
function startupParameters(message: Buffer): Map<string, string> {
  const parts = message.subarray(8).toString('utf8').split('\0');
  const parameters = new Map<string, string>();
  for (let index = 0; index + 1 < parts.length && parts[index] !== ''; index += 2) {
    parameters.set(parts[index]!, parts[index + 1]!);
  }
  return parameters;
}

/** A backend ErrorResponse message, as Postgres sends when it refuses a connection. */
function fatalError(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

export async function startPostgresProxy(options: { refused: readonly string[] }): Promise<PostgresProxy> {
  const databasesRequested: string[] = [];
  const sockets = new Set<net.Socket>();

  const handle = (client: net.Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 8 || buffered.length < buffered.readInt32BE(0)) return;
      const length = buffered.readInt32BE(0);
      if (buffered.readInt32BE(4) === sslRequestCode) {
        buffered = buffered.subarray(length);
        client.write('N');
        return;
      }
      client.off('data', onData);
      const parameters = startupParameters(buffered.subarray(0, length));
      const database = parameters.get('database') ?? parameters.get('user') ?? '';
      databasesRequested.push(database);
      if (buffered.readInt32BE(4) === protocolVersion3 && options.refused.includes(database)) {
        client.end(fatalError('42501', `permission denied for database "${database}"`));
        return;
      }
      const server = net.connect(upstream, () => {
        server.write(buffered);
        client.pipe(server).pipe(client);
      });
      sockets.add(server);
      server.on('close', () => sockets.delete(server));
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
    };
    client.on('data', onData);
  };

  const proxy = net.createServer(handle);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as net.AddressInfo;
  return {
    url: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    databasesRequested,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
