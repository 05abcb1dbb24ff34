// The engine service's dispatch table is typed by the contract: these lines only compile while a
// missing or mistyped handler is a type error (`npm run typecheck` fails on an unused @ts-expect-error).
import { describe, expect, it } from 'vitest';
import type { RequestHandler, RequestHandlers } from '../../src-main/api/handler.js';
import { RequestSchemas } from '../../src-main/api/contract.js';

describe('RequestHandlers', () => {
  it('needs a handler for every request and the contract result for each', () => {
    const full = Object.fromEntries(Object.keys(RequestSchemas).map((name) => [name, async () => name])) as unknown as RequestHandlers;
    const { 'engine.status': _status, ...incomplete } = full;
    // @ts-expect-error a table without 'engine.status' is not a dispatch table
    const missing: RequestHandlers = incomplete;
    // @ts-expect-error explain.labels answers { labels }, not a status
    const mistyped: RequestHandler<'explain.labels'> = async () => ({ ready: true });
    // @ts-expect-error images.thumbnail's params have no `images`
    const wrongParams: RequestHandler<'images.thumbnail'> = async (p) => ({ jpeg: new Uint8Array(p.images.length), width: 1, height: 1 });
    expect(Object.keys(missing)).not.toContain('engine.status');
    expect(typeof mistyped).toBe('function');
    expect(typeof wrongParams).toBe('function');
  });
});
