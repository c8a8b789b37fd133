import crypto from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { hlsRedisKeys } from '@tribune/transcoder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbuseCrowd } from './AbuseCrowd.js';
import type { BotsReport, CreatesReport, IdleReport } from './abuseCrowdChild.js';
import { BroadcastWatch, call, HostWatch, hostDelta, listenerJoin, percentileOf, RedisMemory, round1, sampleJoins, shapeGrowth, type JoinTiming } from './abuseProbes.js';
import { runHlsLoad, type LoadResult } from './audienceLoad.js';
import { CpuMeter, loadAverage } from './procStats.js';
import { startTribuneUnderLoad, type LiveSpace, type TribuneUnderLoad } from './tribuneUnderLoad.js';

/**
 * `npm run bench:abuse`: does a Tribune in public stay up for its real host and audience while others abuse it?
 * Starts `npm start`'s launcher on loopback with hosting closed (an operator key, no anonymous creation) and the
 * record lifetimes shortened, has the operator create one space for an authorized host, live with a synthetic
 * speaker, and measures it alone (once its LL-HLS log in Redis is full), then under an abusive crowd (one child
 * process, abuseCrowdChild.ts), then calm again while the crowd's records expire (LL-HLS only; a check on the
 * machine's own noise):
 * - TRIBUNE_ABUSE_BOTS (5,000) bot identities joining that space (each without an identity, so each gets one),
 *   raising and lowering hands, leaving some raised, and disconnecting;
 * - TRIBUNE_ABUSE_CREATES (500) space creations from one address without a host credential, after a few dozen with
 *   host credentials from invites (the per-identity and per-address creation limits);
 * - TRIBUNE_ABUSE_IDLE (2,000) idle listener sockets in another space.
 * Measured: the host's bytes received per hand change and whether it stayed connected (a real signaling client of
 * the space), a real listener's join time and TRIBUNE_ABUSE_LISTENERS LL-HLS listeners' part delay p99 alone and with
 * the crowd, the space's broadcast state throughout (GET /api/spaces/:id/broadcast), creations accepted and refused,
 * and Redis used_memory before, during, and after the crowd's records expired (with `redis_key_growth`: the key
 * shapes that differ from before, as [keys, bytes, members]). One JSON line to TRIBUNE_BENCH_OUT
 * (and last on stdout). Asserts what is structural (host connected, ≤ 1 KB per hand change, transcoder kept);
 * reports the timing ratios. Skipped unless TRIBUNE_BENCH=1.
 */
const envInt = (name: string, fallback: number): number => {
	const value = Number(process.env[name] ?? fallback);
	if (!Number.isInteger(value) || value < 0) throw new Error(`${name}: expected a whole number, got ${process.env[name]}`);
	return value;
};
const bots = envInt('TRIBUNE_ABUSE_BOTS', 5000);
const anonymousCreates = envInt('TRIBUNE_ABUSE_CREATES', 500);
const idleSockets = envInt('TRIBUNE_ABUSE_IDLE', 2000);
/** Each phase's measured window, s; the bots are spread over it and 15 s more. */
const windowS = envInt('TRIBUNE_ABUSE_WINDOW_S', 45);
/** LL-HLS listeners whose part delay is measured (one load worker). */
const hlsListeners = envInt('TRIBUNE_ABUSE_LISTENERS', 10);
const botsInFlight = envInt('TRIBUNE_ABUSE_BOTS_IN_FLIGHT', 300);
/** Crowd clients per client address (under the per-address connection caps, as a botnet spreads). */
const perAddress = envInt('TRIBUNE_ABUSE_PER_ADDRESS', 200);
/** Host credentials (one invite each) the creation burst also uses, and the attempts with each. */
const hostCredentials = envInt('TRIBUNE_ABUSE_HOST_CREDENTIALS', 4);
const perCredential = envInt('TRIBUNE_ABUSE_CREATES_PER_CREDENTIAL', 12);
const participantTtlS = envInt('TRIBUNE_ABUSE_PARTICIPANT_TTL_S', 30);
const handLowerS = envInt('TRIBUNE_ABUSE_HAND_LOWER_S', 10);
/** An unstarted space must outlive the crowd (the idle sockets' space is one). */
const unstartedTtlS = envInt('TRIBUNE_ABUSE_UNSTARTED_TTL_S', windowS + 90);
/** Creations a minute per address: Tribune's default, or what the environment (passed on to the launcher) sets. */
const createsPerMinPerAddress = envInt('CREATES_PER_MIN_PER_ADDRESS', 30);

/** The operator key: the environment's for a Tribune at TRIBUNE_LOAD_URL, else one the launcher is given. */
const adminKey = process.env.TRIBUNE_LOAD_URL && process.env.TRIBUNE_ADMIN_KEY ? process.env.TRIBUNE_ADMIN_KEY : crypto.randomBytes(32).toString('base64url');
const createsAddress = '203.0.113.7';
const log = (line: string): void => void process.stderr.write(`[bench:abuse] ${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.now();

/** A space created by the operator for a host `sub` (POST /api/server/spaces), not started; the host's token. */
async function operatorSpace(tribune: TribuneUnderLoad, title: string, sub: string): Promise<LiveSpace> {
	const { body } = await call<{ space: { id: string }; token: string }>(`${tribune.baseUrl}/api/server/spaces`, { body: { title, host: { sub, displayName: `Host ${sub}` } }, bearer: adminKey });
	return { spaceId: body.space.id, hostToken: body.token, hlsDir: `/hls/${body.space.id}/` };
}

/** Starts the space with a synthetic speaker and waits (≤ 60 s) until its LL-HLS has two whole segments. */
async function goLive(tribune: TribuneUnderLoad, space: LiveSpace): Promise<void> {
	await call(`${tribune.baseUrl}/api/spaces/${space.spaceId}/start`, { body: {}, bearer: space.hostToken });
	await call(`${tribune.baseUrl}/api/spaces/${space.spaceId}/synthetic-speakers`, {
		body: { displayName: 'Speaker', text: 'This space is measured while a crowd of bots tries to take it down. It keeps talking all along.', video: false },
		bearer: space.hostToken,
	});
	const deadline = Date.now() + 60_000;
	while (Date.now() < deadline) {
		const res = await fetch(`${tribune.baseUrl}${space.hlsDir}audio/index.m3u8`).catch(() => undefined);
		const text = res?.ok ? await res.text() : '';
		if ((text.match(/#EXTINF/g) ?? []).length >= 2) return;
		await sleep(300);
	}
	throw new Error(`space ${space.spaceId} did not reach the origin in 60 s`);
}

/** Host credentials: `count` one-use invites the operator mints (POST /api/server/host-invites), each redeemed. */
async function redeemHostCredentials(tribune: TribuneUnderLoad, count: number): Promise<string[]> {
	const credentials: string[] = [];
	for (let k = 0; k < count; k++) {
		const { body } = await call<{ url: string }>(`${tribune.baseUrl}/api/server/host-invites`, { body: { label: `bench ${k + 1}`, maxUses: 1 }, bearer: adminKey });
		const code = new URL(body.url, tribune.baseUrl).hash.replace(/^#code=/, '');
		const redeemed = await call<{ credential: string }>(`${tribune.baseUrl}/api/host-invites/redeem`, { body: { code } });
		credentials.push(redeemed.body.credential);
	}
	return credentials;
}

interface PhaseResult {
	hls: LoadResult;
	joins: JoinTiming[];
	joinFailures: string[];
}

function joinSummary(joins: readonly JoinTiming[]): { p50_ms: number | null; p99_ms: number | null; max_ms: number | null; samples: number; slowest: JoinTiming | null } {
	const totals = joins.map((j) => j.totalMs);
	const slowest = joins.reduce<JoinTiming | null>((worst, j) => (worst === null || j.totalMs > worst.totalMs ? j : worst), null);
	return { p50_ms: percentileOf(totals, 50), p99_ms: percentileOf(totals, 99), max_ms: percentileOf(totals, 100), samples: totals.length, slowest };
}

const ratio = (withCrowd: number | null | undefined, without: number | null | undefined): number | null =>
	withCrowd == null || without == null || without <= 0 ? null : Math.round((withCrowd / without) * 100) / 100;

describe.skipIf(process.env.TRIBUNE_BENCH !== '1')('abuse bench', () => {
	let tribune: TribuneUnderLoad;
	let crowd: AbuseCrowd;
	let space: LiveSpace;
	let host: HostWatch;
	let broadcast: BroadcastWatch;
	let redis: RedisMemory;

	beforeAll(async () => {
		tribune = await startTribuneUnderLoad({
			env: {
				TRIBUNE_OPEN_HOSTING: 'false',
				TRIBUNE_ADMIN_KEY: adminKey,
				PARTICIPANT_IDLE_TTL_S: String(participantTtlS),
				HAND_DISCONNECT_LOWER_S: String(handLowerS),
				SPACE_UNSTARTED_TTL_S: String(unstartedTtlS),
			},
		});
		if (!tribune.redisUrl) throw new Error('the abuse bench reads the Redis of the Tribune under load (TRIBUNE_LOAD_REDIS_URL)');
		redis = new RedisMemory(tribune.redisUrl);
		crowd = await AbuseCrowd.start();
		space = await operatorSpace(tribune, 'Measured space', 'bench-host');
		await goLive(tribune, space);
		host = await HostWatch.connect(tribune.wsUrl, space.hostToken);
		broadcast = new BroadcastWatch(tribune.baseUrl, space.spaceId, space.hostToken);
		log(`space ${space.spaceId} is live at ${tribune.baseUrl}`);
	}, 180_000);
	afterAll(async () => {
		broadcast?.stop();
		host?.close();
		redis?.close();
		crowd?.close();
		await tribune?.stop();
	}, 60_000);

	const measure = async (phase: string, joining = true): Promise<PhaseResult> => {
		log(`${phase}: ${hlsListeners} LL-HLS listeners for ${windowS} s${joining ? ', a listener joining every 3 s' : ''}`);
		// The first join after the load worker's compilation, which holds this process's loop for a moment.
		const joins = sampleJoins(() => listenerJoin(tribune.baseUrl, tribune.wsUrl, space.spaceId, space.hlsDir), 3000, joining ? Math.ceil(windowS / 3) + 10 : 0, 2000);
		const hls = await runHlsLoad({ tribune, space, listeners: hlsListeners, workers: 1, durationS: windowS, log: (line) => log(`${phase}: ${line}`) });
		const { samples, failures } = await joins.stop();
		log(`${phase}: part delay p99 ${hls.p99Ms} ms (${hls.samples} samples, ${hls.errors} errors), join p50 ${joinSummary(samples).p50_ms} ms, ${failures.length} joins failed`);
		return { hls, joins: samples, joinFailures: failures };
	};

	it(`keeps a host's space up under ${bots} bots, ${anonymousCreates} creations and ${idleSockets} idle sockets`, { timeout: (4 * windowS + unstartedTtlS + participantTtlS + 900) * 1000 }, async () => {
		const loadBefore = loadAverage()[0];

		// Alone, once the space is in its steady state: its LL-HLS log in Redis full (a minute or two after going live).
		const feed = await redis.untilTrimmed(hlsRedisKeys(tribune.redisPrefix, space.spaceId).log, 240_000);
		log(`the space's LL-HLS log in Redis is full (${feed.length} events, trimmed: ${feed.trimmed}, waited ${feed.waitedMs} ms)`);
		const alone = await measure('alone');
		const redisBefore = await redis.read();
		const shapesBefore = await redis.keysByShape(tribune.redisPrefix);
		log(`Redis before: ${redisBefore.usedMemory} B, ${redisBefore.keys} keys`);

		// With the crowd: idle sockets parked first, then bots and creations while the space is measured again.
		const credentials = await redeemHostCredentials(tribune, hostCredentials);
		const idleSpace = await operatorSpace(tribune, 'Idle crowd', 'idle-host');
		const idleCreatedAt = now();
		let lastCreateAt = idleCreatedAt;
		let redisDuring = redisBefore;
		const redisSampler = setInterval(() => {
			void redis.read().then((r) => {
				if (r.usedMemory > redisDuring.usedMemory) redisDuring = { ...r, keys: Math.max(r.keys, redisDuring.keys) };
				else if (r.keys > redisDuring.keys) redisDuring = { ...redisDuring, keys: r.keys };
			}, () => {});
		}, 2000);
		const hostBefore = host.snapshot();
		const crowdCpu = crowd.pid === undefined ? undefined : new CpuMeter(crowd.pid);
		let idle: IdleReport;
		let botsReport: BotsReport;
		let creates: CreatesReport;
		let withCrowd: PhaseResult;
		let idleFinal: IdleReport;
		try {
			log(`crowd: ${idleSockets} idle sockets in space ${idleSpace.spaceId}`);
			idle = await crowd.idle({ baseUrl: tribune.baseUrl, wsUrl: tribune.wsUrl, spaceId: idleSpace.spaceId, count: idleSockets, perAddress, concurrency: 20, timeoutMs: 120_000 });
			log(`crowd: idle ${JSON.stringify(idle)}`);
			const spreadMs = (windowS + 15) * 1000;
			log(`crowd: ${bots} bots over ${spreadMs / 1000} s, ${anonymousCreates} anonymous creations and ${credentials.length} × ${perCredential} with host credentials from ${createsAddress}`);
			const botsDone = crowd.bots({ baseUrl: tribune.baseUrl, wsUrl: tribune.wsUrl, spaceId: space.spaceId, count: bots, spreadMs, maxInFlight: botsInFlight, perAddress, deadlineMs: spreadMs * 2, stepTimeoutMs: 10_000 });
			// While the space is measured (after the load worker's ramp), not before.
			const createsDone = sleep(8000)
				.then(() => crowd.creates({ baseUrl: tribune.baseUrl, anonymous: anonymousCreates, credentials, perCredential, address: createsAddress, concurrency: 8 }, 300_000))
				.finally(() => (lastCreateAt = now()));
			withCrowd = await measure('crowd');
			[botsReport, creates] = await Promise.all([botsDone, createsDone]);
			log(`crowd: bots ${JSON.stringify(botsReport)}`);
			log(`crowd: creates ${JSON.stringify(creates)}`);
		} finally {
			idleFinal = await crowd.closeIdle().catch(() => ({ joined: 0, joinRefusals: {}, open: 0, closeCodes: {} }));
			clearInterval(redisSampler);
		}
		const crowdEndedAt = now();
		const crowdCores = crowdCpu?.read();
		const redisDuringLast = await redis.read();
		if (redisDuringLast.usedMemory > redisDuring.usedMemory) redisDuring = redisDuringLast;

		// After: every record the crowd left has a lifetime; wait them out (and the creation buckets' minute), then
		// until Redis is back near its baseline or another minute has passed.
		// The last unstarted space is the last one the burst created (or the idle sockets' space).
		const unstartedLeftS = unstartedTtlS - (crowdEndedAt - Math.max(idleCreatedAt, lastCreateAt)) / 1000;
		const expiryS = Math.max(participantTtlS, handLowerS, unstartedLeftS, 60) + 15;
		log(`after: waiting ${Math.round(expiryS)} s for the crowd's records to expire`);
		// Meanwhile the space alone again (LL-HLS only: a listener's join would leave a record of its own), a check on
		// the machine: a shared one's own noise shows as a difference between the two measurements without the crowd.
		const calmStarted = now();
		const calm = (await measure('calm', false)).hls;
		await sleep(Math.max(0, expiryS * 1000 - (now() - calmStarted)));
		let redisAfter = await redis.read();
		for (let extra = 0; extra < 12 && redisAfter.usedMemory > redisBefore.usedMemory * 1.1; extra++) {
			await sleep(5000);
			redisAfter = await redis.read();
		}
		const recoveredAfterS = Math.round((now() - crowdEndedAt) / 1000);
		const redisGrowth = shapeGrowth(shapesBefore, await redis.keysByShape(tribune.redisPrefix));
		log(`Redis after: ${redisAfter.usedMemory} B, ${redisAfter.keys} keys (${recoveredAfterS} s after the crowd)`);

		// The host's view from the crowd's start to now: every raise and lowering, the delayed ones included.
		const hostCrowd = hostDelta(hostBefore, host.snapshot());
		// The changes that happened: every accepted raise and lowering, and each hand left up, lowered by the server a
		// while after its owner left (the host's last event says whether the queue is empty again). The host's events
		// may not list them all (a tick with many says `resync`, and the host reads the first page again).
		const handChanges = botsReport.raised + botsReport.lowered + botsReport.leftRaised;
		const handBytes = hostCrowd.handEventBytes + hostCrowd.resyncBytes;
		const handBytesPerChange = handChanges === 0 ? null : Math.round(handBytes / handChanges);
		const allBytesPerChange = handChanges === 0 ? null : Math.round(hostCrowd.bytes / handChanges);
		const bytesPerChangeByLength = host.bytesPerChangeByQueueLength();
		const hostConnected = host.closeCode === undefined && host.connected;
		const transcoderKept = broadcast.activeThroughout;
		const partDelayRatio = ratio(withCrowd.hls.p99Ms, alone.hls.p99Ms);
		const joinAlone = joinSummary(alone.joins);
		const joinCrowd = joinSummary(withCrowd.joins);
		const redisRatio = Math.round((redisAfter.usedMemory / redisBefore.usedMemory) * 1000) / 1000;
		const countOf = (counts: Record<string, number>, status: string): number => Object.entries(counts).reduce((n, [key, count]) => n + (key.split(' ')[0] === status ? count : 0), 0);
		const anonymousAccepted = countOf(creates.anonymous, '201');
		const credentialAccepted = countOf(creates.withCredential, '201');
		const ping = host.pingRtts();

		const result = {
			bots,
			bots_started: botsReport.started,
			bots_joined: botsReport.joined,
			bot_identities: botsReport.identities,
			bots_connected: botsReport.connected,
			bots_peak_in_flight: botsReport.peakInFlight,
			bots_duration_s: round1(botsReport.durationMs / 1000),
			bot_join_refusals: botsReport.joinRefusals,
			bot_close_codes: botsReport.closeCodes,
			hands_raised: botsReport.raised,
			hands_lowered: botsReport.lowered,
			hands_left_raised: botsReport.leftRaised,
			hand_refusals: botsReport.handRefusals,
			bot_timeouts: botsReport.timeouts,
			hand_changes: handChanges,
			host_hand_changes_listed: hostCrowd.handChanges,
			host_hand_resyncs: hostCrowd.resyncs,
			host_hand_resync_bytes: hostCrowd.resyncBytes,
			host_final_queue_length: host.queueLength,
			host_hand_events: hostCrowd.handEvents,
			host_bytes_per_hand_change: handBytesPerChange,
			host_bytes_per_listed_change_by_queue_length: bytesPerChangeByLength,
			host_max_queue_length: host.maxQueueLength,
			host_all_bytes_during_crowd: hostCrowd.bytes,
			host_all_bytes_per_hand_change: allBytesPerChange,
			host_bytes_by_message: host.bytesByMessage,
			host_connected_throughout: hostConnected,
			host_close_code: host.closeCode ?? null,
			host_ping_p50_ms: ping.p50,
			host_ping_p99_ms: ping.p99,
			host_ping_max_ms: ping.max,
			host_ping_failures: host.pingFailures,
			host_state_failures: host.stateFailures,
			listener_join_ms_alone: joinAlone,
			listener_join_ms_crowd: joinCrowd,
			listener_join_p50_ratio: ratio(joinCrowd.p50_ms, joinAlone.p50_ms),
			listener_join_p99_ratio: ratio(joinCrowd.p99_ms, joinAlone.p99_ms),
			listener_join_failures: { alone: alone.joinFailures.length, crowd: withCrowd.joinFailures.length, samples: [...alone.joinFailures, ...withCrowd.joinFailures].slice(0, 3) },
			part_delay_p99_ms_alone: alone.hls.p99Ms ?? null,
			part_delay_p99_ms_crowd: withCrowd.hls.p99Ms ?? null,
			part_delay_p50_ms_alone: alone.hls.p50Ms ?? null,
			part_delay_p50_ms_crowd: withCrowd.hls.p50Ms ?? null,
			part_delay_p99_ratio: partDelayRatio,
			part_delay_p99_ms_calm: calm.p99Ms ?? null,
			part_delay_p99_ratio_to_calm: ratio(withCrowd.hls.p99Ms, calm.p99Ms),
			hls_samples: { alone: alone.hls.samples, crowd: withCrowd.hls.samples, calm: calm.samples },
			hls_errors: { alone: alone.hls.errors, crowd: withCrowd.hls.errors, calm: calm.errors },
			hls_live_syncs: { alone: alone.hls.liveSyncs, crowd: withCrowd.hls.liveSyncs, calm: calm.liveSyncs },
			origin_cores: { alone: alone.hls.originCores ?? null, crowd: withCrowd.hls.originCores ?? null, calm: calm.originCores ?? null },
			broadcast_states: broadcast.states,
			transcoder_kept: transcoderKept,
			creates_anonymous: creates.anonymous,
			creates_with_credential: creates.withCredential,
			creates_accepted: anonymousAccepted + credentialAccepted,
			creates_refused: anonymousCreates + credentials.length * perCredential - anonymousAccepted - credentialAccepted,
			creates_accepted_per_credential: creates.createdPerCredential,
			creates_retry_after: creates.retryAfter,
			host_credentials: credentials.length,
			idle_sockets: idleSockets,
			idle_joined: idle.joined,
			idle_open: idle.open,
			idle_open_at_end: idleFinal.open,
			idle_join_refusals: idle.joinRefusals,
			idle_close_codes: idleFinal.closeCodes,
			redis_used_memory_before: redisBefore.usedMemory,
			redis_used_memory_during_max: redisDuring.usedMemory,
			redis_used_memory_after: redisAfter.usedMemory,
			redis_keys: { before: redisBefore.keys, during_max: redisDuring.keys, after: redisAfter.keys },
			redis_after_ratio: redisRatio,
			redis_after_s: recoveredAfterS,
			redis_key_growth: redisGrowth,
			targets: {
				host_bytes_per_hand_change_le_1kb: handBytesPerChange !== null && handBytesPerChange <= 1024 && Object.values(bytesPerChangeByLength).every((b) => b <= 1024),
				host_connected_throughout: hostConnected,
				part_delay_p99_ratio_le_1_5: partDelayRatio !== null && partDelayRatio <= 1.5,
				redis_within_10pct: redisRatio <= 1.1,
				transcoder_kept: transcoderKept,
				anonymous_creates_refused: anonymousAccepted === 0,
				credential_creates_within_address_limit: credentialAccepted <= createsPerMinPerAddress,
			},
			window_s: windowS,
			hls_listeners: hlsListeners,
			ttl_s: { participant: participantTtlS, hand_lower: handLowerS, unstarted: unstartedTtlS },
			crowd_clients_per_address: perAddress,
			crowd_cores: crowdCores === undefined ? null : Math.round(crowdCores * 100) / 100,
			load_before: loadBefore,
			load_after: loadAverage()[0],
		};
		const out = process.env.TRIBUNE_BENCH_OUT;
		if (out) fs.writeFileSync(out, `${JSON.stringify(result)}\n`);
		console.log(JSON.stringify(result));

		// Sanity: both phases measured, the crowd moved hands.
		expect(alone.hls.samples).toBeGreaterThan(0);
		expect(withCrowd.hls.samples).toBeGreaterThan(0);
		expect(handChanges).toBeGreaterThan(0);
		expect(hostCrowd.handEvents).toBeGreaterThan(0);
		// The structural targets.
		expect(hostConnected, `host closed with ${host.closeCode}`).toBe(true);
		expect(handBytesPerChange).toBeLessThanOrEqual(1024);
		expect(Math.max(...Object.values(bytesPerChangeByLength))).toBeLessThanOrEqual(1024);
		expect(transcoderKept, `broadcast states: ${JSON.stringify(broadcast.states)}`).toBe(true);
	});
});
