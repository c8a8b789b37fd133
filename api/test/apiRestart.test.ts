import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalCloseCodes, reconnectDelayMs } from '../../player/src/signaling/reconnectDelay.js';
import type { WireRole } from '../src/signaling/protocol.js';
import { ApiProcess, startCluster } from './support/apiProcess.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, postJson, type TestNode } from './support/startTestNode.js';

/**
 * Fault: the API process dies (SIGKILL) and comes back on the same port. Clients follow the player's rules
 * (player/src/space/useSpaceSession.ts): on a drop that is not final, wait `reconnectDelayMs(attempt)`, rejoin over
 * REST with the newest token (which finds the same participant), open the WebSocket with the token it returns,
 * and read the state. Everyone must be back in the role they had; the times go to stdout (and TRIBUNE_BENCH_OUT).
 */
let cluster: Awaited<ReturnType<typeof startCluster>>;
let api: ApiProcess;
const followers: Follower[] = [];

beforeAll(async () => {
	cluster = await startCluster();
	api = await ApiProcess.start(cluster);
}, 60_000);
afterAll(async () => {
	for (const f of followers) f.stop();
	await api?.kill('SIGTERM');
	await cluster?.stop();
});

/** A participant that reconnects the way the player does. */
class Follower {
	client: SignalingClient | undefined;
	role: WireRole | undefined;
	/** When the last (re)connection finished with a state, epoch ms. */
	readyAt = 0;
	attempts = 0;
	#token: string;
	#stopped = false;
	#timer: NodeJS.Timeout | undefined;

	constructor(
		readonly name: string,
		token: string,
		readonly spaceId: string,
	) {
		this.#token = token;
		followers.push(this);
	}

	async connect(): Promise<void> {
		if (this.#stopped) return;
		try {
			const rejoined = await postJson(`${api.baseUrl}/api/spaces/${this.spaceId}/join`, { displayName: this.name, token: this.#token });
			if (rejoined.status !== 200) throw new Error(`rejoin ${rejoined.status}`);
			this.#token = rejoined.body.token!;
			const client = await SignalingClient.connect(api.wsUrl, this.#token);
			this.client = client;
			client.socket.on('message', (raw) => {
				const m = JSON.parse(String(raw)) as { event?: string; data?: { token?: string } };
				if (m.event === 'tokenRenewed' && m.data?.token) this.#token = m.data.token;
			});
			client.socket.once('close', (code) => {
				if (!(Object.values(finalCloseCodes) as number[]).includes(code)) this.#schedule();
			});
			this.role = (await client.request('getState')).you.role;
			this.readyAt = Date.now();
			this.attempts = 0;
		} catch {
			this.#schedule();
		}
	}

	stop(): void {
		this.#stopped = true;
		clearTimeout(this.#timer);
		this.client?.close();
	}

	#schedule(): void {
		if (this.#stopped) return;
		clearTimeout(this.#timer);
		this.#timer = setTimeout(() => void this.connect(), reconnectDelayMs(this.attempts++));
	}
}

const rest = () => ({ baseUrl: api.baseUrl }) as TestNode;

describe('fault: the API process restarts', () => {
	it('the host, a speaker and 20 listeners reconnect by themselves and resume their roles', async () => {
		const { spaceId, hostId, hostToken } = await createLiveSpace(rest());
		const host = new Follower('Hana Host', hostToken, spaceId);
		await host.connect();
		const lee = await joinSpace(rest(), spaceId, 'Lee');
		const leeAsListener = await SignalingClient.connect(api.wsUrl, lee.token);
		await leeAsListener.request('raiseHand');
		await host.client!.request('approveHand', { participantId: lee.participantId });
		const speakerToken = (await leeAsListener.waitFor('tokenRenewed')).token;
		leeAsListener.close();
		const speaker = new Follower('Lee', speakerToken, spaceId);
		await speaker.connect();
		const listeners = await Promise.all(Array.from({ length: 20 }, async (_, i) => new Follower(`L${i}`, (await joinSpace(rest(), spaceId, `L${i}`)).token, spaceId)));
		await Promise.all(listeners.map((l) => l.connect()));
		const everyone = [host, speaker, ...listeners];
		expect(everyone.map((f) => f.role)).toEqual(['host', 'speaker', ...listeners.map(() => 'listener')]);
		await host.client!.waitFor('tick', (d) => d.listenerCount === 20);
		await host.client!.request('pin', { participantId: lee.participantId });

		const killedAt = Date.now();
		await api.kill('SIGKILL');
		await api.restart(60_000);
		const upMs = Date.now() - killedAt;
		const back = () => everyone.every((f) => f.readyAt > killedAt);
		const deadline = Date.now() + 60_000;
		while (!back() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
		expect(everyone.filter((f) => f.readyAt <= killedAt).map((f) => f.name)).toEqual([]);
		const reconnectMs = everyone.map((f) => f.readyAt - killedAt).sort((a, b) => a - b);

		// Same people, same roles, the stage as it was; the speaker can publish on the new process's stage.
		expect(everyone.map((f) => f.role)).toEqual(['host', 'speaker', ...listeners.map(() => 'listener')]);
		const state = await host.client!.request('getState');
		expect(state.stage.map((p) => p.id).sort()).toEqual([hostId, lee.participantId].sort());
		expect(state.pinned).toEqual([lee.participantId]);
		expect((await speaker.client!.request('createTransport', { direction: 'send' })).id).toBeTruthy();
		// The dead process's listener count expires from the tally; then the total is right again.
		await host.client!.waitFor('tick', (d) => d.listenerCount === 20, 40_000).catch(async () => {
			expect((await host.client!.request('getState')).listenerCount).toBe(20);
		});
		const countRightMs = Date.now() - killedAt;

		const result = {
			clients: everyone.length,
			api_up_ms: upMs,
			reconnect_p50_ms: reconnectMs[Math.floor(reconnectMs.length / 2)],
			reconnect_max_ms: reconnectMs.at(-1),
			listener_count_right_ms: countRightMs,
		};
		console.log(JSON.stringify(result));
		if (process.env.TRIBUNE_BENCH_OUT) fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify(result)}\n`);
	}, 180_000);
});
