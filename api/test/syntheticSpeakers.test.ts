import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asParticipantId, asSpaceId } from '../src/spaces/Space.js';
import { commandOf, descendants } from './support/processes.js';
import { SignalingClient } from './support/SignalingClient.js';
import { createLiveSpace, joinSpace, postJson, startTestNode, type TestNode } from './support/startTestNode.js';

let node: TestNode;
let dir: string;
beforeAll(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-synthetic-'));
	node = await startTestNode(inject('redisUrl'), {}, { syntheticSpeakerDir: dir });
});
afterAll(async () => {
	await node.close();
	fs.rmSync(dir, { recursive: true, force: true });
});

async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

describe('synthetic speakers', () => {
	it('puts a named speaker on stage whose ffmpeg voice reaches the stage, and stops it when demoted', async () => {
		const { spaceId, hostToken } = await createLiveSpace(node);
		const host = await SignalingClient.connect(node.wsUrl, hostToken);
		try {
			const added = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'Robo; rm -rf /', text: 'Hello "world" $(whoami)' }, hostToken);
			expect(added.status).toBe(201);
			const robot = added.body.participant!;
			expect(robot).toMatchObject({ displayName: 'Robo; rm -rf /', role: 'speaker' });
			await host.waitFor('roleChanged', (d) => d.participant.id === robot.id);
			expect((await host.request('getState')).stage.map((p) => p.displayName)).toContain('Robo; rm -rf /');
			const stage = (await node.spaces.stages.find(asSpaceId(spaceId)))!;
			const producer = stage.getPeer(robot.id)!.producers[0]!;
			await until(async () => ((await producer.getStats()).some((s) => s.byteCount > 1000) ? true : undefined), 'RTP from the synthetic speaker');
			await host.request('demote', { participantId: robot.id });
			expect(producer.closed).toBe(true);
			expect(stage.getPeer(robot.id)).toBeUndefined();
		} finally {
			host.close();
		}
	});

	it('refuses a listener who asks for a synthetic speaker', async () => {
		const { spaceId } = await createLiveSpace(node);
		const listener = await joinSpace(node, spaceId, 'L');
		const res = await postJson(`${node.baseUrl}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: 'X', text: 'hi' }, listener.token);
		expect([res.status, res.body.error?.code]).toEqual([403, 'forbidden']);
	});
});

describe('a synthetic conversation', () => {
	const conversation = {
		speakers: [{ displayName: 'Ann' }, { displayName: 'Bob' }, { displayName: 'Cy' }],
		lines: [
			{ speaker: 0, text: 'Hello and welcome.' },
			{ speaker: 1, text: 'Thanks for having me.' },
			{ speaker: 2, text: 'Good evening.' },
		],
		pauseMs: 1000,
	};

	/**
	 * Who is heard, every 250 ms, for `ms`: the speakers whose producer received clearly more Opus in that interval
	 * than it does while silent (its median over the run: each speaker is silent two thirds of the time). ffmpeg sends
	 * no audio-level header extension, so the stage's level observer does not see synthetic speakers; Opus VBR codes
	 * speech at several times the rate of digital silence.
	 */
	async function listen(producers: { id: string; getStats: () => Promise<{ byteCount: number }[]> }[], ms: number): Promise<string[][]> {
		const bytes = async () => Promise.all(producers.map(async (p) => (await p.getStats()).reduce((n, s) => n + s.byteCount, 0)));
		const rates: number[][] = [];
		let last = await bytes();
		for (const end = Date.now() + ms; Date.now() < end;) {
			await new Promise((r) => setTimeout(r, 250));
			const now = await bytes();
			rates.push(now.map((b, i) => ((b - last[i]!) * 8) / 250));
			last = now;
		}
		const silent = producers.map((_, i) => rates.map((r) => r[i]!).sort((a, b) => a - b)[Math.floor(rates.length / 2)]!);
		return rates.map((r) => producers.filter((_, i) => r[i]! > silent[i]! * 2 + 4).map((p) => p.id));
	}

	/** The order turns were taken in: runs of one speaker, collapsed. */
	const turns = (heard: string[][]): string[] => heard.filter((h) => h.length === 1).map((h) => h[0]!).filter((p, i, all) => p !== all[i - 1]);

	it('takes turns in the script order, each with their own loop, never two at once, and a restarted speaker keeps to their turns', async () => {
		const { spaceId, hostId } = await createLiveSpace(node);
		const actor = { spaceId: asSpaceId(spaceId), participantId: asParticipantId(hostId) };
		const added = await node.spaces.synthetic!.addConversation(actor, conversation);
		expect(added.map((p) => [p.displayName, p.role])).toEqual([['Ann', 'speaker'], ['Bob', 'speaker'], ['Cy', 'speaker']]);
		const ids = added.map((p) => p.id as string);
		const stage = (await node.spaces.stages.find(asSpaceId(spaceId)))!;
		const producers = ids.map((id) => stage.getPeer(id)!.producers[0]!);
		const order = (heard: string[][]) => turns(heard).map((producerId) => producers.findIndex((p) => p.id === producerId));
		// Each speaker's ffmpeg plays their own loop (a rotated copy, named after them), so the voices are theirs.
		const senders = () => descendants(process.pid).filter((pid) => commandOf(pid).includes('.now.wav'));
		// On stage at once, silent until the conversation begins a few seconds later (captions get ready meanwhile).
		expect(senders()).toEqual([]);
		await until(async () => (senders().length === 3 ? true : undefined), "the speakers' ffmpeg, started as the conversation begins");

		const expectTurnTaking = (heard: string[][]): void => {
			// Never two at once for two intervals running (half a second): two lines said together last that long, while
			// a sender starved on a busy machine sends what it owes in one burst, which can lift a silent speaker's rate
			// above its threshold for a single interval.
			expect(heard.filter((h, i) => h.length > 1 && (heard[i - 1]?.length ?? 0) > 1)).toEqual([]);
			const taken = order(heard);
			expect(taken.length).toBeGreaterThanOrEqual(4);
			// Everyone speaks (each with their own loop).
			for (const speaker of [0, 1, 2]) expect(taken.filter((t) => t === speaker).length).toBeGreaterThanOrEqual(1);
			// Turns go to the next speaker of the script, round and round: at least two in three hand-overs seen (a random
			// order makes one in two; a burst of a starved sender, seen as one interval of a silent speaker, can add a
			// wrong one).
			const next = taken.slice(1).filter((t, i) => t === (taken[i]! + 1) % 3).length;
			expect(next / (taken.length - 1)).toBeGreaterThanOrEqual(2 / 3);
		};
		const heard = await listen(producers, 16_000);
		console.log(`turns heard: ${order(heard).join(' ')}`);
		expectTurnTaking(heard);

		// Bob's ffmpeg dies: it is started again on the conversation's clock, so Bob comes back in his own turns.
		const bobs = () => senders().filter((pid) => commandOf(pid).includes(`.${ids[1]}.now.wav`));
		const [killed] = bobs();
		expect(killed).toBeDefined();
		process.kill(killed!, 'SIGKILL');
		await until(async () => (bobs().some((pid) => pid !== killed) ? true : undefined), "Bob's ffmpeg started again");
		const after = await listen(producers, 16_000);
		console.log(`turns heard after Bob's restart: ${order(after).join(' ')}`);
		expectTurnTaking(after);
	}, 90_000);

	it('refuses a line for a speaker who is not there, a speaker without a line, and a script longer than a loop may be', async () => {
		const { spaceId, hostId } = await createLiveSpace(node);
		const actor = { spaceId: asSpaceId(spaceId), participantId: asParticipantId(hostId) };
		const synthetic = node.spaces.synthetic!;
		await expect(synthetic.addConversation(actor, { ...conversation, lines: [{ speaker: 3, text: 'hi' }] })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/names speaker 3/) });
		await expect(synthetic.addConversation(actor, { ...conversation, lines: conversation.lines.slice(0, 2) })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/speaker 2 \(Cy\) has no line/) });
		// Four lines of about a minute each (few syntheses: a loaded machine takes seconds per line).
		const long = 'This sentence is long, and said ten times over it takes about a minute to say out loud. '.repeat(10).trim();
		await expect(synthetic.addConversation(actor, { speakers: [{ displayName: 'Long' }], lines: Array.from({ length: 4 }, () => ({ speaker: 0, text: long })), pauseMs: 5000 })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/at most 180 s/) });
		const listener = await joinSpace(node, spaceId, 'L');
		await expect(synthetic.addConversation({ spaceId: asSpaceId(spaceId), participantId: asParticipantId(listener.participantId) }, conversation)).rejects.toMatchObject({ code: 'forbidden' });
	}, 60_000);
});
