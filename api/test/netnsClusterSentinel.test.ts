import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { launchChromium, openPlayer, playerRoutes, sample } from './origin/support/hlsPage.js';
import { ApiProcess } from './support/apiProcess.js';
import { NetnsLab } from './support/netns.js';
import { MachineApi, stallMs, startMachineTranscoder, within, type MachineProcess } from './support/netnsCluster.js';
import { RedisSentinelSet, type RedisPlace } from './support/netnsRedisSentinel.js';
import { PlaylistWatcher } from './support/PlaylistWatcher.js';
import { descendants, freePort } from './support/processes.js';
import { SignalingClient } from './support/SignalingClient.js';
import { postJson } from './support/startTestNode.js';

/**
 * Redis high availability: Tribune (an API node and a transcoder, compiled: build first) on a Redis primary with a
 * replica and three sentinels, REDIS_URL `redis+sentinel://…`. A live space plays to hls.js in Chromium; then the
 * primary fails: killed with -9 (on loopback), or cut off the network while it lives on (each Redis, sentinel and
 * Tribune on a machine of its own: network namespaces; no connection to it is closed, so clients learn of the
 * failover from the sentinels). The sentinels promote the replica, every process follows, and what was
 * acknowledged before and during the failover (joins answered 200, a raised hand) is there afterwards; REST answers
 * during the failover are 200 or 503, never anything else. The listener's stall and the failover's times are
 * printed as one JSON line per case.
 */
const root = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-sentinel-'));
let set: RedisSentinelSet | undefined;
let api: ApiProcess | undefined;
let transcoder: ChildProcess | undefined;
let transcoderOutput = '';
let lab: NetnsLab | undefined;
const machineProcesses: MachineProcess[] = [];
let browser: Browser | undefined;
let pageServer: http.Server | undefined;
const clients: SignalingClient[] = [];

/** Stops what the case before left running (each step bounded; the next case starts clean). */
async function teardown(): Promise<void> {
	for (const client of clients.splice(0)) client.close();
	// A browser that already went away: nothing left to close.
	await browser?.close().catch(() => undefined);
	browser = undefined;
	pageServer?.closeAllConnections();
	pageServer?.close();
	pageServer = undefined;
	// The API node's children (its synthetic speakers' ffmpeg) outlive a SIGKILL to it: they are killed by pid.
	const apiChildren = api?.pid !== undefined ? descendants(api.pid) : [];
	await api?.kill('SIGKILL');
	for (const pid of apiChildren) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// Exited with its parent.
		}
	}
	api = undefined;
	if (transcoder && transcoder.exitCode === null && transcoder.signalCode === null) {
		const exited = new Promise((resolve) => transcoder!.once('exit', resolve));
		// The transcoder's own group: its ffmpeg children go with it.
		process.kill(-transcoder.pid!, 'SIGKILL');
		await exited;
	}
	transcoder = undefined;
	await set?.stop();
	set = undefined;
	await lab?.destroy();
	lab = undefined;
	machineProcesses.length = 0;
}

// A case that failed half way still stops its Redis set, sentinels and processes before the next case starts its own.
afterEach(teardown, 60_000);

afterAll(async () => {
	await teardown();
	fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `probe` (bounded); a timeout names `what` and the last of every process's output. */
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> =>
	within(what, timeoutMs, probe, () => `${set?.logs(dir).slice(-4000) ?? ''}\n${api?.output().slice(-3000) ?? ''}\n${transcoderOutput.slice(-3000)}\n${machineProcesses.map((p) => p.output()).join('\n')}`);

/**
 * The case itself, once Tribune runs on the set at `node`: a live space with a synthetic speaker, a listener in
 * Chromium, acknowledged changes, then `fault()` and the checks. `replicaAddress`: the replica as the sentinels name it.
 */
async function failoverUnderLiveSpace(label: string, node: { baseUrl: string; wsUrl: string }, replicaAddress: string, fault: () => Promise<void>): Promise<void> {
	const created = await postJson(`${node.baseUrl}/api/spaces`, { title: 'Sentinel', hostName: 'Hana Host' });
	expect(created.status).toBe(201);
	const spaceId = created.body.space!.id;
	const hostToken = created.body.token!;
	expect((await postJson(`${node.baseUrl}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);
	const added = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'Sam Speaker', text: 'Redis fails over while this sentence plays to the audience of the space.', video: false }, hostToken);
	expect(added.status).toBe(201);
	const watcher = new PlaylistWatcher(`${node.baseUrl}/hls/${spaceId}/audio/index.m3u8`);
	watcher.start();
	await until('parts at the origin', async () => (watcher.parts.size >= 10 ? true : undefined), 60_000);

	const app = express();
	playerRoutes(app);
	pageServer = http.createServer(app).listen(0, '127.0.0.1');
	await new Promise((resolve) => pageServer!.once('listening', resolve));
	browser = await launchChromium();
	const page: Page = await openPlayer(browser, `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`, `${node.baseUrl}/hls/${spaceId}/master.m3u8`);
	await until('the listener playing', async () => ((await sample(page)).currentTime > 3 ? true : undefined), 40_000);

	// Acknowledged before the fault: 20 joins (each a participant record) and a raised hand.
	const acknowledged: { name: string; token: string }[] = [];
	const join = async (name: string) => {
		const reply = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/join`, { displayName: name });
		if (reply.status === 200) acknowledged.push({ name, token: reply.body.token! });
		return reply.status;
	};
	for (let i = 0; i < 20; i++) expect(await join(`Before ${i}`)).toBe(200);
	const raiser = await SignalingClient.connect(node.wsUrl, acknowledged[0]!.token);
	clients.push(raiser);
	await raiser.request('raiseHand');

	const before = await sample(page);
	const faultAt = Date.now();
	await fault();
	// Joins go on through the failover, one every 100 ms: each is answered 200 (then it must survive) or 503.
	const statuses: number[] = [];
	const failover: { at?: number } = {};
	const joining = (async () => {
		for (let i = 0; i < 300 && (failover.at === undefined || Date.now() < failover.at + 3000); i++) {
			// A join that got no HTTP answer at all is recorded as -1 (and fails the 200-or-503 check below).
			statuses.push(await join(`During ${i}`).catch(() => -1));
			await sleep(100);
		}
	})();
	await until('the replica promoted', async () => ((await set!.currentPrimary()) === replicaAddress ? true : undefined), 60_000);
	const failoverAt = Date.now();
	failover.at = failoverAt;
	const firstJoinAfter = await until('a join answered 200 after the failover', async () => {
		const reply = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/join`, { displayName: 'After' });
		return reply.status === 200 ? Date.now() : undefined;
	}, 30_000);
	await joining;
	const newParts = await until('new parts at the origin after the failover', async () => watcher.firstPartAfter(failoverAt + 200), 30_000);
	// The listener: media time 6 s past where it was at the fault, no fatal error, the stall measured.
	await until('the listener to play 6 s past the fault', async () => ((await sample(page)).currentTime > before.currentTime + 6 ? true : undefined), 60_000);
	const after = await sample(page);
	expect(after.errors.filter((e) => e.startsWith('FATAL'))).toEqual([]);

	expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
	// Every acknowledged join, before and during the failover, is there: its participant connects and sees itself.
	for (const { name, token } of acknowledged) {
		const client = await SignalingClient.connect(node.wsUrl, token);
		const state = await client.request('getState');
		client.close();
		expect([name, state.you.displayName, state.space.state]).toEqual([name, name, 'live']);
	}
	const host = await SignalingClient.connect(node.wsUrl, hostToken);
	clients.push(host);
	const hostState = await host.request('getState');
	expect(hostState.handQueue.map((p) => p.displayName)).toEqual(['Before 0']);

	console.log(JSON.stringify({
		case: label,
		sentinel_failover_ms: failoverAt - faultAt,
		first_join_200_after_fault_ms: firstJoinAfter - faultAt,
		first_new_part_after_fault_ms: newParts - faultAt,
		origin_part_gap_ms: watcher.maxGap(faultAt - 2000, Date.now()),
		listener_stall_ms: stallMs(after, faultAt, Date.now()),
		joins_during_failover: { ok: statuses.filter((s) => s === 200).length, unavailable: statuses.filter((s) => s === 503).length },
		acknowledged_joins_kept: acknowledged.length,
		load: os.loadavg()[0],
	}));
	watcher.stop();
}

/**
 * Waits until the replica has what the primary had written when this was called. Replication is asynchronous
 * (docs/SCALING.md): a write the primary has not yet sent its replica is lost with it (a hand raised milliseconds
 * before the fault was lost in some runs), so the faults come once the replica has caught up; the live broadcast
 * writes all the time, so what is awaited is the primary's offset when the fault begins.
 */
async function replicated(host: string, port: number): Promise<void> {
	const primary = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
	const offsets = async () => {
		const info = await primary.info('replication');
		return { primary: Number(/master_repl_offset:(\d+)/.exec(info)?.[1]), replica: Number(/slave0:.*offset=(\d+)/.exec(info)?.[1] ?? NaN) };
	};
	try {
		const written = (await offsets()).primary;
		await until('the replica caught up with the primary', async () => ((await offsets()).replica >= written ? true : undefined), 5000);
	} finally {
		primary.disconnect();
	}
}

describe.skipIf(!fs.existsSync('/usr/bin/redis-server'))('Redis Sentinel failover under a live space', () => {
	it('the primary killed with -9: the replica is promoted, every acknowledged join and hand is kept, the listener plays on', { timeout: 240_000 }, async () => {
		const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
		const place = (port: number) => ({ host: '127.0.0.1', port });
		set = await RedisSentinelSet.start(dir, { primary: place(ports[0]!), replica: place(ports[1]!), sentinels: ports.slice(2).map(place) });
		expect(await set.currentPrimary()).toBe(`127.0.0.1:${ports[0]}`);

		const shared = { redisUrl: set.url, tokenSecret: randomUUID() + randomUUID(), dataDir: path.join(dir, 'data') };
		fs.mkdirSync(shared.dataDir);
		api = await ApiProcess.start(shared, { SYNTHETIC_SPEAKERS: 'true' });
		transcoder = spawn(process.execPath, [path.join(root, 'transcoder/dist/main.js')], {
			env: { ...process.env, REDIS_URL: set.url, TRIBUNE_DATA_DIR: shared.dataDir, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' },
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true,
		});
		const keep = (chunk: Buffer) => (transcoderOutput = (transcoderOutput + chunk.toString()).slice(-20_000));
		transcoder.stdout!.on('data', keep);
		transcoder.stderr!.on('data', keep);
		await until('a transcoder registered', async () => ((await (await fetch(`${api!.baseUrl}/healthz`)).json() as { transcoders: number }).transcoders >= 1 ? true : undefined), 40_000);
		await failoverUnderLiveSpace('primary killed', api, `127.0.0.1:${ports[1]}`, async () => {
			await replicated('127.0.0.1', ports[0]!);
			await set!.kill('primary');
		});
		await teardown();
	});

	it.skipIf(!NetnsLab.available())('the primary cut off the network (alive): clients follow the sentinels, nothing acknowledged is lost, the old primary rejoins as a replica', { timeout: 240_000 }, async () => {
		lab = NetnsLab.create('trib-ha', ['r1', 'r2', 's1', 's2', 's3', 'app']);
		const on = (machine: string, port: number): RedisPlace => ({ host: lab!.ip(machine), port, spawn: (command, args) => lab!.spawn(machine, command, args, { stdio: ['ignore', 'pipe', 'pipe'] }) });
		set = await RedisSentinelSet.start(dir, { primary: on('r1', 6379), replica: on('r2', 6379), sentinels: ['s1', 's2', 's3'].map((m) => on(m, 26379)) });
		const shared = { redisUrl: set.url, tokenSecret: randomUUID() + randomUUID(), adminKey: randomUUID() + randomUUID(), dir };
		const node = new MachineApi(lab, 'app', shared, 'loopback', { SYNTHETIC_SPEAKERS: 'true' });
		machineProcesses.push(node, startMachineTranscoder(lab, 'app', shared));
		await until('the node healthy with a transcoder', async () => ((await (await fetch(`${node.baseUrl}/healthz`)).json() as { ok: boolean; transcoders: number }).transcoders >= 1 ? true : undefined), 60_000);
		await failoverUnderLiveSpace('primary partitioned', node, `${lab.ip('r2')}:6379`, async () => {
			await replicated(lab!.ip('r1'), 6379);
			lab!.disconnect('r1');
		});
		// Healed, the old primary learns from the sentinels that it is a replica now (its partition-time data dropped).
		lab.reconnect('r1');
		await until('the old primary to rejoin as a replica', async () => {
			const old = new Redis({ host: lab!.ip('r1'), port: 6379, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
			try {
				await old.connect();
				return /role:slave/.test(await old.info('replication')) ? true : undefined;
			} finally {
				old.disconnect();
			}
		}, 60_000);
		await teardown();
	});
});
