// A real redis-server (Debian's, installed by .ci/run) on a free loopback port, for the queue tests:
// started by the test, stopped (and its folder removed) by it. Never a mock.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';

export const REDIS_SERVER = process.env.RESLENS_REDIS_SERVER ?? '/usr/bin/redis-server';
export const hasRedisServer = existsSync(REDIS_SERVER);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function answers(port: number, password?: string, overTls = false): Promise<boolean> {
  return new Promise((resolve) => {
    // Readiness only: the certificate itself is what the tests check, through the real clients.
    const socket = overTls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(500);
    // RESP arrays, so a password with spaces or non-ASCII characters goes through intact.
    const command = (...parts: string[]): string => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
    socket.on(overTls ? 'secureConnect' : 'connect', () => socket.write(password ? command('AUTH', password) + command('PING') : command('PING')));
    socket.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('PONG')) {
        socket.destroy();
        resolve(true);
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface RedisOptions {
  /** Append-only file with fsync every second: what docs/queue.md tells users to run. */
  appendOnly?: boolean;
  password?: string;
  /** Serve TLS only (rediss://), with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
}

export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: RedisOptions,
  ) {}

  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-redis-'));
    const server = new RedisServer(await freePort(), dir, options);
    await server.launch();
    return server;
  }

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://${this.options.password ? `:${encodeURIComponent(this.options.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const ports = this.options.tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(this.port),
          '--tls-cert-file',
          this.options.tls.cert,
          '--tls-key-file',
          this.options.tls.key,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(this.port)];
    const args = [...ports, '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--logfile', path.join(this.dir, 'redis.log')];
    args.push('--appendonly', this.options.appendOnly ? 'yes' : 'no', '--appendfsync', 'everysec');
    if (this.options.password) args.push('--requirepass', this.options.password);
    this.child = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await answers(this.port, this.options.password, this.options.tls !== undefined)) return;
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.child.kill('SIGKILL'); // never leave a half-started server behind
    throw new Error(`redis-server did not start on port ${this.port} (see ${this.dir}/redis.log)`);
  }

  /** Stops the server (SIGTERM: an AOF server flushes its file first) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops and starts again on the same port and folder (the AOF, if on, brings the data back). */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }

  /** Every key with its type and size ("reslens:chunks:wait list 3"), for a failure's message. */
  async describeKeys(): Promise<string> {
    const { Redis } = await import('ioredis');
    const client = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      ...(this.options.tls ? { tls: { rejectUnauthorized: false } } : {}),
    });
    try {
      await client.connect();
      const lines: string[] = [];
      for (const key of (await client.keys('*')).sort()) {
        const type = await client.type(key);
        const size =
          type === 'list'
            ? await client.llen(key)
            : type === 'zset'
              ? await client.zcard(key)
              : type === 'hash'
                ? await client.hlen(key)
                : type === 'stream'
                  ? await client.xlen(key)
                  : '';
        lines.push(`${key} ${type} ${size}`);
      }
      return lines.join('\n');
    } catch (error) {
      return `(could not read the keys: ${(error as Error).message})`;
    } finally {
      client.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
