import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIngestConfig, WorkerPool } from '../src/index.js';

const logger = pino({ level: 'silent' });

describe('WorkerPool', () => {
	let pool: WorkerPool | undefined;
	afterEach(() => pool?.close());

	it('starts one mediasoup worker per configured slot and spreads routers across them', async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '2' }), logger);
		expect(pool.pids).toHaveLength(2);
		expect(new Set(pool.pids).size).toBe(2);
		await pool.createRouter({ space: 'a' });
		const b = await pool.createRouter({ space: 'b' });
		// Least-loaded placement: the second router goes to the worker without one.
		expect(pool.load.map((w) => w.routers)).toEqual([1, 1]);
		await pool.createRouter({ space: 'c' });
		expect(pool.load.map((w) => w.routers).sort()).toEqual([1, 2]);
		// A closed router no longer counts.
		b.close();
		expect(pool.load.reduce((n, w) => n + w.routers, 0)).toBe(2);
	});

	it('replaces a worker killed with SIGKILL and reports the routers it lost', async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		const router = await pool.createRouter({ space: 'doomed' });
		const [pid] = pool.pids;
		const died = new Promise<{ pid: number; routers: unknown[] }>((resolve) => pool!.once('workerdied', resolve));
		const restarted = new Promise<{ pid: number }>((resolve) => pool!.once('workerrestarted', resolve));
		process.kill(pid!, 'SIGKILL');
		const death = await died;
		expect(death.pid).toBe(pid);
		expect(death.routers).toEqual([router]);
		expect(router.closed).toBe(true);
		const replacement = await restarted;
		expect(replacement.pid).not.toBe(pid);
		expect(pool.pids).toEqual([replacement.pid]);
		// The replacement takes new routers.
		const fresh = await pool.createRouter({ space: 'next' });
		expect(fresh.closed).toBe(false);
	});

	it('refuses new routers after close()', async () => {
		pool = await WorkerPool.create(loadIngestConfig({ MEDIASOUP_NUM_WORKERS: '1' }), logger);
		pool.close();
		pool.close();
		expect(pool.closed).toBe(true);
		await expect(pool.createRouter({})).rejects.toThrow(/closed/);
	});
});
