import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptionSession, connectRedis, normaliseWords, PocketsphinxEngine, StageLinkClient, wordErrorRate, type CaptionCue, type StageLinkSnapshot } from '@tribune/transcoder';
import pino from 'pino';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { turnTakingWavs } from '../../transcoder/test/captions/support/turnTakingWavs.js';
import { StageLinkServer } from '../src/stageLink/StageLinkServer.js';
import { useWavStage } from './support/wavStage.js';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
/** The recogniser runs as compiled JavaScript in a child process (npx tsc -b transcoder). */
const recogniserScript = fileURLToPath(new URL('../../transcoder/dist/captions/pocketsphinxChild.js', import.meta.url));

const lines = [
	{ text: 'Welcome back to the show, it is great to have you here with us again.', voice: 'slt' as const },
	{ text: 'Please raise your hand if you want to say something.', voice: 'rms' as const },
];

describe('CaptionSession: per-speaker recognition from the stage', () => {
	const stage = useWavStage('space-cap', 'tribune-captions-session-', logger);

	it('captions each speaker under their name while the mode is on, survives a crashed decoder and recogniser, and stops when the mode goes off', { timeout: 120_000 }, async () => {
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-cap' ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const { parts } = turnTakingWavs(path.join(stage.dir, 'wav'), lines);
		const ada = await stage.produce(parts[0]!.wav, 100);
		const bob = await stage.produce(parts[1]!.wav, 200);
		const speakers: StageLinkSnapshot['speakers'] = [
			{ peerId: 'ada', name: 'Ada <Lovelace>', audioProducerId: ada.id, muted: false },
			{ peerId: 'bob', name: 'Bob', audioProducerId: bob.id, muted: false },
		];
		const snapshot = (version: number, captionMode: StageLinkSnapshot['captionMode']): StageLinkSnapshot => ({ spaceId: 'space-cap', node: 'node-1', version, speakers, pinned: [], captionMode });
		await server.publishSnapshot(snapshot(1, 'off'));

		const cues: CaptionCue[] = [];
		const session = await CaptionSession.start({
			spaceId: 'space-cap',
			link: client,
			sessionId: 'cap-1',
			createEngine: (_, engineLogger) => new PocketsphinxEngine({ childScript: recogniserScript, logger: engineLogger }),
			onCue: (cue) => cues.push(cue),
			workDir: path.join(stage.dir, 'work'),
			logger,
		});
		try {
			await session.settled();
			expect(session.captioners.size).toBe(0);
			expect(server.sessions).toEqual({});

			await server.publishSnapshot(snapshot(2, 'sidecar'));
			await expect.poll(() => session.captioners.size, { timeout: 20_000 }).toBe(2);
			expect(server.sessions).toEqual({ 'cap-1': 2 });

			// Both speakers finish a turn: finals under their names, each close to its line.
			const finalOf = (name: string) => cues.filter((c) => c.final && c.speakerName === name);
			await expect.poll(() => finalOf('Ada <Lovelace>').length > 0 && finalOf('Bob').length > 0, { timeout: 40_000, interval: 200 }).toBe(true);
			const textOf = (name: string) => finalOf(name).map((c) => c.text).join(' ');
			expect(wordErrorRate([{ reference: lines[0]!.text, hypothesis: textOf('Ada <Lovelace>') }])).toBeLessThan(0.5);
			expect(wordErrorRate([{ reference: lines[1]!.text, hypothesis: textOf('Bob') }])).toBeLessThan(0.5);
			for (const cue of cues) {
				expect(cue).toMatchObject({ spaceId: 'space-cap', source: 'asr' });
				expect(cue.endMs).toBeGreaterThanOrEqual(cue.startMs);
				expect(Math.abs(cue.startMs - Date.now())).toBeLessThan(60_000);
			}
			// Partials came first, sharing the id of their final.
			const final = finalOf('Bob')[0]!;
			expect(cues.some((c) => !c.final && c.id === final.id)).toBe(true);

			// Ada's decoder and recogniser crash (kill -9): both come back, and her next turn is captioned.
			const ada = session.captioners.get('ada')!;
			const engine = ada.engine as PocketsphinxEngine;
			const [decoderPid, recogniserPid] = [ada.decoderPid!, engine.recogniserPid!];
			process.kill(decoderPid, 'SIGKILL');
			process.kill(recogniserPid, 'SIGKILL');
			const killedAt = Date.now();
			await expect.poll(() => ada.decoderPid !== undefined && ada.decoderPid !== decoderPid, { timeout: 20_000 }).toBe(true);
			await expect.poll(() => engine.restarts, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
			await expect.poll(() => finalOf('Ada <Lovelace>').some((c) => c.startMs > killedAt), { timeout: 40_000, interval: 200 }).toBe(true);
			expect(session.captioners.get('ada')).toBe(ada);
			expect(server.sessions).toEqual({ 'cap-1': 2 });

			await server.publishSnapshot(snapshot(3, 'off'));
			await expect.poll(() => session.captioners.size, { timeout: 10_000 }).toBe(0);
			await expect.poll(() => server.sessions['cap-1'] ?? 0, { timeout: 10_000 }).toBe(0);
		} finally {
			await session.close();
			await client.close();
			server.close();
			redis.disconnect();
		}
	});
});

/**
 * One speaker saying two long lines in turn, looped: a line (6–7 s) outlasts a recogniser's start (a second or so), so
 * new words given as a line begins find the old recogniser mid-utterance when the new one is ready. Each line's
 * distinctive words are ones the general model gets right in it.
 */
const monologue = [
	{
		text: 'The committee will publish the final report on renewable energy and public transport before the end of next month.',
		voice: 'slt' as const,
		distinctive: ['committee', 'publish', 'report', 'renewable', 'energy', 'public', 'transport', 'month'],
	},
	{
		text: 'Our guest tonight is a painter who travelled across seven countries to study the history of mountain villages.',
		voice: 'slt' as const,
		distinctive: ['guest', 'tonight', 'painter', 'across', 'seven', 'countries', 'study', 'history', 'mountain', 'villages'],
	},
];
const newWords = { words: ['renewable', 'villages'], title: '', description: '' };
/** A recogniser's cues share the prefix of their ids (`SpeakerCaptioner`: `<recogniser>-<utterance>`). */
const recogniserOf = (cue: CaptionCue): string => cue.id.slice(0, cue.id.lastIndexOf('-'));
/** The monologue line a caption is (most) of; a caption with no distinctive word is of neither. */
const lineOf = (text: string): (typeof monologue)[number] => {
	const heard = normaliseWords(text);
	const hits = monologue.map((line) => line.distinctive.filter((word) => heard.includes(word)).length);
	if (hits[0] === hits[1]) throw new Error(`"${text}" is of neither line`);
	return monologue[hits[0]! > hits[1]! ? 0 : 1]!;
};

/**
 * Captions that together should say `lines` once each: every distinctive word of them said once (one missing allowed,
 * a recogniser's usual misrecognition; none twice), and as many words as the lines ±1.
 */
function expectSaidOnce(texts: readonly string[], lines: readonly (typeof monologue)[number][], context: string): void {
	const heard = normaliseWords(texts.join(' '));
	const counts = Object.fromEntries(lines.flatMap((line) => line.distinctive).map((word) => [word, heard.filter((w) => w === word).length]));
	const said = `${JSON.stringify(texts)}: ${JSON.stringify(counts)}\n${context}`;
	expect(Object.values(counts).filter((n) => n > 1), `a word shown twice in ${said}`).toEqual([]);
	expect(Object.values(counts).filter((n) => n === 0).length, `words lost in ${said}`).toBeLessThanOrEqual(1);
	expect(Math.abs(heard.length - normaliseWords(lines.map((line) => line.text).join(' ')).length), `word count of ${said}`).toBeLessThanOrEqual(1);
}

interface LogLine {
	msg: string;
	at: number;
	[field: string]: unknown;
}

describe('CaptionSession: new words replace a speaker’s recogniser make-before-break', () => {
	const stage = useWavStage('space-handover', 'tribune-captions-handover-', logger);
	let wav: string;
	beforeAll(() => {
		const dir = path.join(stage.dir, 'wav');
		const { parts } = turnTakingWavs(dir, monologue, 1);
		// One speaker: the two turns' WAVs (each silent in the other's turn) mixed, after 2 s more of silence, so a
		// recogniser started with the sender (a second or two) hears the first line from its start.
		wav = path.join(dir, 'monologue.wav');
		execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', parts[0]!.wav, '-i', parts[1]!.wav, '-filter_complex', 'amix=inputs=2:normalize=0,adelay=2000:all=1', '-c:a', 'pcm_s16le', wav]);
	});
	let ssrc = 300;

	/**
	 * The monologue's speaker, starting now, and a caption session of theirs with real PocketSphinx recognisers; the
	 * first `failingReplacements` replacements get a model directory with no model in it (their recogniser fails to
	 * load). Collects the cues, the session's logs, and when each engine was created and first fed audio (when its
	 * captioner heard the speaker).
	 */
	async function monologueSession(sessionId: string, options: { handOverMaxMs?: number; retryMs?: number; failingReplacements?: number } = {}) {
		const { failingReplacements = 0, ...sessionOptions } = options;
		const redis = connectRedis(inject('redisUrl'), 'test');
		const prefix = `test-${randomUUID()}`;
		const server = await StageLinkServer.start({ redis, prefix, node: 'node-1', host: { routerFor: (id) => (id === 'space-handover' ? stage.router : undefined) }, logger });
		const client = await StageLinkClient.create(redis, prefix);
		const producer = await stage.produce(wav, ssrc++);
		const speakers = [{ peerId: 'ada', name: 'Ada', audioProducerId: producer.id, muted: false }];
		await server.publishSnapshot({ spaceId: 'space-handover', node: 'node-1', version: 1, speakers, pinned: [], captionMode: 'sidecar' });
		const t0 = Date.now();
		const cues: (CaptionCue & { at: number })[] = [];
		const logs: LogLine[] = [];
		const engines: { createdAt: number; heardAt?: number; failing: boolean }[] = [];
		const onCue = new Set<() => void>();
		// The session's captioner of the speaker when each line was logged.
		const captionerAt = new Map<LogLine, unknown>();
		const started: { session?: CaptionSession } = {};
		const sessionLogger = pino({ level: 'info', base: undefined, timestamp: false }, {
			write: (json: string) => {
				const line = { ...(JSON.parse(json) as LogLine), at: Date.now() };
				logs.push(line);
				captionerAt.set(line, started.session?.captioners.get('ada'));
			},
		});
		const session = await CaptionSession.start({
			spaceId: 'space-handover',
			link: client,
			sessionId,
			createEngine: (_, engineLogger) => {
				const failing = engines.length >= 1 && engines.length <= failingReplacements;
				const engine = new PocketsphinxEngine({ childScript: recogniserScript, logger: engineLogger, decoder: failing ? { hmmDir: stage.dir } : {} });
				const entry: (typeof engines)[number] = { createdAt: Date.now(), failing };
				const feed = engine.feed.bind(engine);
				engine.feed = (samples) => {
					entry.heardAt ??= Date.now();
					feed(samples);
				};
				engines.push(entry);
				return engine;
			},
			onCue: (cue) => {
				cues.push({ ...cue, at: Date.now() });
				for (const wake of onCue) wake();
			},
			workDir: path.join(stage.dir, sessionId),
			logger: sessionLogger,
			...sessionOptions,
		});
		started.session = session;
		const at = (ms: number | undefined): string => (ms === undefined ? '-' : `${((ms - t0) / 1000).toFixed(2)}s`);
		/** Cues, logs and engines in order, for failure messages. */
		const timeline = (): string =>
			[
				...cues.map((c) => ({ at: c.at, text: `@${at(c.at)} ${c.final ? 'final  ' : 'partial'} ${recogniserOf(c)} [${at(c.startMs)}–${at(c.endMs)}] ${c.text}` })),
				...logs.map(({ msg, at: loggedAt, level: _level, ...fields }) => ({ at: loggedAt, text: `@${at(loggedAt)} log ${msg} ${JSON.stringify(fields)}` })),
				...engines.flatMap((e, i) => [
					{ at: e.createdAt, text: `@${at(e.createdAt)} engine ${i} created${e.failing ? ' (no model)' : ''}` },
					...(e.heardAt ? [{ at: e.heardAt, text: `@${at(e.heardAt)} engine ${i} heard the speaker` }] : []),
				]),
			]
				.sort((a, b) => a.at - b.at)
				.map((l) => l.text)
				.join('\n');
		/** Resolves with the first cue `probe` accepts as soon as it is published (to act on it before the next). */
		const cue = (what: string, probe: (cue: CaptionCue) => boolean, timeoutMs: number): Promise<CaptionCue> =>
			new Promise((resolve, reject) => {
				const stop = (): void => {
					clearTimeout(timer);
					onCue.delete(wake);
				};
				const wake = (): void => {
					const found = cues.find(probe);
					if (!found) return;
					stop();
					resolve(found);
				};
				const timer = setTimeout(() => {
					stop();
					reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${timeline()}`));
				}, timeoutMs);
				onCue.add(wake);
				wake();
			});
		/**
		 * The first partial of an utterance the speaker's first recogniser heard from its start, a line beginning (usually
		 * the first): it heard silence before (an utterance begun just after its first audio may be a line's rest, begun
		 * at a pause between words).
		 */
		const lineBegins = (): Promise<CaptionCue> =>
			cue('a line heard from its start', (c) => !c.final && engines[0]?.heardAt !== undefined && c.startMs > engines[0].heardAt + 500, 25_000);
		const log = (msg: string): LogLine[] => logs.filter((l) => l.msg === msg);
		/** Resolves once `count` lines `msg` were logged. */
		const logged = async (msg: string, count: number, timeoutMs: number): Promise<LogLine[]> => {
			const deadline = Date.now() + timeoutMs;
			while (log(msg).length < count) {
				if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} × '${msg}'\n${timeline()}`);
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
			return log(msg);
		};
		const close = async (): Promise<void> => {
			await session.close();
			await client.close();
			server.close();
			redis.disconnect();
		};
		/** The speaker's consumers in the session (one per running captioner). */
		const consumers = (): number => server.sessions[sessionId] ?? 0;
		return { session, cues, log, logged, captionerAt, engines, timeline, cue, lineBegins, consumers, close };
	}

	it("ready mid-line, the new recogniser waits for the old one's final of that line, then captions from the next line on: nothing cut, shown twice or lost", { timeout: 60_000 }, async () => {
		const s = await monologueSession('handover-mid-line');
		try {
			const begins = await s.lineBegins();
			s.session.setVocabulary(newWords);
			const old = recogniserOf(begins);
			const first = await s.cue("the new recogniser's first final", (c) => c.final && recogniserOf(c) !== old, 30_000);
			const timeline = s.timeline();
			const oldLast = s.cues.filter((c) => c.final && recogniserOf(c) === old).at(-1)!;
			const successorHeardAt = s.engines[1]!.heardAt!;

			// The path: the new recogniser heard the speaker before the old one's line ended (by more than a word: a busy
			// machine's model load may take most of the line); the old one captioned that line to its end (its last final),
			// and the new one took over there.
			expect(oldLast.id, timeline).toBe(begins.id);
			expect(successorHeardAt, timeline).toBeGreaterThan(oldLast.startMs);
			expect(successorHeardAt, timeline).toBeLessThan(oldLast.endMs - 300);
			expect(s.log('replaced captioner still in an utterance; taking over at its cut'), timeline).toEqual([]);
			expect(s.log('captioning speaker').at(-1)?.tookOverAtMs, timeline).toBe(oldLast.endMs);
			await expect.poll(s.consumers, { timeout: 5000 }).toBe(1);

			// The line whole from the old one; nothing of it from the new one (partials included), whose first final is
			// the next line, whole.
			const line = lineOf(oldLast.text);
			expectSaidOnce([oldLast.text], [line], timeline);
			expect(s.cues.filter((c) => recogniserOf(c) === recogniserOf(first) && c.startMs < oldLast.endMs).map((c) => c.text), timeline).toEqual([]);
			const next = monologue.find((l) => l !== line)!;
			expectSaidOnce([first.text], [next], timeline);
		} finally {
			await s.close();
		}
	});

	it("still in its line after handOverMaxMs, the old recogniser is cut there with a final and the new one captions the line's next words", { timeout: 60_000 }, async () => {
		const s = await monologueSession('handover-cut', { handOverMaxMs: 300 });
		try {
			const begins = await s.lineBegins();
			s.session.setVocabulary(newWords);
			const old = recogniserOf(begins);
			const first = await s.cue("the new recogniser's first final", (c) => c.final && recogniserOf(c) !== old, 30_000);
			const timeline = s.timeline();
			const cut = s.cues.filter((c) => c.final && recogniserOf(c) === old).at(-1)!;
			const line = lineOf(`${cut.text} ${first.text}`);

			// The path: the wait for the old one's final ran out mid-line; its final of the line is cut there.
			expect(s.log('replaced captioner still in an utterance; taking over at its cut').map((l) => l.waitedMs), timeline).toEqual([300]);
			expect(cut.id, timeline).toBe(begins.id);
			expect(normaliseWords(cut.text).length, `cut final "${cut.text}"\n${timeline}`).toBeLessThan(normaliseWords(line.text).length - 3);
			expect(s.log('captioning speaker').at(-1)?.tookOverAtMs, timeline).toBe(cut.endMs);
			await expect.poll(s.consumers, { timeout: 5000 }).toBe(1);

			// The new one's first final is the rest of that line: with the cut final, the line once, no word twice or lost.
			expectSaidOnce([cut.text, first.text], [line], timeline);
			// Nothing of the new one before the cut: no partial of the line (begun before it), and its final keeps only
			// words whose middle is after the cut (`resultFrom`), so it starts at most half a word before.
			const successor = s.cues.filter((c) => recogniserOf(c) === recogniserOf(first));
			expect(successor.filter((c) => !c.final && c.startMs < cut.endMs).map((c) => c.text), timeline).toEqual([]);
			expect(first.startMs, timeline).toBeGreaterThan(cut.endMs - 250);
		} finally {
			await s.close();
		}
	});

	it('a replacement whose recogniser fails to load leaves the old one captioning, and is tried again with backoff until one takes over', { timeout: 60_000 }, async () => {
		const s = await monologueSession('handover-failed', { retryMs: 500, failingReplacements: 2 });
		try {
			const begins = await s.lineBegins();
			const original = s.session.captioners.get('ada')!;
			s.session.setVocabulary(newWords);
			const old = recogniserOf(begins);
			const failures = await s.logged('could not caption speaker; trying again', 2, 20_000);
			const tookOver = (await s.logged('captioning speaker', 2, 20_000))[1]!;
			const timeline = s.timeline();

			// Two replacements failed (their recognisers found no model), retried after 0.5 s, then 1 s; the third took over.
			expect(failures.map((l) => l.retryMs), timeline).toEqual([500, 1000]);
			for (const failure of failures) expect((failure.err as { message?: string } | undefined)?.message, timeline).toMatch(/could not load its model/);
			expect(s.engines.map((e) => [e.failing, e.heardAt !== undefined]), timeline).toEqual([[false, true], [true, false], [true, false], [false, true]]);
			// Meanwhile the old one was the speaker's captioner and went on: its final of the line it was in when the first
			// replacement failed came after, whole.
			for (const failure of failures) expect(s.captionerAt.get(failure), timeline).toBe(original);
			const oldFinals = s.cues.filter((c) => c.final && recogniserOf(c) === old);
			const after = oldFinals.filter((c) => c.at > failures[0]!.at);
			expect(after.length, timeline).toBeGreaterThan(0);
			expectSaidOnce([after[0]!.text], [lineOf(after[0]!.text)], timeline);
			// Then the hand-over as usual: from the end of the old one's last final.
			expect(tookOver.tookOverAtMs, timeline).toBe(oldFinals.at(-1)!.endMs);
			expect(s.session.captioners.get('ada'), timeline).not.toBe(original);
			expect(s.cues.filter((c) => recogniserOf(c) !== old && c.startMs < Number(tookOver.tookOverAtMs)).map((c) => c.text), timeline).toEqual([]);
		} finally {
			await s.close();
		}
	});
});
